"""autolog → OTLP → autolog: a trace exported over OTLP and ingested by autolog's own ``POST /v1/traces`` is the same.

The sender exports to its store and to the app's endpoint (served by uvicorn over a second
store); the trace read back from each store is compared whole: info, tags, metadata, spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from tests.serving import Served


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[tuple[str, autolog.Client]]:
    from autolog._server.app import create_app

    receiving = autolog.Client(f"sqlite:///{tmp_path / 'received.db'}")
    with Served(create_app(receiving.tracking_uri)) as served:
        yield f"{served.url}/v1/traces", receiving
    receiving.shutdown(5)


def _whole(trace: autolog.Trace) -> dict[str, Any]:
    info = trace.info
    return {"trace_id": info.trace_id, "state": str(info.state), "request_time": info.request_time,
            "execution_duration": info.execution_duration, "tags": info.tags, "metadata": info.trace_metadata,
            "spans": sorted([{"span_id": s.span_id, "parent_id": s.parent_id, "name": s.name, "type": s.span_type,
                              "start": s.start_time_ns, "end": s.end_time_ns, "status": s.status.status_code,
                              "inputs": s.inputs, "outputs": s.outputs,
                              "attributes": {k: v for k, v in s.attributes.items() if not k.startswith("gen_ai.")},
                              "events": [(e.name, e.attributes) for e in s.events]} for s in trace.data.spans],
                            key=lambda s: s["span_id"])}


def test_a_trace_survives_the_round_trip(tmp_path: Path, ingest: tuple[str, autolog.Client]) -> None:
    url, receiving = ingest
    sender = autolog.configure(f"sqlite:///{tmp_path / 'sent.db'}", schedule_delay_millis=20, otlp_endpoint=url)
    try:
        model = autolog.set_active_model(name="rt-v1")
        with autolog.start_span("agent", span_type="AGENT") as root:
            root.set_inputs({"question": "Hi"})
            autolog.update_current_trace(tags={"env": "prod"}, metadata={"deploy": "blue"}, session_id="s-9",
                                         user="ada")
            with autolog.start_span("chat", span_type="CHAT_MODEL") as chat:
                chat.set_inputs({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
                chat.set_attributes({"mlflow.chat.tokenUsage": {"input_tokens": 7, "output_tokens": 1,
                                                                "total_tokens": 8}, "mlflow.llm.model": "gpt-4o-mini"})
                chat.set_outputs({"choices": [{"message": {"role": "assistant", "content": "Hello"}}]})
            with pytest.raises(KeyError), autolog.start_span("tool", span_type="TOOL"):
                raise KeyError("sku")
            root.set_outputs("Hello")
        trace_id = autolog.get_last_active_trace_id()
        assert trace_id is not None
        assert sender.flush(15)
        sent = _whole(sender.get_trace(trace_id))
        received = _whole(receiving.get_trace(trace_id))
        assert received["metadata"]["mlflow.modelId"] == model.model_id
        # What the receiver adds about the sender's process (its OTLP resource), kept as otel.* metadata.
        added = {k: received["metadata"].pop(k) for k in list(received["metadata"]) if k.startswith("otel.")}
        assert added["otel.service.name"] == "unknown_service"
        # The receiver keeps what OTLP told it beyond MLflow's attributes: span kind and scope (otel.*), the
        # provider (gen_ai.provider.name, which the sender derived) as mlflow.llm.provider.
        for span in received["spans"]:
            for key in [k for k in span["attributes"] if k.startswith("otel.")]:
                del span["attributes"][key]
        chat = next(span for span in received["spans"] if span["name"] == "chat")
        assert chat["attributes"].pop("mlflow.llm.provider") == "openai"
        # session.id/user.id are OTel's own span attributes too: the receiver keeps them on the root span.
        root = next(span for span in received["spans"] if span["parent_id"] is None)
        assert (root["attributes"].pop("session.id"), root["attributes"].pop("user.id")) == ("s-9", "ada")
        assert received == sent
    finally:
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)
