// Versions page: every LoggedModel, and the comparison of two or more with hand-drawn SVG plots.
import { api, clear, el, fmtCost, fmtMs, fmtNum, fmtTime, fmtValue, hashFor, navigate } from "./app.js";

export async function render(main, { parts, params, isCurrent }) {
  if (parts[1] === "compare") return renderCompare(main, params, isCurrent);
  const versions = await api("/api/versions");
  if (!isCurrent()) return;
  const chosen = new Set();
  const compare = el("button", { "data-testid": "compare-button", disabled: true,
    onclick: () => navigate("versions/compare", { ids: [...chosen].join(",") }) }, "Compare");
  const hint = el("span", { class: "muted" }, "select two or more versions");
  const table = el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, ["", "Version", "Model id", "Created", "Params", "Tags", "Metrics", "Traces", "Last trace"].map((h) => el("th", {}, h)))),
    el("tbody", {}, versions.map((v) => {
      const box = el("input", { type: "checkbox", "data-testid": "version-check", "aria-label": `select ${v.name}` });
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(v.model_id); else chosen.delete(v.model_id);
        compare.disabled = chosen.size < 2;
      });
      return el("tr", { "data-testid": "version-row", "data-model-id": v.model_id },
        el("td", {}, box), el("td", {}, el("strong", {}, v.name)), el("td", { class: "mono small" }, v.model_id),
        el("td", { class: "nowrap" }, fmtTime(v.creation_timestamp)),
        el("td", {}, pairs(v.params)), el("td", {}, pairs(v.tags)), el("td", {}, pairs(v.metrics)),
        el("td", { class: "num" }, el("a", { href: hashFor("traces", { model_id: v.model_id }), title: "this version's traces" }, String(v.traces ?? 0))),
        el("td", { class: "nowrap" }, fmtTime(v.last_trace_time)));
    })));
  clear(main, el("div", { class: "page-head" }, el("h1", {}, "Versions"), compare, hint),
    versions.length ? table : el("p", { class: "muted" }, "No versions yet: create one with autolog.set_active_model(name=...)."));
}

function pairs(obj) {
  const entries = Object.entries(obj || {}).filter(([k]) => !k.startsWith("mlflow."));
  return entries.map(([k, v]) => el("span", { class: "tag" }, `${k}=${fmtValue(v)}`));
}

async function renderCompare(main, params, isCurrent) {
  const ids = (params.get("ids") || "").split(",").filter(Boolean);
  const qs = new URLSearchParams();
  for (const id of ids) qs.append("model_id", id);
  if (params.get("filter")) qs.set("filter", params.get("filter"));
  const data = await api(`/api/versions/compare?${qs}`);
  if (!isCurrent()) return;
  const rows = data.rows || [];
  const names = Object.fromEntries(rows.map((r) => [r.model_id, r.name || r.model_id]));
  const label = (id) => names[id] || id;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const table = el("table", { class: "grid compare", "data-testid": "compare-table" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, rows.map((r) => el("tr", { "data-model-id": r.model_id }, columns.map((c) => el("td", {}, cell(c, r[c])))))));
  const dist = data.distributions || {};
  const fb = data.feedback || {};
  const feedbackNames = [...new Set(Object.values(fb).flatMap((m) => Object.keys(m)))];
  clear(main,
    el("div", { class: "page-head" }, el("h1", {}, "Compare versions"), el("a", { href: "#/versions" }, "all versions")),
    el("p", {}, ids.map((id) => el("a", { class: "chip", href: hashFor("traces", { model_id: id }) }, `${label(id)} traces`))),
    el("div", { class: "scroll-x" }, table),
    el("div", { class: "plots" },
      plotCard("Latency per trace (ms)", boxPlot(ids.map((id) => ({ label: label(id), values: (dist[id] || {}).latency_ms || [] })), fmtMs)),
      plotCard("Cost per trace (USD)", boxPlot(ids.map((id) => ({ label: label(id), values: (dist[id] || {}).cost || [] })), fmtCost)),
      feedbackNames.map((n) => plotCard(`${n}: mean, 95 % interval`,
        intervalPlot(ids.map((id) => ({ label: label(id), ...((fb[id] || {})[n] || {}) })))))));
}

function cell(column, v) {
  if (column === "model_id") return el("a", { href: hashFor("traces", { model_id: v }) }, v);
  if (/latency|_ms$/.test(column) && typeof v === "number") return fmtMs(v);
  if (/^cost/.test(column) && typeof v === "number") return fmtCost(v);
  if (column === "error_rate" && typeof v === "number") return `${(v * 100).toFixed(1)} %`;
  if (Array.isArray(v)) return v.join(", ");
  return typeof v === "number" ? fmtNum(v) : fmtValue(v);
}

function plotCard(title, svg) {
  return el("figure", { class: "plot" }, el("figcaption", {}, title), svg);
}

// --- SVG, by hand ----------------------------------------------------------------------------------------

const W = 460;
const ROW = 34;
const LEFT = 120;
const RIGHT = 40;

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function axis(min, max, h, fmt) {
  const x = (v) => LEFT + ((v - min) / (max - min || 1)) * (W - LEFT - RIGHT);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => min + f * (max - min));
  const g = el("g", { class: "axis" }, el("line", { x1: LEFT, x2: W - RIGHT, y1: h - 18, y2: h - 18 }),
    ticks.map((t) => el("g", {}, el("line", { x1: x(t), x2: x(t), y1: h - 18, y2: h - 14 }),
      el("text", { x: x(t), y: h - 3, "text-anchor": "middle" }, fmt(t)))));
  return { x, g };
}

// One box per version: whiskers min..max, box p25..p75, a line at the median.
export function boxPlot(series, fmt) {
  const all = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const h = series.length * ROW + 30;
  const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart", role: "img" });
  if (!all.length) return el("p", { class: "muted" }, "no values");
  const min = Math.min(0, ...all);  // small arrays (≤ 2,000 values per version): spreading is fine here
  const max = Math.max(...all);
  const { x, g } = axis(min, max, h, fmt);
  svg.append(g);
  series.forEach((s, i) => {
    const y = i * ROW + 16;
    svg.append(el("text", { x: LEFT - 8, y: y + 4, "text-anchor": "end", class: "series" }, s.label));
    const v = s.values.filter((n) => typeof n === "number").sort((a, b) => a - b);
    if (!v.length) { svg.append(el("text", { x: LEFT + 4, y: y + 4, class: "muted" }, "no values")); return; }
    const [lo, q1, med, q3, hi] = [0, 0.25, 0.5, 0.75, 1].map((q) => quantile(v, q));
    svg.append(el("g", { class: `box c${i % 6}` },
      el("title", {}, `${s.label}: n=${v.length}, median ${fmt(med)}, p25 ${fmt(q1)}, p75 ${fmt(q3)}, max ${fmt(hi)}`),
      el("line", { x1: x(lo), x2: x(hi), y1: y, y2: y, class: "whisker" }),
      el("rect", { x: x(q1), y: y - 9, width: Math.max(x(q3) - x(q1), 1), height: 18 }),
      el("line", { x1: x(med), x2: x(med), y1: y - 9, y2: y + 9, class: "median" })));
  });
  return svg;
}

// One dot per version at the mean, a bar for its 95 % interval, n beside it.
export function intervalPlot(series) {
  const have = series.filter((s) => typeof s.mean === "number");
  const h = series.length * ROW + 30;
  if (!have.length) return el("p", { class: "muted" }, "no values");
  const lows = have.map((s) => (typeof s.low === "number" ? s.low : s.mean));
  const highs = have.map((s) => (typeof s.high === "number" ? s.high : s.mean));
  let min = Math.min(...lows);
  let max = Math.max(...highs);
  if (min >= 0 && max <= 1) { min = 0; max = 1; }  // booleans and ratios read best on the full 0..1 scale
  const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart", role: "img" });
  const { x, g } = axis(min, max, h, (v) => fmtNum(v, 2));
  svg.append(g);
  series.forEach((s, i) => {
    const y = i * ROW + 16;
    svg.append(el("text", { x: LEFT - 8, y: y + 4, "text-anchor": "end", class: "series" }, s.label));
    if (typeof s.mean !== "number") { svg.append(el("text", { x: LEFT + 4, y: y + 4, class: "muted" }, "no values")); return; }
    const lo = typeof s.low === "number" ? s.low : s.mean;
    const hi = typeof s.high === "number" ? s.high : s.mean;
    svg.append(el("g", { class: `box c${i % 6}` },
      el("title", {}, `${s.label}: mean ${fmtNum(s.mean)} [${fmtNum(lo)}, ${fmtNum(hi)}], n=${s.n ?? "?"}`),
      el("line", { x1: x(lo), x2: x(hi), y1: y, y2: y, class: "whisker" }),
      el("line", { x1: x(lo), x2: x(lo), y1: y - 5, y2: y + 5, class: "whisker" }),
      el("line", { x1: x(hi), x2: x(hi), y1: y - 5, y2: y + 5, class: "whisker" }),
      el("circle", { cx: x(s.mean), cy: y, r: 5 }),
      el("text", { x: Math.min(x(hi) + 8, W - 70), y: y - 8, class: "small" }, `${fmtNum(s.mean)} (n=${s.n ?? "?"})`)));
  });
  return svg;
}
