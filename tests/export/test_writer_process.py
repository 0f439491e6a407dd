"""The writer process (``AUTOLOG_EXPORT_PROCESS=1``): the same stored traces, and nothing lost when either side dies."""

from __future__ import annotations

import array
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import autolog
from autolog._export.encode import shared_metadata_set_id, trace_to_record
from autolog._export.snapshot import record_of_snapshot, snapshot_of
from autolog._export.writer_link import WriterProcessExporter
from autolog._tracing.metadata import process_metadata
from tests.trees import span_tree

REPO = Path(__file__).resolve().parents[2]
CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi!"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
TREE_FIELDS = ("name", "span_type", "status", "inputs", "outputs", "usage", "model")


def _openai_client() -> openai.OpenAI:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=CHAT))
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=transport))


def _app(n: int, big: str = "") -> None:
    """Traces of every kind the pipeline meets: integration calls, nested spans, errors, events, cut content."""
    client = _openai_client()

    @autolog.trace(span_type="AGENT")
    def agent(question: str) -> str:
        with autolog.start_span("lookup", span_type="RETRIEVER") as span:
            span.set_inputs({"query": question, "big": big})
            span.set_outputs([{"page_content": "doc", "metadata": {"id": 1}}])
            span.add_event("cache miss")
        autolog.update_current_trace(tags={"env": "test"}, metadata={"user": "u1"})
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content or ""

    @autolog.trace
    def failing() -> None:
        raise ValueError("boom")

    for i in range(n):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}])
        agent(f"question {i}")
    with pytest.raises(ValueError):
        failing()


def _stored(client: autolog.Client) -> list[Any]:
    traces = client.search_traces(max_results=1000, order_by=["timestamp_ms ASC"])
    return [(t.info.state, t.info.request_preview, t.info.response_preview, t.info.token_usage, t.info.tags.get("env"),
             t.info.trace_metadata.get("mlflow.trace.cost"), span_tree(t, TREE_FIELDS)) for t in traces]


@pytest.fixture
def in_writer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A client whose store is written by a writer process."""
    monkeypatch.setenv("AUTOLOG_EXPORT_PROCESS", "1")
    client = autolog.configure(f"sqlite:///{tmp_path / 'writer.db'}", schedule_delay_millis=20)
    monkeypatch.delenv("AUTOLOG_EXPORT_PROCESS")
    yield client
    client.shutdown()


def _exporter(client: autolog.Client) -> WriterProcessExporter:
    exporter = client._pipeline.exporter
    assert isinstance(exporter, WriterProcessExporter)
    return exporter


def test_a_snapshot_encodes_to_the_record_encoded_in_process(store: autolog.Client) -> None:
    traces: list[Any] = []
    store._enqueue = traces.append  # keep the finished traces instead of exporting them
    autolog.openai()
    try:
        _app(3, big="x" * 300)
    finally:
        autolog.openai(disable=True)
    assert len(traces) == 7
    metadata, set_id = process_metadata(), shared_metadata_set_id()
    for max_chars in (None, 200):  # 200: the retriever's inputs are cut
        for trace in traces:
            snapshot, _ = snapshot_of(trace, max_chars)
            assert record_of_snapshot(snapshot, metadata, set_id) == trace_to_record(trace, metadata, max_chars, set_id)


def test_the_writer_stores_what_the_application_process_stores(store: autolog.Client, in_writer: Any,
                                                                tmp_path: Path) -> None:
    autolog.openai()
    try:
        _app(5)
        assert in_writer.flush(30)
        here = autolog.configure(f"sqlite:///{tmp_path / 'here.db'}", schedule_delay_millis=20)
        _app(5)
        assert here.flush(30)
    finally:
        autolog.openai(disable=True)
    written = _stored(in_writer)
    assert len(written) == 11
    assert written == _stored(here)
    assert _exporter(in_writer).started == 1
    here.shutdown()


def test_a_killed_writer_loses_nothing(store: autolog.Client, in_writer: Any) -> None:
    autolog.openai()
    try:
        _app(3)
        assert in_writer.flush(30)
        exporter = _exporter(in_writer)
        process = exporter._process
        assert process is not None and exporter.started == 1
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        _app(3)  # its batch finds the writer dead: written by this process
        assert in_writer.flush(30)
        exporter._next_start = 0.0  # the restart delay passed
        _app(2)  # a new writer
        assert in_writer.flush(30)
    finally:
        autolog.openai(disable=True)
    assert exporter.started == 2
    stats = autolog.stats()
    assert (stats["dropped"], stats["spooled"], stats["quarantined"]) == (0, 0, 0)
    assert len(_stored(in_writer)) == 7 + 7 + 5


def test_an_attribute_marshal_cannot_send_is_written_in_process(store: autolog.Client, in_writer: Any) -> None:
    class Opaque:
        pass

    with autolog.start_span("odd") as span:
        span.set_attribute("thing", Opaque())
    with autolog.start_span("plain") as span:
        span.set_attribute("n", 1)
        span.set_attribute("ints", array.array("i", [1, 2]))  # marshal would send its buffer as bytes
    assert in_writer.flush(30)
    stored = {t.data.spans[0].name: t.data.spans[0].attributes for t in in_writer.search_traces()}
    assert "Opaque object at" in stored["odd"]["thing"] and stored["plain"]["n"] == 1  # as in-process
    assert stored["plain"]["ints"] == [1, 2]
    assert _exporter(in_writer).started == 1  # the plain one went to the writer


_KILLED_PARENT = textwrap.dedent("""
    import os, signal, sys
    os.environ["AUTOLOG_EXPORT_PROCESS"] = "1"
    import autolog
    from autolog._export import writer_link

    client = autolog.configure(sys.argv[1])
    for i in range(3):
        with autolog.start_span(f"warm-{i}"):
            pass
    assert client.flush(30)
    sent = writer_link.write_frame

    def send_then_die(out, payload):
        sent(out, payload)
        if len(payload) > 10_000:  # the batch of 300: the parent dies before the writer answers
            print(client._pipeline.exporter._process.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    writer_link.write_frame = send_then_die
    for i in range(300):
        with autolog.start_span(f"span-{i}") as span:
            span.set_inputs({"i": i})
    client.flush(30)
""")


def test_a_parent_killed_after_sending_loses_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'killed.db'}"
    out = subprocess.run([sys.executable, "-c", _KILLED_PARENT, uri], capture_output=True, text=True, timeout=120,
                         cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == -signal.SIGKILL, out.stderr
    writer_pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _alive(writer_pid) and time.monotonic() < deadline:  # it writes the batch, sees its stdin close, exits
        time.sleep(0.05)
    assert not _alive(writer_pid)
    reader = autolog.Client(uri)
    try:
        names = {t.data.spans[0].name for t in reader.search_traces(max_results=1000)}
    finally:
        reader.shutdown()
    assert names == {f"warm-{i}" for i in range(3)} | {f"span-{i}" for i in range(300)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_forked_child_starts_its_own_writer(store: autolog.Client, in_writer: Any) -> None:
    with autolog.start_span("before-fork"):
        pass
    assert in_writer.flush(30)
    parent_writer = _exporter(in_writer)._process
    pid = os.fork()
    if pid == 0:  # the child: its traces go through a writer of its own
        code = 1
        try:
            with autolog.start_span("in-child"):
                pass
            exporter = _exporter(in_writer)
            flushed = in_writer.flush(30)
            if flushed and exporter._process is not None and exporter._process is not parent_writer:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with autolog.start_span("after-fork"):
        pass
    assert in_writer.flush(30)
    assert _exporter(in_writer)._process is parent_writer  # the parent's writer still serves it
    names = {t.data.spans[0].name for t in in_writer.search_traces()}
    assert names == {"before-fork", "in-child", "after-fork"}
