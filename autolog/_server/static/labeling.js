// Labeling: the sessions, and one session's queue with a form built from its label schemas.
import { api, clear, el, errorBox, fmtTime, hashFor, navigate } from "./app.js";
import { longText } from "./trace.js";
import { REVIEWER_KEY } from "./trace_review.js";  // one reviewer name for both pages

export async function render(main, { parts, params, isCurrent }) {
  if (parts[1]) return renderSession(main, parts[1], params, isCurrent);
  const sessions = await api("/api/labeling-sessions");
  if (!isCurrent()) return;
  clear(main, el("h1", {}, "Labeling sessions"),
    sessions.length ? el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ["Session", "Questions", "Progress"].map((h) => el("th", {}, h)))),
      el("tbody", {}, sessions.map((s) => el("tr", { "data-testid": "labeling-session-row" },
        el("td", {}, el("a", { href: hashFor(`labeling/${encodeURIComponent(s.labeling_session_id)}`) }, s.name)),
        el("td", {}, (s.schemas || []).map((x) => el("span", { class: "tag" }, typeof x === "string" ? x : x.name))),
        el("td", {}, progressBar(s.progress))))))
      : el("p", { class: "muted" }, "No labeling sessions: create one with autolog.genai.labeling.create_labeling_session(...)."));
}

function progressBar(p) {
  const total = (p && p.total) || 0;
  const done = ((p && p.completed) || 0) + ((p && p.skipped) || 0);
  const fill = el("span", { class: "fill" });
  fill.style.width = `${total ? (100 * done) / total : 0}%`;
  return el("span", { class: "progress", "data-testid": "progress" }, el("span", { class: "track" }, fill),
    ` ${done} / ${total}${p && p.skipped ? ` (${p.skipped} skipped)` : ""}`);
}

async function renderSession(main, sessionId, params, isCurrent) {
  const base = `/api/labeling-sessions/${encodeURIComponent(sessionId)}`;
  const session = await api(base);
  if (!isCurrent()) return;
  const items = session.items || [];
  const wanted = params.get("trace");
  const current = items.find((i) => i.trace_id === wanted) || items.find((i) => i.state === "PENDING");
  const progress = session.progress || {
    total: items.length, completed: items.filter((i) => i.state === "COMPLETED").length,
    skipped: items.filter((i) => i.state === "SKIPPED").length };
  const queue = el("ol", { class: "queue" }, items.map((i) => el("li", {
    class: `${i.state}${current && i.trace_id === current.trace_id ? " current" : ""}`,
    "data-testid": "labeling-item", "data-state": i.state, "data-trace-id": i.trace_id },
  el("a", { href: hashFor(`labeling/${encodeURIComponent(sessionId)}`, { trace: i.trace_id }), title: i.trace_id },
    i.trace_name || i.trace_id),
  i.request_preview ? el("div", { class: "muted small preview" }, i.request_preview.slice(0, 80)) : null,
  " ", el("span", { class: `item-state ${i.state}` }, i.state), i.reviewer ? el("span", { class: "muted small" }, ` ${i.reviewer}`) : null)));
  const work = el("section", { class: "label-work" });
  clear(main, el("div", { class: "page-head" }, el("h1", {}, session.name), progressBar(progress),
    el("a", { href: "#/labeling" }, "all sessions")),
  el("div", { class: "labeling" }, el("aside", {}, el("h2", {}, "Queue"), queue), work));
  if (!current) { work.append(el("p", { class: "done", "data-testid": "labeling-done" }, "All items are labeled. 🎉")); return; }

  const trace = await api(`/api/traces/${encodeURIComponent(current.trace_id)}`);
  if (!isCurrent()) return;
  const next = () => {
    // after an answer: the next pending item after this one (wrapping), from the store's fresh state
    navigate(`labeling/${encodeURIComponent(sessionId)}`, {});
  };
  work.append(el("h2", {}, el("a", { href: hashFor(`trace/${encodeURIComponent(current.trace_id)}`) }, trace.info.name || current.trace_id)),
    el("div", { class: "muted small" }, `${current.trace_id} · ${fmtTime(trace.info.request_time)} · ${current.state}`),
    el("h3", {}, "Request"), longText(trace.info.request_preview || ""),
    el("h3", {}, "Response"), longText(trace.info.response_preview || ""),
    el("h3", {}, "Spans"), spanSummary(trace.spans || []),
    labelForm(base, current, session.schemas || [], next));
}

function spanSummary(spans) {
  const depth = new Map();
  const shown = spans.slice(0, 40);  // a summary: the trace page has the whole tree
  return el("ul", { class: "span-summary" }, shown.map((s) => {
    const d = s.parent_id && depth.has(s.parent_id) ? depth.get(s.parent_id) + 1 : 0;
    depth.set(s.span_id, d);
    const li = el("li", { class: s.status_code === "ERROR" ? "err" : "" }, `${s.span_type || "UNKNOWN"} · ${s.name}`);
    li.style.paddingLeft = `${d * 14}px`;
    return li;
  }), spans.length > shown.length ? el("li", { class: "muted" }, `… ${spans.length - shown.length} more`) : null);
}

// One widget per schema; read() gives the answer or undefined when the reviewer left it empty.
function widget(schema) {
  const input = schema.input || {};
  const type = input.type || "text";
  if (type === "pass_fail") {
    let value;
    const buttons = [[true, "Pass"], [false, "Fail"]].map(([v, l]) => el("button", { type: "button", class: "choice",
      "data-testid": "label-passfail", "data-value": String(v), onclick: () => { value = v; buttons.forEach((b) => b.classList.toggle("chosen", b.dataset.value === String(v))); } }, l));
    return { node: el("span", {}, buttons), read: () => value };
  }
  if (type === "categorical") {
    const sel = el("select", { "data-testid": "label-select" }, el("option", { value: "" }, "choose…"),
      (input.options || []).map((o) => el("option", { value: o }, o)));
    return { node: sel, read: () => sel.value || undefined };
  }
  if (type === "categorical_list") {
    const boxes = (input.options || []).map((o) => el("input", { type: "checkbox", value: o }));
    return { node: el("span", {}, boxes.map((b) => el("label", { class: "check" }, b, b.value))),
      read: () => { const v = boxes.filter((b) => b.checked).map((b) => b.value); return v.length ? v : undefined; } };
  }
  if (type === "numeric") {
    const num = el("input", { type: "number", step: "any", "data-testid": "label-number",
      min: input.min_value ?? undefined, max: input.max_value ?? undefined });
    return { node: num, read: () => (num.value === "" ? undefined : Number(num.value)) };
  }
  const ta = el("textarea", { rows: 3, cols: 50, "data-testid": "label-text", maxlength: input.max_length ?? undefined });
  if (type === "text_list") return { node: ta, read: () => { const v = ta.value.split("\n").map((x) => x.trim()).filter(Boolean); return v.length ? v : undefined; } };
  return { node: ta, read: () => (ta.value.trim() ? ta.value : undefined) };
}

function labelForm(base, item, schemas, next) {
  const reviewer = el("input", { "data-testid": "reviewer-input", placeholder: "your name", value: localStorage.getItem(REVIEWER_KEY) || "" });
  const fields = schemas.map((s) => ({ schema: s, w: widget(s) }));
  const wantsComment = schemas.some((s) => s.enable_comment);
  const comment = wantsComment ? el("textarea", { rows: 2, cols: 50, "data-testid": "label-comment", placeholder: "comment" }) : null;
  const msg = el("div");
  const send = async (state) => {
    const who = reviewer.value.trim() || "anonymous";
    localStorage.setItem(REVIEWER_KEY, who);
    const answers = {};
    for (const { schema, w } of fields) { const v = w.read(); if (v !== undefined) answers[schema.name] = v; }
    if (state === "COMPLETED" && !Object.keys(answers).length) { clear(msg, errorBox("answer at least one question, or skip")); return; }
    const body = { reviewer: who, answers: state === "COMPLETED" ? answers : {}, state };
    if (comment && comment.value.trim()) body.comment = comment.value.trim();
    try {
      await api(`${base}/items/${encodeURIComponent(item.trace_id)}`, { method: "POST", body });
      next();
    } catch (err) { clear(msg, errorBox(err)); }
  };
  return el("form", { class: "label-form", "data-testid": "label-form", onsubmit: (ev) => { ev.preventDefault(); send("COMPLETED"); } },
    el("label", { class: "field" }, "reviewer ", reviewer),
    fields.map(({ schema, w }) => el("div", { class: "field", "data-schema": schema.name },
      el("div", { class: "q" }, schema.title || schema.name, schema.type === "expectation" ? el("span", { class: "muted small" }, " (expected)") : null),
      schema.instruction ? el("div", { class: "muted small" }, schema.instruction) : null, w.node)),
    comment ? el("div", { class: "field" }, el("div", { class: "q" }, "Comment"), comment) : null,
    el("div", { class: "inline" }, el("button", { type: "submit", "data-testid": "label-submit" }, "Submit"),
      el("button", { type: "button", "data-testid": "label-skip", onclick: () => send("SKIPPED") }, "Skip")), msg);
}
