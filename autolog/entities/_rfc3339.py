"""RFC 3339 timestamps as protobuf's JSON writes and reads them (MLflow's trace and assessment JSON)."""

from __future__ import annotations

import calendar
import datetime
import re

__all__ = ["ms_to_rfc3339", "rfc3339_to_ms"]

_EPOCH = datetime.datetime(1970, 1, 1)
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))$")


def ms_to_rfc3339(ms: int) -> str:
    """Like protobuf's ``Timestamp.ToJsonString`` for a millisecond value (no fraction when it is 0)."""
    seconds, millis = divmod(int(ms), 1000)
    text = (_EPOCH + datetime.timedelta(seconds=seconds)).isoformat()
    return f"{text}Z" if millis == 0 else f"{text}.{millis:03d}Z"


def rfc3339_to_ms(text: str) -> int:
    """Like protobuf's ``Timestamp.FromJsonString`` then ``ToMilliseconds`` (truncates to the millisecond)."""
    match = _RFC3339.match(text.strip())
    if match is None:  # anything else ISO-like
        return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds += -offset if sign == "+" else offset
    nanos = int((frac or "").ljust(9, "0"))
    return seconds * 1000 + nanos // 1_000_000
