"""Context isolation: threads and asyncio tasks never see each other's spans."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import autolog
from tests.trees import span_tree


def test_16_threads_x_100_nested_traces_no_cross_talk() -> None:
    @autolog.trace
    def leaf(worker: int, i: int) -> str:
        return f"{worker}-{i}"

    @autolog.trace
    def middle(worker: int, i: int) -> str:
        return leaf(worker, i)

    @autolog.trace
    def request(worker: int, i: int) -> str:
        autolog.update_current_trace(tags={"worker": str(worker), "i": str(i)})
        with autolog.start_span("step") as span:
            span.set_inputs({"worker": worker})
        return middle(worker, i)

    barrier = threading.Barrier(16)

    def run(worker: int) -> None:
        barrier.wait()
        for i in range(100):
            assert request(worker, i) == f"{worker}-{i}"
            assert autolog.get_current_active_span() is None

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(run, range(16)))

    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 1600
    seen = set()
    for t in traces:
        worker, i = int(t.info.tags["worker"]), int(t.info.tags["i"])
        seen.add((worker, i))
        assert span_tree(t, ("name", "inputs", "outputs")) == [
            ("request", {"worker": worker, "i": i}, f"{worker}-{i}", [
                ("step", {"worker": worker}, None, []),
                ("middle", {"worker": worker, "i": i}, f"{worker}-{i}", [
                    ("leaf", {"worker": worker, "i": i}, f"{worker}-{i}", []),
                ]),
            ]),
        ]
        assert {s.trace_id for s in t.data.spans} == {t.info.trace_id}
    assert len(seen) == 1600


async def test_400_concurrent_asyncio_tasks_no_cross_talk() -> None:
    @autolog.trace
    async def tool(task: int, step: int) -> int:
        await asyncio.sleep(0)
        return task * 10 + step

    @autolog.trace
    async def agent(task: int) -> list[int]:
        autolog.update_current_trace(tags={"task": str(task)})
        first = await tool(task, 0)
        # Subtasks created inside the span inherit it as their parent.
        rest = await asyncio.gather(*(tool(task, s) for s in (1, 2)))
        return [first, *rest]

    results = await asyncio.gather(*(agent(n) for n in range(400)))
    assert results == [[n * 10, n * 10 + 1, n * 10 + 2] for n in range(400)]
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 400
    for t in traces:
        n = int(t.info.tags["task"])
        tree = span_tree(t, ("name", "outputs"))
        assert tree[0][:2] == ("agent", [n * 10, n * 10 + 1, n * 10 + 2])
        assert sorted(tree[0][2]) == [("tool", n * 10, []), ("tool", n * 10 + 1, []), ("tool", n * 10 + 2, [])]


def test_new_thread_does_not_inherit_the_callers_span() -> None:
    seen: list[object] = []

    @autolog.trace
    def parent() -> None:
        thread = threading.Thread(target=lambda: seen.append(autolog.get_current_active_span()))
        thread.start()
        thread.join()

    parent()
    assert seen == [None]
