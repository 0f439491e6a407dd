"""OTLP settings from configure() and the standard OTEL_* variables; bad values name the option or variable."""

from __future__ import annotations

from pathlib import Path

import pytest

import autolog
from autolog._export.otlp import retry_after_seconds
from autolog._export.otlp_config import otlp_settings


def test_traces_endpoint_is_used_as_is_and_the_generic_one_gets_v1_traces() -> None:
    assert otlp_settings(environ={}) is None
    only = otlp_settings(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c.example/custom/path"})
    assert only is not None and only.endpoint == "https://c.example/custom/path"
    generic = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert generic is not None and generic.endpoint == "http://collector:4318/v1/traces"
    both = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces"})
    assert both is not None and both.endpoint == "http://b:4318/v1/traces"
    explicit = otlp_settings("http://x:4318", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"})
    assert explicit is not None and explicit.endpoint == "http://x:4318/v1/traces"
    assert otlp_settings("http://x:4318/ingest", environ={}).endpoint == "http://x:4318/ingest"  # type: ignore[union-attr]


def test_headers_service_name_and_resource() -> None:
    settings = otlp_settings(environ={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "ignored=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "Authorization=Bearer%20tok%3D%3D, x-team = ml ,",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=from-resource",
    })
    assert settings is not None
    assert settings.headers == {"Authorization": "Bearer tok==", "x-team": "ml"}
    assert settings.service_name == "from-resource" and settings.resource == {"deployment.environment": "prod"}
    assert settings.gzip and settings.timeout_seconds == 10.0
    named = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "svc",
                                   "OTEL_EXPORTER_OTLP_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
    assert named is not None and named.service_name == "svc" and not named.gzip and named.timeout_seconds == 2.5
    default = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert default is not None and default.service_name == "unknown_service" and default.headers == {}
    given = otlp_settings("http://c:4318", {"k": "v"}, environ={"OTEL_EXPORTER_OTLP_HEADERS": "a=b"})
    assert given is not None and given.headers == {"k": "v"}


@pytest.mark.parametrize(("environ", "named"), [
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "$OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://c/v1/traces"}, "$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
     "$OTEL_EXPORTER_OTLP_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "=v"},
     "$OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
     "$OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
     "$OTEL_EXPORTER_OTLP_COMPRESSION"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "$OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_RESOURCE_ATTRIBUTES": "x"}, "$OTEL_RESOURCE_ATTRIBUTES"),
])
def test_bad_variables_name_themselves(environ: dict[str, str], named: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=f"\\{named}"):
        otlp_settings(environ=environ)


def test_bad_configure_arguments_name_the_option(tmp_path: Path) -> None:
    before = autolog.get_tracking_uri()
    with pytest.raises(autolog.InvalidArgumentError, match="otlp_endpoint"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", otlp_endpoint="localhost:4318")
    with pytest.raises(autolog.InvalidArgumentError, match="otlp_headers"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", otlp_endpoint="http://c:4318",
                          otlp_headers={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(autolog.InvalidArgumentError, match="local_store"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", local_store="no")  # type: ignore[arg-type]
    assert autolog.get_tracking_uri() == before, "a bad option changes nothing"


def test_configure_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: never reached here
    client = autolog.configure(f"sqlite:///{tmp_path / 'env.db'}", schedule_delay_millis=20)
    try:
        assert "http://127.0.0.1:9/v1/traces" in autolog.stats()["destinations"]
    finally:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        client.shutdown(0.1)
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)


def test_retry_after_is_read_and_capped() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("3600") == 60.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 10) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
