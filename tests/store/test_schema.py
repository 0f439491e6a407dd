"""Schema v2: keys every trace carries are columns; v1 stores and v1 spool files still read the same."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import autolog
from autolog._store.schema import MIGRATIONS, SCHEMA_VERSION
from autolog._store.sqlite import SqliteStore

USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
SPAN_CONTENT = json.dumps({"inputs": {"q": "hi"}, "outputs": "yo", "attributes": {}, "events": [],
                           "status_message": ""})
# Derived from the root span on read, as MLflow sets them when the root ends.
IO_METADATA = {"mlflow.traceInputs": '{"q": "hi"}', "mlflow.traceOutputs": '"yo"'}


def _v1_store(path: Path) -> None:
    """A store as autolog wrote it before schema v2: name tag and usage/model metadata as key/value rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO experiments VALUES ('0', 'Default', '{}', 1)")
    for i, (name, model) in enumerate((("agent", "m-1"), ("other", None))):
        tid = f"tr-{i:032x}"
        conn.execute("INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (tid, "0", name, 1000 + i, 5, "OK", None, model, None, "hi", "yo", None))
        conn.execute("INSERT INTO trace_tags VALUES (?,?,?)", (tid, "mlflow.traceName", f"{name}-renamed"))
        conn.execute("INSERT INTO trace_tags VALUES (?,?,?)", (tid, "env", "prod"))
        conn.execute("INSERT INTO trace_metadata VALUES (?,?,?)", (tid, "mlflow.trace.tokenUsage", json.dumps(USAGE)))
        if model:
            conn.execute("INSERT INTO trace_metadata VALUES (?,?,?)", (tid, "mlflow.modelId", model))
        conn.execute("INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?)",
                     (tid, f"{i:016x}", None, name, "CHAIN", "OK", 1, 2, SPAN_CONTENT))
    conn.close()


def test_a_v1_store_is_migrated_and_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_store(path)
    store = SqliteStore(f"sqlite:///{path}")
    assert store.schema_version() == SCHEMA_VERSION == 7
    first = store.get_trace(f"tr-{0:032x}")
    assert first.info.tags == {"mlflow.traceName": "agent-renamed", "env": "prod"}
    assert first.info.trace_metadata == {"mlflow.trace.tokenUsage": json.dumps(USAGE), "mlflow.modelId": "m-1",
                                         **IO_METADATA}
    assert first.info.token_usage == USAGE
    second = store.get_trace(f"tr-{1:032x}")
    assert "mlflow.modelId" not in second.info.trace_metadata
    # The promoted keys left their key/value tables.
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM trace_tags WHERE key = 'mlflow.traceName'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM trace_metadata").fetchone()[0] == 0
    # v4: the counts are integer columns beside the JSON, for SQL sums (compare_versions).
    assert conn.execute("SELECT input_tokens, output_tokens, total_tokens, cost FROM traces ORDER BY trace_id"
                        ).fetchall() == [(3, 4, 7, None), (3, 4, 7, None)]
    conn.close()


@pytest.mark.parametrize(("filter_string", "expected"), [
    ("tags.`mlflow.traceName` = 'agent-renamed'", [0]),
    ("tags.`mlflow.traceName` LIKE '%renamed'", [0, 1]),
    ("tags.`mlflow.traceName` IS NULL", []),
    ("name = 'other-renamed'", [1]),
    ("metadata.`mlflow.modelId` = 'm-1'", [0]),
    ("metadata.`mlflow.modelId` IS NULL", [1]),
    ("metadata.`mlflow.trace.tokenUsage` IS NOT NULL AND tags.env = 'prod'", [0, 1]),
])
def test_filters_on_promoted_keys(tmp_path: Path, filter_string: str, expected: list[int]) -> None:
    path = tmp_path / "v1.db"
    _v1_store(path)
    store = SqliteStore(f"sqlite:///{path}")
    found = store.search_trace_ids(None, filter_string, ["timestamp_ms ASC"], 10)
    assert found == [f"tr-{i:032x}" for i in expected]


def test_trace_name_tag_set_and_deleted_like_any_tag(store: autolog.Client) -> None:
    with autolog.start_span("root"):
        pass
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    assert store.flush()
    assert store.get_trace(trace_id).info.tags == {"mlflow.traceName": "root"}
    autolog.set_trace_tag(trace_id, "mlflow.traceName", "renamed")
    assert [t.info.trace_id for t in autolog.search_traces(
        filter_string="tags.`mlflow.traceName` = 'renamed'", return_type="list")] == [trace_id]
    autolog.delete_trace_tag(trace_id, "mlflow.traceName")
    assert store.get_trace(trace_id).info.tags == {}
    with pytest.raises(autolog.ResourceDoesNotExist, match=r"has no tag 'mlflow\.traceName'"):
        autolog.delete_trace_tag(trace_id, "mlflow.traceName")


def test_update_current_trace_name_tag_is_the_stored_name(store: autolog.Client) -> None:
    with autolog.start_span("root"):
        autolog.update_current_trace(tags={"mlflow.traceName": "custom"})
    trace = autolog.search_traces(filter_string="name = 'custom'", return_type="list")
    assert [t.info.tags["mlflow.traceName"] for t in trace] == ["custom"]
    assert trace[0].data.spans[0].name == "root"


def test_a_v1_spool_file_is_replayed(store: autolog.Client) -> None:
    """Spool lines written before schema v2 (dict records with the set content inline) are stored."""
    db = Path(store.tracking_uri.removeprefix("sqlite:///"))
    spool = Path(str(db) + ".spool")
    spool.mkdir(exist_ok=True)
    line = {"trace_id": "tr-" + "a" * 32, "experiment_id": "0", "name": "old", "request_time": 5,
            "execution_duration": 1, "state": "OK", "client_request_id": None, "model_id": "m-9", "run_id": None,
            "metadata_set": ["set-v1", {"mlflow.user": "ann"}], "request_preview": "q", "response_preview": "a",
            "tags": {"mlflow.traceName": "old", "team": "x"},
            "metadata": {"mlflow.modelId": "m-9", "mlflow.trace.tokenUsage": json.dumps(USAGE)},
            "spans": [["0" * 16, None, "old", "LLM", "OK", 1, 2, SPAN_CONTENT]]}
    (spool / "1-deadbeef.jsonl").write_text(json.dumps(line) + "\n")  # pid 1's lock is free: an orphan
    replayer = autolog.Client(store.tracking_uri)
    assert replayer.flush(30)  # starts its worker, which replays spool files whose process is gone
    deadline = time.monotonic() + 30
    while replayer._store.count_traces() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    trace = replayer.get_trace("tr-" + "a" * 32)
    assert trace.info.tags == {"mlflow.traceName": "old", "team": "x"}
    assert trace.info.trace_metadata == {"mlflow.user": "ann", "mlflow.modelId": "m-9",
                                         "mlflow.trace.tokenUsage": json.dumps(USAGE), **IO_METADATA}
    assert [s.name for s in trace.data.spans] == ["old"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT input_tokens, output_tokens, total_tokens, cost FROM traces").fetchall() == [
        (3, 4, 7, None)]  # the counts come from its usage; it was never priced
    conn.close()
    replayer.shutdown()


def test_a_store_opened_while_another_connection_creates_it_waits_instead_of_failing(tmp_path: Path) -> None:
    # The moment two clients open a new store together: the first has the file, still in
    # rollback-journal mode, and writes to it; the second must switch it to WAL and gets
    # "database is locked" at once from SQLite, whatever the busy timeout.
    path = tmp_path / "new.db"
    creator = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    creator.execute("CREATE TABLE other (x)")
    creator.execute("BEGIN IMMEDIATE")
    creator.execute("INSERT INTO other VALUES (1)")
    finish = threading.Timer(0.3, creator.execute, ("COMMIT",))
    finish.start()
    try:
        reader = SqliteStore(str(path))
        assert reader.count_traces() == 0
        assert reader.schema_version() == SCHEMA_VERSION
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        finish.join()
        creator.close()
