"""Scenario 11: team scale (issue 21): autolog's SQLite store beside its PostgreSQL store, and OTLP export.

1. Ingest: 1 and 8 processes at once, each tracing traces of 10 spans through the public API
   (``autolog.configure(uri)``, ``@autolog.trace``) and ending with ``autolog.flush()`` (asserted True);
   spans/s is every process's spans over the time from the first process's first call to the last
   process's flush. Afterwards the store must hold each submitted trace id exactly once with its 10
   spans (each process writes the ids it was given to a file; the parent compares).
2. Search over 1,000,000 traces: the same rows inserted into a SQLite store and a PostgreSQL store
   (SQL ``executemany`` / ``COPY`` into autolog's own schema, after the store created it; the tracing
   path is measured by 1.), then the same filter strings through ``Client.search_traces(max_results=100,
   include_spans=False)``, median and p95. The SQL alone (``store.search_trace_ids``) is timed too, and
   PostgreSQL's plan (``EXPLAIN ANALYZE``) is kept for every filter that misses the target.
3. OTLP: ``bench/bench_otlp.py`` run as it is (throughput to a loopback receiver, caller's cost).

PostgreSQL is a throw-away server (``tests/store/pg_server.py``: initdb in a temporary directory, a
loopback port, fsync off). ``--quick`` is a smoke run (small sizes), not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import HERE, REPO, emit, table

sys.path.insert(0, str(REPO))  # tests.store.pg_server: the same throw-away server the store's tests use
# Children import autolog from this checkout (an export of a commit, say), not from wherever it is installed.
CHILD_ENV = {**os.environ, "PYTHONPATH": str(REPO)}

SPANS_PER_TRACE = 10
INGEST_TARGET = 50_000  # spans/s from 8 processes into PostgreSQL (issue 21)
SEARCH_TARGET_MS = 50.0
FILTERS = [
    None,
    "tags.environment = 'prod'",
    "execution_time_ms > 2000",
    "status = 'ERROR'",
    "feedback.helpful = 'true'",
    "trace.text LIKE '%refund%'",
    "span.name = 'retrieve'",
    "tags.environment = 'prod' AND status = 'ERROR'",
    # Values on few or no traces: their matches are collected from an index, not looked for along the time index.
    "tags.environment = 'canary'",
    "feedback.helpful = 'unsure'",
    # A phrase in one trace: every span is read, unless PostgreSQL has the opt-in text index (timed again below).
    "trace.text LIKE '%Customer 123456 asks%'",
]
TEXT_FILTERS = [f for f in FILTERS if f and f.startswith("trace.text")]


# -- 1. ingest ---------------------------------------------------------------------------------------------
def ingest_child(uri: str, traces: int, ids_path: str) -> None:
    """One writing process: connect, say ready, wait for the parent's go, trace, flush, report."""
    import autolog

    client = autolog.configure(uri)
    client.count_traces()  # the pool (or SQLite file) opened and the schema checked before the timed window

    @autolog.trace
    def step(i: int) -> int:
        return i

    @autolog.trace
    def request(i: int) -> int:
        return sum(step(j) for j in range(SPANS_PER_TRACE - 1))

    print("ready", flush=True)
    sys.stdin.readline()  # every process starts together
    ids = []
    cpu = time.process_time()
    start = time.time()
    for i in range(traces):
        request(i)
        ids.append(autolog.get_last_active_trace_id())
    app_end = time.time()
    flushed = autolog.flush(900)
    end = time.time()
    cpu = time.process_time() - cpu
    assert flushed, f"flush() returned False: {autolog.stats()}"
    Path(ids_path).write_text("\n".join(ids))
    print(json.dumps({"start": start, "app_end": app_end, "end": end, "cpu_s": cpu, "stats": autolog.stats()}),
          flush=True)


# Where the machine's CPU went during an ingest: the writing processes (their own process_time), the PostgreSQL
# server (the postmaster with its reaped backends, and its live children), and everything else (other people's
# work on this shared machine), from /proc. With 2 cores, that decides whether the writers or the database are
# the limit.
_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every process of the machine has spent (user + system + irq), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def postgres_cpu_s(data_dir: Path | None) -> float:
    """CPU seconds of the PostgreSQL server: its postmaster (with the backends it reaped) and live children."""
    if data_dir is None:
        return 0.0
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process exited meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(v) for v in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def stored_span_counts(uri: str) -> list[tuple[str, int]]:
    """(trace id, spans) of every stored trace named 'request', read with plain SQL (not autolog's reads)."""
    sql = ("SELECT t.trace_id, (SELECT COUNT(*) FROM spans s WHERE s.trace_id = t.trace_id) FROM traces t"
           " WHERE t.name = 'request'")
    if uri.startswith("sqlite:///"):
        with sqlite3.connect(uri[len("sqlite:///"):]) as conn:
            return [(r[0], int(r[1])) for r in conn.execute(sql)]
    import psycopg

    with psycopg.connect(uri) as conn:
        return [(r[0], int(r[1])) for r in conn.execute(sql)]


def ingest(uri: str, processes: int, traces: int, workdir: Path, pg_data: Path | None) -> dict[str, Any]:
    from autolog._store.stores import open_store

    store = open_store(uri)
    store.count_traces()  # create the schema here, so that no process's timed window includes the migration
    if hasattr(store, "close"):
        store.close()
    children = []
    for n in range(processes):
        ids_path = workdir / f"ids-{processes}-{n}.txt"
        proc = subprocess.Popen([sys.executable, str(Path(__file__)), "--ingest-child", uri, str(traces),
                                 str(ids_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                cwd=str(REPO), env=CHILD_ENV)
        children.append((proc, ids_path))
    for proc, _ in children:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"an ingest process did not start: {line!r} (exit {proc.wait()})")
    busy, pg_cpu = machine_busy_s(), postgres_cpu_s(pg_data)
    for proc, _ in children:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports, submitted = [], []
    for proc, ids_path in children:
        out, _ = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"an ingest process failed (exit {proc.returncode}); see its stderr above")
        reports.append(json.loads(out.strip().splitlines()[-1]))
        submitted.extend(ids_path.read_text().split("\n"))
    time.sleep(0.5)  # the backends of the closed connections exit and are reaped: their CPU lands in the postmaster's
    busy, pg_cpu = machine_busy_s() - busy, postgres_cpu_s(pg_data) - pg_cpu
    writers_cpu = sum(r["cpu_s"] for r in reports)
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    stored = stored_span_counts(uri)
    stored_ids = [t for t, _ in stored]
    complete = [t for t, spans in stored if spans == SPANS_PER_TRACE]
    result = {"processes": processes, "traces_per_process": traces, "traces": len(submitted), "wall_s": wall,
              "spans_per_s": len(submitted) * SPANS_PER_TRACE / wall,
              "app_thread_s_max": max(r["app_end"] - r["start"] for r in reports),
              "submitted_distinct": len(set(submitted)), "stored": len(stored_ids),
              "stored_distinct": len(set(stored_ids)), "stored_with_all_spans": len(complete),
              "missing": len(set(submitted) - set(stored_ids)), "unexpected": len(set(stored_ids) - set(submitted)),
              "spooled": sum(r["stats"].get("spooled", 0) for r in reports),
              "dropped": sum(r["stats"].get("dropped", 0) for r in reports),
              "export_retries": sum(r["stats"].get("export_retries", 0) for r in reports),
              # CPU seconds over the run (which is ``wall_s`` plus the writers' start-up and exit, and 0.5 s):
              "cpu_s": {"writers": writers_cpu, "postgres": pg_cpu,
                        "everything_else": max(0.0, busy - writers_cpu - pg_cpu)},
              "writers_cpu_us_per_span": writers_cpu / (len(submitted) * SPANS_PER_TRACE) * 1e6,
              "postgres_cpu_us_per_span": pg_cpu / (len(submitted) * SPANS_PER_TRACE) * 1e6}
    result["exactly_once"] = (result["submitted_distinct"] == result["traces"] == result["stored"]
                              == result["stored_distinct"] == result["stored_with_all_spans"]
                              and not result["missing"] and not result["unexpected"])
    return result


# -- 2. search ---------------------------------------------------------------------------------------------
TRACE_COLUMNS = ("trace_id", "experiment_id", "name", "request_time", "execution_duration", "state", "model_id",
                 "token_usage", "input_tokens", "output_tokens", "total_tokens", "cost", "request_preview",
                 "response_preview")
SPAN_COLUMNS = ("trace_id", "span_id", "parent_id", "name", "span_type", "status", "start_time_ns", "end_time_ns",
                "content")
ASSESSMENT_COLUMNS = ("assessment_id", "trace_id", "name", "kind", "value", "source_type", "create_time_ms",
                      "last_update_time_ms")
TOPICS = ("shipping", "password reset", "invoice", "opening hours", "an order's status")


def rows(size: int, model_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``size`` traces, as bench_compare.fill makes them, plus spans: a root span 'agent' whose
    inputs/outputs are the trace's question and answer (1 in 50 about a refund), and a child span 'retrieve'
    on 1 in 10 traces. The same rows go into both stores."""
    rng = random.Random(0)
    out: dict[str, list[tuple[Any, ...]]] = {"traces": [], "spans": [], "trace_tags": [], "assessments": []}
    for i in range(size):
        trace_id = f"tr-{i:032x}"
        input_tokens, output_tokens = rng.randint(10, 500), rng.randint(5, 200)
        usage = json.dumps({"input_tokens": input_tokens, "output_tokens": output_tokens,
                            "total_tokens": input_tokens + output_tokens})
        duration = rng.randint(50, 3000)
        state = "ERROR" if rng.random() < 0.03 else "OK"
        topic = "a refund" if i % 50 == 7 else TOPICS[i % len(TOPICS)]
        question = json.dumps({"question": f"Customer {i} asks about {topic}."})
        answer = json.dumps({"answer": f"Here is what I found about {topic}."})
        start_ms = 1_700_000_000_000 + i
        out["traces"].append((trace_id, "0", "agent", start_ms, duration, state, model_ids[i % 2], usage,
                              input_tokens, output_tokens, input_tokens + output_tokens,
                              input_tokens * 1.5e-7 + output_tokens * 6e-7, question, answer))
        root = f"{i:016x}"
        content = (f'{{"inputs":{question},"outputs":{answer},"attributes":{{}},"events":[],'
                   '"status_message":""}')
        out["spans"].append((trace_id, root, None, "agent", "AGENT", state, start_ms * 1_000_000,
                             (start_ms + duration) * 1_000_000, content))
        if i % 10 == 3:
            out["spans"].append((trace_id, f"{i:015x}r", root, "retrieve", "RETRIEVER", "OK",
                                 start_ms * 1_000_000 + 1_000, start_ms * 1_000_000 + 2_000_000,
                                 '{"inputs":{"query": "docs"},"outputs":{"documents": []},"attributes":{},'
                                 '"events":[],"status_message":""}'))
        if i % 10 == 0:
            out["trace_tags"].append((trace_id, "environment", "prod" if i % 20 else "staging"))
        if i % 5 == 0:
            out["assessments"].append((f"a-{i:032x}", trace_id, "helpful", "feedback",
                                       "true" if rng.random() < 0.7 else "false", "LLM_JUDGE", 0, 0))
    return out


_COLUMNS = {"traces": TRACE_COLUMNS, "spans": SPAN_COLUMNS, "trace_tags": ("trace_id", "key", "value"),
            "assessments": ASSESSMENT_COLUMNS}


def versions(uri: str) -> list[str]:
    """Two versions (logged models) made through the API, so that the stores hold real ones."""
    import autolog

    client = autolog.Client(uri)
    ids = [client.create_external_model(name=f"bot-v{i + 1}").model_id for i in range(2)]
    client.flush()
    return ids


def fill_sqlite(path: Path, data: dict[str, list[tuple[Any, ...]]]) -> float:
    start = time.perf_counter()
    with sqlite3.connect(path) as conn:
        for name, values in data.items():
            columns = _COLUMNS[name]
            conn.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             values)
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - start


def fill_postgres(uri: str, sqlite_path: Path, data: dict[str, list[tuple[Any, ...]]]) -> float:
    """The same rows into PostgreSQL with COPY, after the store created its schema; the versions copied from
    the SQLite store (same ids)."""
    import psycopg

    from autolog._store.postgres import PostgresStore

    start = time.perf_counter()
    store = PostgresStore(uri)
    store.count_traces()  # creates the schema
    store.close()
    with sqlite3.connect(sqlite_path) as src, psycopg.connect(uri) as conn:
        for name in ("logged_models", "logged_model_tags", "logged_model_params", "logged_model_metrics"):
            cursor = src.execute(f"SELECT * FROM {name}")
            columns = ", ".join(c[0] for c in cursor.description)
            with conn.cursor().copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in cursor:
                    copy.write_row(row)
        for name, values in data.items():
            with conn.cursor().copy(f"COPY {name} ({', '.join(_COLUMNS[name])}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
    with psycopg.connect(uri, autocommit=True) as conn:
        # What autovacuum does to a table this size within a minute or so: statistics, and the visibility map
        # that index-only scans need.
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


def timed(fn: Any, repeats: int) -> tuple[float, float, Any]:
    fn()  # warm: the pages read once, the statement prepared
    samples, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))], result


def search(uri: str, repeats: int, filters: list[str | None] = FILTERS) -> dict[str, Any]:
    """Median and p95 ms of each filter, through the Client (what users call) and the store's SQL alone. A filter
    the store fails on is reported with its error, not timed."""
    import autolog
    from autolog._errors import StoreError

    client = autolog.Client(uri)
    store = client._store
    out: dict[str, Any] = {}
    for f in filters:
        try:
            p50, p95, found = timed(lambda f=f: len(client.search_traces(filter_string=f, max_results=100,
                                                                         include_spans=False)), repeats)
            sql_p50, sql_p95, _ = timed(lambda f=f: store.search_trace_ids(None, f, None, 100), repeats)
        except StoreError as exc:
            out[f or "(no filter)"] = {"error": str(exc)}
            continue
        out[f or "(no filter)"] = {"p50_ms": p50, "p95_ms": p95, "sql_p50_ms": sql_p50, "sql_p95_ms": sql_p95,
                                   "found": found}
    return out


# PostgreSQL 15 refuses a subtransaction (the EXCEPTION block of autolog_jsonb) in parallel mode, so a query whose
# plan goes parallel and calls autolog_jsonb fails, although the function says PARALLEL SAFE. Declaring it
# PARALLEL UNSAFE (the fix this bench suggests) keeps such queries serial; applied to the bench's database only,
# to time what the filters would take with it.
JSONB_PARALLEL_UNSAFE = """CREATE OR REPLACE FUNCTION autolog_jsonb(doc text) RETURNS jsonb LANGUAGE plpgsql
    IMMUTABLE PARALLEL UNSAFE AS $$
    BEGIN
        RETURN doc::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$"""


def explain(uri: str, filter_string: str | None) -> str:
    """PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of the query the store sends for this filter."""
    from autolog._errors import StoreError
    from autolog._store import pg_io
    from autolog._store.postgres import PostgresStore

    store = PostgresStore(uri)
    sent: list[tuple[str, Any]] = []
    original = pg_io.PgConnection.execute

    def recording(self: Any, sql: str, parameters: Any = None) -> Any:
        sent.append((sql, parameters))
        return original(self, sql, parameters)

    pg_io.PgConnection.execute = recording  # type: ignore[method-assign]
    try:
        store.search_trace_ids(None, filter_string, None, 100)
    except StoreError as exc:  # the query was recorded before it failed; its plan says why
        failure = f"(the search fails: {exc})\n"
    else:
        failure = ""
    finally:
        pg_io.PgConnection.execute = original  # type: ignore[method-assign]
    sql, parameters = next((s, p) for s, p in reversed(sent) if s.startswith("SELECT t.trace_id"))
    try:
        with store.connections.session("explaining") as conn:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, parameters).fetchall())
    except StoreError as exc:
        with store.connections.session("explaining") as conn:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, parameters).fetchall())
        plan = f"EXPLAIN ANALYZE failed ({exc}); the plan:\n{plan}"
    store.close()
    return failure + plan


# -- 3. OTLP -----------------------------------------------------------------------------------------------
def otlp(traces: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE / "bench_otlp.py"), str(traces)], capture_output=True,
                         text=True, cwd=str(REPO), timeout=1800, env=CHILD_ENV)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- main --------------------------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--ingest-child", nargs=3, metavar=("URI", "TRACES", "IDS_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="+", choices=("ingest", "search", "otlp"), default=["ingest", "search", "otlp"])
    args = parser.parse_args()
    if args.ingest_child:
        uri, traces, ids_path = args.ingest_child
        ingest_child(uri, int(traces), ids_path)
        return
    from tests.store.pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL's initdb and pg_ctl are not installed (apt-get install -y postgresql)")
    per_process = 250 if args.quick else 2_500  # 8 x 2,500 traces of 10 spans: 200,000 spans, ~5-10 s of writes
    single = 1_000 if args.quick else 10_000
    size = 20_000 if args.quick else 1_000_000
    repeats = 5 if args.quick else 20
    server = PgServer(bindir)
    results: dict[str, Any] = {"scenario": "team", "quick": args.quick}
    try:
        server.start()
        results["postgresql"] = server_settings(server)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if "ingest" in args.only:
                results["ingest"] = {}
                for backend in ("sqlite", "postgres"):
                    for processes in (1, 8):
                        uri = (f"sqlite:///{workdir / f'ingest-{processes}.db'}" if backend == "sqlite"
                               else server.uri(server.create_database()))
                        traces = single if processes == 1 else per_process
                        r = ingest(uri, processes, traces, workdir,
                                   server.data if backend == "postgres" else None)
                        results["ingest"][f"{backend}:{processes}"] = r
                        print(f"ingest {backend} x{processes}: {r['spans_per_s']:,.0f} spans/s, exactly once:"
                              f" {r['exactly_once']}, CPU µs/span writers {r['writers_cpu_us_per_span']:.1f},"
                              f" PostgreSQL {r['postgres_cpu_us_per_span']:.1f}; {r['cpu_s']}", flush=True)
            if "search" in args.only:
                path = workdir / "search.db"
                data = rows(size, versions(f"sqlite:///{path}"))
                fill_s = fill_sqlite(path, data)
                pg_uri = server.uri(server.create_database())
                pg_fill_s = fill_postgres(pg_uri, path, data)
                del data
                print(f"filled {size:,} traces: SQLite {fill_s:.0f} s, PostgreSQL {pg_fill_s:.0f} s", flush=True)
                sq, pg = search(f"sqlite:///{path}", repeats), search(pg_uri, repeats)
                plans = {k: explain(pg_uri, None if k == "(no filter)" else k)
                         for k, v in pg.items() if "error" in v or v["p50_ms"] > SEARCH_TARGET_MS}
                failed: list[str | None] = [None if k == "(no filter)" else k for k, v in pg.items() if "error" in v]
                fixed: dict[str, Any] = {}
                if failed:
                    import psycopg

                    with psycopg.connect(pg_uri, autocommit=True) as conn:
                        conn.execute(JSONB_PARALLEL_UNSAFE)
                    fixed = search(pg_uri, repeats, failed)
                    plans.update({f"{k} (autolog_jsonb PARALLEL UNSAFE)": explain(pg_uri, k) for k in failed
                                  if k is not None})
                from autolog._store.postgres import PostgresStore

                text_store = PostgresStore(pg_uri)
                start = time.perf_counter()
                text_store.set_text_index()  # autolog db text-index
                text_index_s = time.perf_counter() - start
                text_store.close()
                indexed = search(pg_uri, repeats, list(TEXT_FILTERS))
                results["search"] = {"traces": size, "fill_s": {"sqlite": fill_s, "postgres": pg_fill_s},
                                     "sqlite": sq, "postgres": pg, "postgres_autolog_jsonb_parallel_unsafe": fixed,
                                     "postgres_text_index": indexed, "text_index_build_s": text_index_s,
                                     "postgres_plans": plans}
    finally:
        server.cleanup()
    if "otlp" in args.only:
        results["otlp"] = otlp(2_000 if args.quick else 20_000)
    print_table(results)
    emit(results, args.json)


def server_settings(server: Any) -> dict[str, str]:
    """The test server's version and the settings that move these figures (tests/store/pg_server.py sets some)."""
    import psycopg

    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "work_mem",
             "jit", "max_parallel_workers_per_gather", "random_page_cost")
    with psycopg.connect(server.uri("postgres")) as conn:
        return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


def print_table(results: dict[str, Any]) -> None:
    rows_: list[list[str]] = []
    ing = results.get("ingest", {})
    for processes in (1, 8):
        sq, pg = ing.get(f"sqlite:{processes}"), ing.get(f"postgres:{processes}")
        if sq and pg:
            target = f">= {INGEST_TARGET:,}" if processes == 8 else "-"
            met = ("yes" if pg["spans_per_s"] >= INGEST_TARGET else "no") if processes == 8 else ""
            once = "" if sq["exactly_once"] and pg["exactly_once"] else " (NOT exactly once)"
            rows_.append([f"ingest spans/s, {processes} process{'es' if processes > 1 else ''}{once}",
                          fmt(sq["spans_per_s"], 0), fmt(pg["spans_per_s"], 0), target, met])
    srch = results.get("search")
    if srch:
        def cell(r: dict[str, Any]) -> str:
            return "ERROR" if "error" in r else f"{fmt(r['p50_ms'])} / {fmt(r['p95_ms'])}"

        def ok(r: dict[str, Any]) -> bool:
            return "error" not in r and r["p50_ms"] <= SEARCH_TARGET_MS

        for key, sq in srch["sqlite"].items():
            pg = srch["postgres"][key]
            fixed = srch.get("postgres_autolog_jsonb_parallel_unsafe", {}).get(key)
            indexed = srch.get("postgres_text_index", {}).get(key)
            pg_cell = (cell(pg) + (f" ({cell(fixed)} with autolog_jsonb PARALLEL UNSAFE)" if fixed else "")
                       + (f" ({cell(indexed)} with the text index)" if indexed else ""))
            met = "yes" if ok(sq) and ok(pg) else ("no (both)" if not ok(sq) and not ok(pg) else
                                                   "no (PostgreSQL)" if ok(sq) else "no (SQLite)")
            found = sq.get("found", "?")
            rows_.append([f"search p50 / p95 ms, {key} ({found} found)", cell(sq), pg_cell,
                          f"<= {SEARCH_TARGET_MS:.0f}", met])
    o = results.get("otlp")
    if o and "error" not in o:
        only, both, store = o["OTLP only (local_store=False)"], o["store + OTLP"], o["store only"]
        # bench_otlp.py's local store is SQLite; OTLP itself does not depend on the store's backend.
        rows_.append(["OTLP delivered traces/s: store only / OTLP only / store + OTLP",
                      f"{store['delivered_traces_per_s']:,.0f} / {only['delivered_traces_per_s']:,.0f} / "
                      f"{both['delivered_traces_per_s']:,.0f}", "-", "-", ""])
        rows_.append(["OTLP caller µs/call: store only / OTLP only / store + OTLP",
                      f"{store['caller_us_per_call']:.1f} / {only['caller_us_per_call']:.1f} / "
                      f"{both['caller_us_per_call']:.1f}", "-", "-", ""])
    elif o:
        rows_.append(["OTLP", o["error"][:60], "", "", ""])
    print(table(rows_, ["scenario", "autolog SQLite", "autolog PostgreSQL", "target", "met?"]))


if __name__ == "__main__":
    main()
