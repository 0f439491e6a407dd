"""Scenario 7: evaluating a version, autolog's ``genai.evaluate`` beside MLflow's on the same data and scorers.

1,000 rows; ``predict_fn`` a traced function with two child spans (a retriever and an LLM
step, no I/O); three code scorers (exact match, length, a keyword check). Each peer in its
own interpreter with a fresh SQLite store, 10 prediction workers. The figure is the time
``evaluate`` adds over calling the plain (untraced) function 1,000 times, everything
stored at the end (autolog: ``evaluate`` returns after its traces and feedback are stored).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from _common import HERE, emit, main_args, run_peer, table


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"inputs": {"question": f"what is item {i}?"}, "expectations": {"expected_response": f"ANSWER {i}"}}
            for i in range(n)]


def _plain(question: str) -> str:
    docs = [question, "context"]
    return f"ANSWER {question.split()[-1].rstrip('?')}" if docs else ""


def measure(peer: str, n: int) -> dict[str, Any]:
    os.environ["MLFLOW_GENAI_EVAL_MAX_WORKERS"] = os.environ["AUTOLOG_GENAI_EVAL_MAX_WORKERS"] = "10"
    data = _rows(n)
    start = time.perf_counter()
    for row in data:
        _plain(**row["inputs"])
    plain_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as workdir:
        if peer == "autolog":
            import autolog as lib
            from autolog.genai import scorer

            lib.configure(f"sqlite:///{workdir}/a.db")
        else:
            import mlflow as lib  # type: ignore[no-redef]
            from mlflow.genai.scorers import scorer  # type: ignore[no-redef]

            lib.set_tracking_uri(f"sqlite:///{workdir}/m.db")
            lib.set_experiment("bench")
        model = lib.create_external_model(name="bench-app")

        @lib.trace
        def app(question: str) -> str:
            with lib.start_span("retrieve", span_type="RETRIEVER") as span:
                span.set_outputs([question, "context"])
            with lib.start_span("generate", span_type="LLM") as span:
                answer = f"ANSWER {question.split()[-1].rstrip('?')}"
                span.set_outputs(answer)
            return answer

        @scorer
        def exact(outputs: str, expectations: dict[str, Any]) -> bool:
            return bool(outputs == expectations["expected_response"])

        @scorer
        def length(outputs: str) -> int:
            return len(outputs)

        @scorer
        def mentions_answer(outputs: str) -> bool:
            return "ANSWER" in outputs

        start = time.perf_counter()
        result = lib.genai.evaluate(data=data, predict_fn=app, scorers=[exact, length, mentions_answer],
                                    model_id=model.model_id)
        evaluate_s = time.perf_counter() - start
        metrics = {k: v for k, v in result.metrics.items() if k.startswith("exact")}
        return {"peer": peer, "rows": n, "plain_s": plain_s, "evaluate_s": evaluate_s,
                "added_s": evaluate_s - plain_s, "metrics": metrics}


def main() -> None:
    args = main_args(__doc__ or "")
    if args.peer:
        peer, _, size = args.peer.partition(":")
        emit(measure(peer, int(size)), None)
        return
    n = 100 if args.quick else 1000
    results = {peer: run_peer(HERE / "bench_evaluate.py", f"{peer}:{n}") for peer in ("autolog", "mlflow")}
    auto, ml = results["autolog"].get("added_s"), results["mlflow"].get("added_s")
    ratio = ml / auto if auto and ml else None
    rows = [[p, r.get("rows", "-"), f"{r.get('plain_s', float('nan')):.4f}", f"{r.get('evaluate_s', float('nan')):.2f}",
             f"{r.get('added_s', float('nan')):.2f}", str(r.get("metrics", "")) or r.get("error", "")[:60]]
            for p, r in results.items()]
    print(table(rows, ["peer", "rows", "plain s", "evaluate s", "added s", "metrics / note"]))
    if ratio:
        print(f"MLflow's added time is {ratio:.1f}x autolog's")
    emit({"scenario": "evaluate", "results": results, "mlflow_over_autolog": ratio}, args.json)


if __name__ == "__main__":
    main()
