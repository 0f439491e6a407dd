// Evaluations page: evaluation runs, and a candidate run against a baseline (paired tests, row by row).
import { api, clear, el, fmtNum, fmtTime, fmtValue, hashFor, navigate } from "./app.js";

export async function render(main, { parts, params, isCurrent }) {
  if (parts[1] === "compare") return renderCompare(main, params, isCurrent);
  const runs = await api("/api/runs");
  if (!isCurrent()) return;
  const pick = { candidate: runs[0] && runs[0].run_id, baseline: runs[1] && runs[1].run_id };
  const go = el("button", { "data-testid": "evaluation-compare-button",
    onclick: () => navigate("evaluations/compare", pick), disabled: runs.length < 2 }, "Compare candidate with baseline");
  const radio = (role, run) => {
    const r = el("input", { type: "radio", name: role, value: run.run_id, checked: pick[role] === run.run_id,
      "data-testid": `${role}-radio`, "aria-label": `${role} ${run.run_name || run.run_id}` });
    r.addEventListener("change", () => { pick[role] = run.run_id; go.disabled = pick.candidate === pick.baseline; });
    return r;
  };
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics || {})))].sort();
  clear(main, el("div", { class: "page-head" }, el("h1", {}, "Evaluations"), go),
    runs.length ? el("div", { class: "scroll-x" }, el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ["candidate", "baseline", "Run", "Version", "Status", "Started", "Dataset", ...metricNames].map((h) => el("th", {}, h)))),
      el("tbody", {}, runs.map((run) => el("tr", { "data-testid": "run-row", "data-run-id": run.run_id },
        el("td", {}, radio("candidate", run)), el("td", {}, radio("baseline", run)),
        el("td", {}, run.run_name || run.run_id),
        el("td", {}, run.model_id ? el("a", { href: hashFor("traces", { model_id: run.model_id }) }, run.model_name || run.model_id) : ""),
        el("td", {}, run.status || ""), el("td", { class: "nowrap" }, fmtTime(run.start_time)),
        el("td", {}, datasetLabel(run.dataset)),
        metricNames.map((m) => el("td", { class: "num" }, fmtNum((run.metrics || {})[m]))))))))
      : el("p", { class: "muted" }, "No evaluation runs yet: run autolog.genai.evaluate(...)."));
}

function datasetLabel(d) {
  if (!d) return "";
  if (typeof d === "string") return d;
  return [d.name, d.version !== undefined ? `v${d.version}` : null].filter(Boolean).join(" ") || fmtValue(d);
}

const VERDICT_CLASS = { improved: "improved", regressed: "regressed" };

async function renderCompare(main, params, isCurrent) {
  const candidate = params.get("candidate");
  const baseline = params.get("baseline");
  const data = await api(`/api/runs/compare?${new URLSearchParams({ candidate, baseline })}`);
  if (!isCurrent()) return;
  const summary = el("table", { class: "grid", "data-testid": "evaluation-summary" },
    el("thead", {}, el("tr", {}, ["metric", "baseline", "candidate", "difference", "95 % CI", "p", "test", "pairs", "verdict"].map((h) => el("th", {}, h)))),
    el("tbody", {}, (data.summary || []).map((s) => el("tr", { class: VERDICT_CLASS[s.verdict] || "", "data-testid": "verdict-row" },
      el("td", {}, s.metric), el("td", { class: "num" }, fmtNum(s.baseline)), el("td", { class: "num" }, fmtNum(s.candidate)),
      el("td", { class: "num" }, fmtNum(s.difference)),
      el("td", { class: "num" }, s.ci_low === null || s.ci_low === undefined ? "" : `[${fmtNum(s.ci_low)}, ${fmtNum(s.ci_high)}]`),
      el("td", { class: "num" }, s.p_value === null || s.p_value === undefined ? "" : fmtNum(s.p_value)),
      el("td", {}, s.test || ""), el("td", { class: "num" }, s.pairs ?? ""),
      el("td", { class: "verdict" }, s.verdict)))));
  const rows = data.rows || [];
  const scorers = [...new Set(rows.flatMap((r) => ["baseline", "candidate"].flatMap((side) => Object.keys((r[side] || {}).scores || {}))))];
  const detail = el("table", { class: "grid rows", "data-testid": "evaluation-rows" },
    el("thead", {}, el("tr", {}, ["inputs", "baseline output", "candidate output", ...scorers.map((n) => `${n} (baseline → candidate)`)].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => {
      const regressed = new Set(r.regressed || []);
      return el("tr", { class: regressed.size ? "regressed" : "" },
        el("td", {}, el("pre", { class: "value" }, fmtValue(r.inputs))),
        el("td", {}, output(r.baseline)), el("td", {}, output(r.candidate)),
        scorers.map((n) => el("td", { class: regressed.has(n) ? "regressed" : "" }, score(r.baseline, n), " → ", score(r.candidate, n))));
    })));
  clear(main,
    el("div", { class: "page-head" }, el("h1", {}, "Candidate vs baseline"), el("a", { href: "#/evaluations" }, "all runs")),
    el("p", {}, "candidate ", el("code", {}, candidate), " · baseline ", el("code", {}, baseline)),
    summary, el("h2", {}, "Row by row"), el("div", { class: "scroll-x" }, detail));
}

function output(side) {
  if (!side) return el("span", { class: "muted" }, "missing");
  return el("div", {}, el("pre", { class: "value" }, fmtValue(side.outputs)),
    side.trace_id ? el("a", { class: "small", href: hashFor(`trace/${encodeURIComponent(side.trace_id)}`) }, "trace") : null);
}

function score(side, name) {
  const s = side && side.scores && side.scores[name];
  if (!s) return el("span", { class: "muted" }, "–");
  return el("span", { class: "score" }, el("strong", {}, fmtValue(s.value)),
    s.rationale ? el("span", { class: "rationale muted small" }, ` (${s.rationale})`) : null);
}
