"""The PostgreSQL store against a real server: errors that say what is wrong, several processes at once, restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._errors import StoreBusyError, StoreError
from autolog._export.exporter import StoreExporter
from autolog._store.pg_io import StoreUnavailableError
from autolog._store.postgres import COPY_AT_TRACES, PostgresStore
from autolog._store.records import RECORD_FIELDS
from tests.store.pg_server import PASSWORD, PASSWORD_ROLE, PgServer, free_port

REPO = Path(__file__).resolve().parents[2]


def _record(trace_id: str) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(trace_id=trace_id, experiment_id="0", name="r", request_time=1, execution_duration=2, state="OK",
                  tags=(("env", "t"),), metadata=(),
                  spans=(("s1", None, "r", "CHAIN", "OK", 1, 2, '{"inputs": 1}'),))
    return tuple(values[f] for f in RECORD_FIELDS)


def _failure(store: PostgresStore) -> tuple[StoreError, bool]:
    """What a read raises, and whether the export worker would retry a write."""
    with pytest.raises(StoreError) as caught:
        store.count_traces()
    result = StoreExporter(store).export([_record("tr-1")], {})
    assert not result.ok and isinstance(result.error, StoreError)
    store.close()
    return caught.value, result.retryable


def test_a_wrong_password_is_a_clear_error_not_retried(pg_server: PgServer, pg_database: str) -> None:
    error, retryable = _failure(PostgresStore(pg_server.uri(pg_database, PASSWORD_ROLE, "wrong-one")))
    message = str(error)
    assert "rejected the password" in message and f"{PASSWORD_ROLE}:***@127.0.0.1" in message, message
    assert "wrong-one" not in message and not retryable


def test_the_right_password_without_privileges_says_so_then_works_once_granted(pg_server: PgServer,
                                                                               pg_database: str) -> None:
    uri = pg_server.uri(pg_database, PASSWORD_ROLE, PASSWORD)
    error, retryable = _failure(PostgresStore(uri))  # PostgreSQL 15: no CREATE on schema public by default
    assert "refused the privileges" in str(error) and "permission denied" in str(error) and not retryable
    pg_server.sql(f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}", database=pg_database)
    store = PostgresStore(uri)
    assert store.count_traces() == 0 and PASSWORD not in store.uri
    store.close()


def test_an_unreachable_server_is_retryable_and_named(pg_server: PgServer, pg_database: str) -> None:
    port = free_port()  # nothing listens there
    error, retryable = _failure(PostgresStore(pg_server.uri(pg_database, port=port)))
    assert isinstance(error, StoreUnavailableError) and retryable
    assert f"127.0.0.1:{port}/{pg_database}" in str(error) and "cannot be reached" in str(error), str(error)


def test_a_missing_database_is_named(pg_server: PgServer) -> None:
    error, retryable = _failure(PostgresStore(pg_server.uri("no_such_db")))
    assert "has no such database" in str(error) and "no_such_db" in str(error) and not retryable


def test_a_database_of_another_application_is_refused_untouched(pg_server: PgServer, pg_database: str) -> None:
    pg_server.sql("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, lifecycle_stage TEXT)", pg_database)
    pg_server.sql("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY)", pg_database)  # MLflow's own tables
    error, retryable = _failure(PostgresStore(pg_server.uri(pg_database)))
    assert "is not an autolog store" in str(error) and "experiments, runs" in str(error), str(error)
    assert not retryable
    import psycopg  # after pg_server: it skips (or fails, in CI) without psycopg

    with psycopg.connect(pg_server.uri(pg_database)) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"experiments", "runs"}  # nothing created beside them


def test_a_newer_schema_is_refused_as_on_sqlite(pg_uri: str, pg_server: PgServer, pg_database: str) -> None:
    PostgresStore(pg_uri).close()
    store = PostgresStore(pg_uri)
    assert store.schema_version() >= 6
    store.close()
    pg_server.sql("UPDATE schema_version SET version = 999", pg_database)
    with pytest.raises(StoreError, match="has schema version 999, newer than this autolog understands"):
        PostgresStore(pg_uri).count_traces()


def test_batches_written_twice_or_with_a_trace_twice_leave_one_copy(pg_uri: str) -> None:
    store = PostgresStore(pg_uri)
    batch = [_record(f"tr-{i}") for i in range(600)]  # past one INSERT's chunk of rows
    assert store.write_records(batch + batch[:3]) == 600
    store.write_records(batch)
    assert store.count_traces() == 600 and store.count_traces(None, "span.name = 'r'") == 600
    assert isinstance(StoreBusyError("x"), StoreError)  # the serialization-failure kind is a StoreError too
    store.close()


_WRITER = textwrap.dedent("""
    import json, os, sys, time
    import autolog
    from autolog._stats import STATS
    uri, n, start_at, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    time.sleep(max(0.0, start_at - time.time()))  # all processes open the new store together
    client = autolog.configure(uri, schedule_delay_millis=20)
    for i in range(n):
        with autolog.start_span(f"root-{i}") as root:
            with autolog.start_span("child"):
                pass
        if pause:
            time.sleep(pause)
    ok = client.flush(120)
    print(json.dumps({"ok": ok, "stats": STATS.snapshot()}))
""")


def _writers(uri: str, processes: int, traces: int, spool: Path, pause: float = 0.0) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOLOG_SPOOL_DIR": str(spool)}
    start_at = time.time() + 1.5
    return [subprocess.Popen([sys.executable, "-c", _WRITER, uri, str(traces), str(start_at), str(pause)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(processes)]


def _results(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_four_processes_migrate_once_and_store_every_trace_once(pg_uri: str, tmp_path: Path) -> None:
    results = _results(_writers(pg_uri, 4, 300, tmp_path / "spool"))
    assert all(r["ok"] for r in results), results
    store = PostgresStore(pg_uri)
    assert store.count_traces() == 1200
    with store.connections.session("checking") as conn:
        assert conn.execute("SELECT COUNT(DISTINCT trace_id), COUNT(*) FROM spans").fetchone() == (1200, 2400)
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 1
    store.close()


def test_a_server_restart_mid_burst_loses_and_duplicates_nothing(pg_server: PgServer, pg_uri: str,
                                                                 tmp_path: Path) -> None:
    procs = _writers(pg_uri, 2, 400, tmp_path / "spool", pause=0.01)  # about 5 s of traces each
    store = PostgresStore(pg_uri)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the burst has reached the server
        try:
            if store.count_traces() > 50:
                break
        except StoreError:
            pass  # the schema is being created
        time.sleep(0.1)
    store.close()
    # Connections cut, refused for 6 s (longer than the pool waits for one, 5 s), then back.
    pg_server.restart(down_seconds=6.0)
    results = _results(procs)
    assert all(r["ok"] for r in results), results
    store = PostgresStore(pg_uri)
    assert store.count_traces() == 800
    with store.connections.session("checking") as conn:
        assert conn.execute("SELECT COUNT(DISTINCT trace_id), COUNT(*) FROM spans").fetchone() == (800, 1600)
    store.close()
    stats = [r["stats"] for r in results]
    assert all(s["dropped"] == 0 for s in stats), stats
    # The writes that met the restart were retried (or spooled and replayed), never lost.
    assert sum(s["export_retries"] + s["spooled"] for s in stats) > 0, stats


def test_traces_spooled_while_the_server_is_down_are_stored_once_when_it_is_back(pg_server: PgServer,
                                                                                 pg_uri: str) -> None:
    client = autolog.configure(pg_uri, schedule_delay_millis=20)
    with autolog.start_span("before"):
        pass
    assert client.flush(10)
    client._pipeline.retry_timeout_seconds = 1.0  # one wait for a connection (5 s), then the spool
    pg_server.stop("immediate")
    try:
        for i in range(50):
            with autolog.start_span(f"while-down-{i}"):
                pass
        deadline = time.monotonic() + 60
        while autolog.stats()["spooled"] < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert autolog.stats()["spooled"] == 50, autolog.stats()
    finally:
        pg_server.start()
    assert client.flush(60)
    stats = autolog.stats()
    assert stats["replayed"] == 50 and stats["dropped"] == 0, stats
    store = PostgresStore(pg_uri)
    assert store.count_traces() == 51 and store.count_traces(None, "name LIKE 'while-down-%'") == 50
    store.close()


def test_the_client_reads_what_it_wrote_through_postgres(pg_uri: str) -> None:
    client = autolog.configure(pg_uri.replace("postgresql://", "postgresql+psycopg://"), schedule_delay_millis=20)
    with autolog.start_span("root") as root:
        root.set_attributes({"k": 1.5})
    assert client.flush(10)
    trace = autolog.get_trace(root.trace_id)
    assert trace is not None and trace.data.spans[0].attributes["k"] == 1.5
    autolog.set_trace_tag(root.trace_id, "env", "prod")
    found = autolog.search_traces(filter_string="tags.env = 'prod'", return_type="list")
    assert [t.info.trace_id for t in found] == [root.trace_id]
    assert "***" not in client.store.uri and autolog.stats()["destinations"]


def test_a_forked_child_writes_on_its_own_connections_and_leaves_the_parent_s_open(pg_uri: str) -> None:
    client = autolog.configure(pg_uri, schedule_delay_millis=20)
    with autolog.start_span("parent-before"):
        pass
    assert client.flush(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+ warns)
        pid = os.fork()
    if pid == 0:  # child: the parent's pooled connections are detached, never used nor terminated
        code = 1
        try:
            for i in range(5):
                with autolog.start_span(f"child-{i}"):
                    pass
            code = 0 if autolog.flush(30) and client.store.count_traces() == 6 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with autolog.start_span("parent-after"):  # the parent's connections still work
        pass
    assert client.flush(10)
    assert client.store.count_traces() == 7
    assert autolog.stats()["export_retries"] == 0  # no connection of the parent was cut by the child


def test_a_nul_character_is_stored_as_a_replacement_and_a_huge_integer_is_the_record_s_fault(pg_uri: str) -> None:
    store = PostgresStore(pg_uri)
    record = list(_record("tr-nul"))
    record[RECORD_FIELDS.index("tags")] = (("k", "a\x00b"),)
    store.write_records([tuple(record)])
    assert store.get_trace("tr-nul").info.tags["k"] == "a\ufffdb"
    record[RECORD_FIELDS.index("execution_duration")] = 2**70
    result = StoreExporter(store).export([tuple(record)], {})
    assert not result.ok and result.rejected and not result.retryable  # set apart, not retried for ever
    store.close()


# -- batch writes: COPY through staging tables (batches of COPY_AT_TRACES or more), multi-row INSERT below --
def _rich_record(trace_id: str, value: str, spans: int = 3) -> tuple[Any, ...]:
    """A trace with a row in every table a batch writes (the metadata set's row comes with the batch)."""
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(trace_id=trace_id, experiment_id="0", name="r", request_time=1, execution_duration=2, state="OK",
                  metadata_set="set-1", tags=(("env", value),), metadata=(("m", value),),
                  spans=tuple((f"s{j}", None, "r", "CHAIN", "OK", 1, 2, json.dumps({"inputs": value}))
                              for j in range(spans)))
    return tuple(values[f] for f in RECORD_FIELDS)


_TABLES = {"metadata_sets": "set_id, key", "traces": "trace_id", "trace_tags": "trace_id, key",
           "trace_metadata": "trace_id, key", "spans": "trace_id, span_id"}


def _copies(store: PostgresStore) -> dict[str, tuple[int, int]]:
    """Per table: its rows, and its distinct keys."""
    with store.connections.session("counting") as conn:
        return {table: tuple(conn.execute(f"SELECT COUNT(*), COUNT(DISTINCT ({key})) FROM {table}").fetchone())
                for table, key in _TABLES.items()}


def _values(store: PostgresStore) -> set[str]:
    """Every value the tags, metadata and span contents hold."""
    with store.connections.session("reading") as conn:
        rows = conn.execute("SELECT value FROM trace_tags UNION SELECT value FROM trace_metadata"
                            " UNION SELECT content::jsonb ->> 'inputs' FROM spans").fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("traces", [3, COPY_AT_TRACES * 2 + 1], ids=["insert", "copy"])
def test_a_batch_written_twice_leaves_one_copy_in_every_table_and_its_last_write(pg_uri: str, traces: int) -> None:
    store = PostgresStore(pg_uri)
    batch = [_rich_record(f"tr-{i}", "first") for i in range(traces)]
    again = [_rich_record(f"tr-{i}", "again") for i in range(2)]  # twice in one batch: the last one given wins
    assert store.write_records(batch + again, {"set-1": {"a": "1"}}) == traces
    assert _values(store) == {"first", "again"}
    store.write_records([_rich_record(f"tr-{i}", "second") for i in range(traces)], {"set-1": {"a": "2"}})
    expected = {"metadata_sets": 1, "traces": traces, "trace_tags": traces, "trace_metadata": traces,
                "spans": 3 * traces}
    assert _copies(store) == {table: (n, n) for table, n in expected.items()}
    assert _values(store) == {"second"}
    with store.connections.session("reading") as conn:  # a metadata set is shared: never replaced
        assert conn.execute("SELECT value FROM metadata_sets").fetchall() == [("1",)]
    store.close()


def test_a_copied_batch_with_nul_text_or_an_oversize_integer_is_handled_as_an_inserted_one(pg_uri: str) -> None:
    store = PostgresStore(pg_uri)
    batch = [_rich_record(f"tr-{i}", "v") for i in range(COPY_AT_TRACES)]
    oversize = list(batch[5])
    oversize[RECORD_FIELDS.index("execution_duration")] = 2**70
    # first, on a new connection: the failed transaction also made the staging tables, which it takes back
    with pytest.raises(OverflowError):
        store.write_records([*batch[:5], tuple(oversize), *batch[6:]])
    assert _copies(store)["traces"] == (0, 0)
    nul = list(_rich_record("tr-nul", "a\x00b"))
    nul[RECORD_FIELDS.index("name")] = "n\x00"
    nul[RECORD_FIELDS.index("spans")] = (("s0", None, "span\x00", "CHAIN", "OK", 1, 2, "{}"),)
    assert store.write_records([*batch, tuple(nul)]) == COPY_AT_TRACES + 1
    trace = store.get_trace("tr-nul")
    assert trace.info.tags["env"] == "a\ufffdb" and trace.info.tags["mlflow.traceName"] == "n\ufffd"
    assert trace.data.spans[0].name == "span\ufffd"
    assert store.write_records(batch) == COPY_AT_TRACES  # the connections' staging tables work after the failures
    assert _copies(store)["spans"] == (3 * COPY_AT_TRACES + 1,) * 2
    store.close()


@pytest.mark.parametrize("traces", [COPY_AT_TRACES - 1, COPY_AT_TRACES * 2], ids=["insert", "copy"])
def test_writers_of_overlapping_batches_never_deadlock_and_leave_one_copy(pg_uri: str, traces: int) -> None:
    """Each writer upserts the same traces in its own order (the other's reversed): row locks taken in key order
    make one wait for the other; in the batches' orders, the two would deadlock."""
    stores = [PostgresStore(pg_uri) for _ in range(2)]
    rounds = 8
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for r in range(rounds):
                batch = [_rich_record(f"tr-{i}", f"writer-{n}-round-{r}") for i in range(traces)]
                start.wait(30)
                stores[n].write_records(batch if n == 0 else batch[::-1], {"set-1": {"a": str(n)}})
        except BaseException as exc:  # noqa: BLE001 - the test reports what a writer raised
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    expected = {"metadata_sets": 1, "traces": traces, "trace_tags": traces, "trace_metadata": traces,
                "spans": 3 * traces}
    assert _copies(stores[0]) == {table: (n, n) for table, n in expected.items()}
    # every row is the last committed batch's: the later transaction waited for the earlier one, then replaced all
    assert len(_values(stores[0])) == 1 and _values(stores[0]).pop().endswith(f"round-{rounds - 1}")
    for store in stores:
        store.close()
