"""Item 14: trace/span updates never raise from autolog's side into the user's call.

``update_current_trace`` raised when tracing was off or the span could not be recorded
(MLflow logs a warning and returns: so does autolog now); ``span.set_attributes(None)``
raised ``TypeError``; a value whose ``__str__`` raises escaped from tags, metadata and
``set_trace_tag``. Such a value is now stored as a readable stand-in.
"""

from __future__ import annotations

import pytest

import autolog


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_update_current_trace_when_tracing_is_suppressed(caplog: pytest.LogCaptureFixture) -> None:
    from autolog._tracing import current_trace

    current_trace._last_outside_warning[0] = 0.0  # the warning is rate-limited per process
    with autolog.suppress_tracing(), autolog.start_span("s"):
        autolog.update_current_trace(tags={"a": "b"}, user="u")
    assert any("outside of a trace" in r.getMessage() for r in caplog.records)
    assert autolog.flush(5) is True
    assert autolog.search_traces(return_type="list") == []


def test_update_current_trace_when_span_creation_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")
    from autolog._tracing import fluent

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("autolog bug")

    monkeypatch.setattr(fluent, "_new_span", broken)

    @autolog.trace
    def handle() -> str:
        autolog.update_current_trace(tags={"a": "b"})
        return "ok"

    assert handle() == "ok"


def test_set_attributes_none_is_a_no_op_and_a_non_dict_a_clear_error() -> None:
    with autolog.start_span("s") as span:
        span.set_attributes(None)  # type: ignore[arg-type]
        span.set_attributes({"k": 1})
        with pytest.raises(autolog.InvalidArgumentError, match="dict of attributes"):
            span.set_attributes(["k", 1])  # type: ignore[arg-type]
    assert autolog.flush(5) is True
    assert autolog.get_trace(span.trace_id).data.spans[0].attributes["k"] == 1


def test_values_whose_str_raises_are_stored_readably(store: autolog.Client) -> None:
    with autolog.start_span("s") as span:
        autolog.update_current_trace(tags={"t": BadStr()}, metadata={"m": BadStr()}, user=BadStr())  # type: ignore[arg-type]
        # Not an exception: a clear error, as MLflow's (the span and its trace are still stored).
        with pytest.raises(autolog.InvalidArgumentError, match="Exception instance or a string"):
            span.record_exception(BadStr())  # type: ignore[arg-type]
    assert autolog.flush(5) is True
    autolog.set_trace_tag(span.trace_id, "late", BadStr())  # type: ignore[arg-type]
    info = autolog.get_trace(span.trace_id).info
    assert info.tags["t"].endswith(".BadStr object (str failed)>") and info.tags["late"] == info.tags["t"]
    assert info.trace_metadata["m"] == info.tags["t"] and info.trace_metadata["mlflow.trace.user"] == info.tags["t"]


def test_an_exception_whose_str_raises_is_recorded() -> None:
    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    @autolog.trace
    def f() -> None:
        raise Odd()

    with pytest.raises(Odd):
        f()
    assert autolog.flush(5) is True
    span = autolog.get_trace(autolog.get_last_active_trace_id()).data.spans[0]  # type: ignore[arg-type]
    assert span.status.status_code == "ERROR" and "str failed" in span.status.description
