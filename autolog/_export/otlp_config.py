"""Where OTLP export goes: ``configure(otlp_endpoint=..., otlp_headers=...)`` or the standard variables.

Read once, when a Client is made (never per trace), and checked then: a value that cannot
work is an ``InvalidArgumentError`` naming the option or variable, before anything starts.

* endpoint: ``otlp_endpoint`` (a URL; ``/v1/traces`` is added when it has no path), else
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), else ``OTEL_EXPORTER_OTLP_ENDPOINT``
  (``/v1/traces`` appended, as the specification says). None of them: no OTLP export.
* headers: ``otlp_headers`` (a dict), else ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``, else
  ``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``, values URL-decoded).
* ``OTEL_SERVICE_NAME`` (else ``service.name`` of ``OTEL_RESOURCE_ATTRIBUTES``, else
  ``unknown_service``), ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,...``), compression
  (``OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION``: ``gzip``, the default here, or ``none``),
  timeout (``OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT``, milliseconds, default 10000), and
  ``OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL``: ``http/protobuf`` (the default) or ``http/json``
  (OTLP/JSON); ``grpc`` is refused, saying to use OTLP/HTTP (port 4318).
* ``OTEL_SDK_DISABLED=true``: the environment configures no OTLP export (a debug log says so);
  ``otlp_endpoint=`` still does, and the local store is unaffected.

Unlike the specification's "warn and ignore" for an unrecognised enum or boolean value, an
invalid value is an error here: a typo must not silently send traces elsewhere, or nowhere.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from autolog._errors import InvalidArgumentError

__all__ = ["HTTP_JSON", "HTTP_PROTOBUF", "OtlpSettings", "otlp_settings", "parse_pairs", "sdk_disabled", "traces_url"]

TRACES_PATH = "/v1/traces"
HTTP_PROTOBUF, HTTP_JSON = "http/protobuf", "http/json"
_logger = logging.getLogger("autolog")


@dataclass(frozen=True)
class OtlpSettings:
    endpoint: str  # the full URL POSTed to
    headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "unknown_service"
    resource: dict[str, str] = field(default_factory=dict)  # OTEL_RESOURCE_ATTRIBUTES
    gzip: bool = True
    timeout_seconds: float = 10.0
    protocol: str = HTTP_PROTOBUF  # or HTTP_JSON


def parse_pairs(text: str, source: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the W3C baggage-like list of the OTel variables), keys and values URL-decoded."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = urllib.parse.unquote(key.strip())
        if not sep or not key:
            raise InvalidArgumentError(f"{source}: {item.strip()!r} is not a key=value pair (expected k=v,k2=v2)")
        pairs[key] = urllib.parse.unquote(value.strip())
    return pairs


def traces_url(url: str, source: str, append: bool) -> str:
    """``url`` checked (http or https, a host); ``append``: ``/v1/traces`` added to its path."""
    if not isinstance(url, str):
        raise InvalidArgumentError(f"{source} must be an http:// or https:// URL, got {url!r}")
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidArgumentError(f"{source} must be an http:// or https:// URL with a host, got {url!r}")
    if append:
        return urllib.parse.urlunsplit(parsed._replace(path=parsed.path.rstrip("/") + TRACES_PATH))
    return url.strip()


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """The traces-specific variable ``OTEL_EXPORTER_OTLP_TRACES_<name>``, else the generic one: (value, name)."""
    for variable in (f"OTEL_EXPORTER_OTLP_TRACES_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        value = environ.get(variable)
        if value:
            return value, variable
    return None


def sdk_disabled(environ: Mapping[str, str]) -> bool:
    """``OTEL_SDK_DISABLED``: ``true`` (any case) disables; unset, empty or ``false`` do not; else an error."""
    value = environ.get("OTEL_SDK_DISABLED", "").strip()
    if value.lower() not in ("", "true", "false"):
        raise InvalidArgumentError(f"$OTEL_SDK_DISABLED must be true or false, got {value!r}")
    return value.lower() == "true"


def _protocol(environ: Mapping[str, str]) -> str:
    found = _env(environ, "PROTOCOL")
    if not found:
        return HTTP_PROTOBUF
    value, variable = found[0].strip().lower(), found[1]
    if value in (HTTP_PROTOBUF, HTTP_JSON):
        return value
    if value == "grpc":
        raise InvalidArgumentError(
            f"${variable} is {found[0]!r}: autolog does not export OTLP over gRPC. Set it to http/protobuf "
            "(or http/json, or unset it) and point the endpoint at the collector's OTLP/HTTP port (4318, not 4317)")
    raise InvalidArgumentError(f"${variable} must be http/protobuf, http/json or grpc (not supported), "
                               f"got {found[0]!r}")


def otlp_settings(endpoint: str | None = None, headers: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] = os.environ) -> OtlpSettings | None:
    """The OTLP destination the arguments or the environment name, checked; None if none is named."""
    env_endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint is None and env_endpoint and sdk_disabled(environ):
        _logger.debug("autolog: OTEL_SDK_DISABLED=true: no OTLP export to %s (from the OTEL_EXPORTER_OTLP_* "
                      "variables); the local store is unaffected", env_endpoint)
        return None
    if endpoint is not None:
        parsed = urllib.parse.urlsplit(endpoint.strip()) if isinstance(endpoint, str) else None
        url = traces_url(endpoint, "otlp_endpoint", append=parsed is not None and parsed.path in ("", "/"))
    elif (value := environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        url = traces_url(value, "$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", append=False)
    elif (value := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        url = traces_url(value, "$OTEL_EXPORTER_OTLP_ENDPOINT", append=True)
    else:
        return None
    if headers is not None:
        if not isinstance(headers, Mapping) or not all(isinstance(k, str) and k and isinstance(v, str)
                                                       for k, v in headers.items()):
            raise InvalidArgumentError(f"otlp_headers must be a dict of str names to str values, got {headers!r}")
        header_values = dict(headers)
    else:
        found = _env(environ, "HEADERS")
        header_values = parse_pairs(found[0], f"${found[1]}") if found else {}
    resource = parse_pairs(environ.get("OTEL_RESOURCE_ATTRIBUTES", ""), "$OTEL_RESOURCE_ATTRIBUTES")
    service_name = environ.get("OTEL_SERVICE_NAME") or resource.pop("service.name", None) or "unknown_service"
    resource.pop("service.name", None)
    compression = _env(environ, "COMPRESSION")
    if compression and compression[0].strip().lower() not in ("gzip", "none"):
        raise InvalidArgumentError(f"${compression[1]} must be gzip or none, got {compression[0]!r}")
    protocol = _protocol(environ)
    timeout = _env(environ, "TIMEOUT")
    timeout_seconds = 10.0
    if timeout:
        try:
            timeout_seconds = float(timeout[0]) / 1000
        except ValueError:
            timeout_seconds = -1.0
        if not 0 < timeout_seconds < float("inf"):
            raise InvalidArgumentError(f"${timeout[1]} must be a positive number of milliseconds, got {timeout[0]!r}")
    return OtlpSettings(url, header_values, service_name, resource,
                        gzip=not compression or compression[0].strip().lower() == "gzip",
                        timeout_seconds=timeout_seconds, protocol=protocol)
