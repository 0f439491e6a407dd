// Trace page: header, virtualized span tree with a timeline, span detail (loaded per span), feedback and tags.
import { api, ApiError, assessmentValue, clear, el, errorBox, fmtCost, fmtMs, fmtTime, fmtValue, hashFor, tokensOf } from "./app.js";
import { assessmentTable, feedbackForm, tagEditor } from "./trace_review.js";

const ROW_H = 24;        // px; every tree row has this height, so row i sits at i * ROW_H
const OVERSCAN = 10;     // rows drawn above and below the visible window, so fast scrolling shows no gaps
const LONG = 500;        // characters; longer values start collapsed
// One letter per span type (emoji fonts are missing on many Linux desktops); the CSS colours them by type.
const ICONS = { LLM: "L", CHAT_MODEL: "C", CHAIN: "Ch", AGENT: "A", TOOL: "T", RETRIEVER: "R", EMBEDDING: "E",
  RERANKER: "K", PARSER: "P", MEMORY: "M", UNKNOWN: "•" };

export async function render(main, { parts, isCurrent }) {
  const traceId = parts[1];
  spanCache.clear();  // an open trace's spans may have changed since it was last shown
  let data;
  try {
    data = await api(`/api/traces/${encodeURIComponent(traceId)}`);
  } catch (err) {
    if (!isCurrent()) return;
    if (err instanceof ApiError && err.status === 404) {
      clear(main, el("div", { class: "notfound", "data-testid": "not-found" }, el("h1", {}, "Trace not found"),
        el("p", {}, "No trace has the id ", el("code", {}, traceId), "."), el("a", { href: "#/traces" }, "All traces")));
      return;
    }
    throw err;
  }
  if (!isCurrent()) return;
  const info = data.info;
  const detail = el("div", { class: "span-detail", "data-testid": "span-detail" }, el("p", { class: "muted" }, "Select a span."));
  let selectedSpan = null;
  const tree = spanTree(data.spans || [], (span) => { selectedSpan = span; showSpan(detail, traceId, span); });
  const assessmentsBox = el("div", { class: "assessments" });
  const drawAssessments = (list) => clear(assessmentsBox, assessmentTable(list));
  drawAssessments(data.assessments || []);
  const reload = async () => drawAssessments((await api(`/api/traces/${encodeURIComponent(traceId)}`)).assessments || []);

  clear(main,
    el("div", { class: "page-head" }, el("h1", {}, info.name || traceId), el("span", { class: `state ${info.state}` }, info.state)),
    header(info),
    tagEditor(traceId, info.tags || {}),
    el("div", { class: "trace-body" }, el("section", { class: "tree-pane" }, tree.node), el("section", { class: "detail-pane" }, detail)),
    el("section", { class: "feedback-pane" }, el("h2", {}, "Feedback"), feedbackForm(traceId, reload, () => selectedSpan), assessmentsBox));
  tree.mount();
  if (data.spans && data.spans.length) tree.select(0);
  return tree.destroy;
}

function header(info) {
  const usage = info.token_usage || {};
  const item = (label, value) => (value === "" || value === null || value === undefined ? null
    : el("div", { class: "kv" }, el("span", { class: "k" }, label), el("span", { class: "v" }, value)));
  return el("div", { class: "trace-header" },
    item("trace id", info.trace_id), item("time", fmtTime(info.request_time)), item("latency", fmtMs(info.execution_time_ms)),
    item("tokens", usage.total_tokens !== undefined ? `${usage.total_tokens} (in ${usage.input_tokens ?? "?"}, out ${usage.output_tokens ?? "?"})` : info.total_tokens),
    item("cost", fmtCost(info.cost)),
    info.model_id ? el("div", { class: "kv" }, el("span", { class: "k" }, "version"),
      el("a", { href: hashFor("traces", { model_id: info.model_id }) }, info.model_name || info.model_id)) : null,
    item("session", info.session), item("user", info.user));
}

// --- span tree --------------------------------------------------------------------------------------------

// The tree is a flat list of the visible rows (depth-first, collapsed subtrees left out); only the rows in
// the scroll window exist in the DOM, so 30,000 spans cost as much to show as 50.
function spanTree(spans, onSelect) {
  const byId = new Map(spans.map((s, i) => [s.span_id, i]));
  const children = spans.map(() => []);
  const roots = [];
  spans.forEach((s, i) => {
    const p = s.parent_id ? byId.get(s.parent_id) : undefined;
    if (p === undefined || p === i) roots.push(i); else children[p].push(i);
  });
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const s of spans) {  // a loop, not Math.min(...spread): 30,000 arguments can overflow the stack
    if (s.start_time_ns != null && s.start_time_ns < t0) t0 = s.start_time_ns;
    const end = s.end_time_ns ?? s.start_time_ns;
    if (end != null && end > t1) t1 = end;
  }
  const total = Math.max(t1 - t0, 1);
  const depth = new Int32Array(spans.length);
  const collapsed = new Uint8Array(spans.length);
  let visible = [];
  let selected = -1;

  const flatten = () => {
    visible = [];
    const stack = roots.slice().reverse();
    for (const r of roots) depth[r] = 0;
    while (stack.length) {  // iterative: a 30,000-deep chain must not overflow the call stack
      const i = stack.pop();
      visible.push(i);
      if (collapsed[i]) continue;
      const kids = children[i];
      for (let k = kids.length - 1; k >= 0; k--) { depth[kids[k]] = depth[i] + 1; stack.push(kids[k]); }
    }
  };
  flatten();

  const spacer = el("div", { class: "tree-spacer" });
  const scroller = el("div", { class: "tree-scroll", tabindex: "0", role: "tree", "aria-label": "spans" }, spacer);
  const summary = el("div", { class: "muted small" }, `${spans.length} span${spans.length === 1 ? "" : "s"}`);
  const node = el("div", { class: "span-tree" }, summary, scroller);
  let raf = 0;

  const draw = () => {
    raf = 0;
    spacer.style.height = `${visible.length * ROW_H}px`;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((scroller.scrollTop + (scroller.clientHeight || 480)) / ROW_H) + OVERSCAN);
    const rows = [];
    for (let v = first; v < last; v++) rows.push(spanRow(v, visible[v]));
    spacer.replaceChildren(...rows);
  };
  const schedule = () => { if (!raf) raf = requestAnimationFrame(draw); };

  const spanRow = (v, i) => {
    const s = spans[i];
    const hasKids = children[i].length > 0;
    const toggle = el("button", { class: "toggle", "aria-label": collapsed[i] ? "expand" : "collapse", tabindex: "-1",
      "data-testid": "span-toggle" }, hasKids ? (collapsed[i] ? "▸" : "▾") : "");
    if (!hasKids) toggle.disabled = true;
    toggle.addEventListener("click", (ev) => { ev.stopPropagation(); toggleAt(i); });
    const start = ((s.start_time_ns ?? t0) - t0) / total;
    const dur = ((s.end_time_ns ?? t1) - (s.start_time_ns ?? t0)) / total;
    const bar = el("span", { class: `bar ${s.status_code === "ERROR" ? "err" : ""}` });
    bar.style.left = `${(start * 100).toFixed(3)}%`;
    bar.style.width = `${Math.max(dur * 100, 0.2).toFixed(3)}%`;
    const label = el("span", { class: "label" }, toggle,
      icon(s.span_type),
      el("span", { class: "name" }, s.name),
      s.status_code === "ERROR" ? el("span", { class: "state ERROR" }, "ERROR") : null,
      s.has_exception ? el("span", { class: "exc", title: "exception" }, "⚠") : null);
    label.style.paddingLeft = `${depth[i] * 14}px`;
    const durNs = s.end_time_ns != null && s.start_time_ns != null ? (s.end_time_ns - s.start_time_ns) / 1e6 : null;
    const row = el("div", { class: `span-row${i === selected ? " selected" : ""}`, "data-testid": "span-node",
      "data-span-id": s.span_id, role: "treeitem", "aria-expanded": hasKids ? String(!collapsed[i]) : undefined },
    label, el("span", { class: "dur" }, fmtMs(durNs)), el("span", { class: "timeline" }, bar));
    row.style.top = `${v * ROW_H}px`;
    row.addEventListener("click", () => select(visible.indexOf(i)));
    return row;
  };

  const toggleAt = (i) => { collapsed[i] = collapsed[i] ? 0 : 1; flatten(); schedule(); };
  const select = (v) => {
    if (v < 0 || v >= visible.length) return;
    selected = visible[v];
    const top = v * ROW_H;
    if (top < scroller.scrollTop || top + ROW_H > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = Math.max(0, top - ROW_H * 3);
    schedule();
    onSelect(spans[selected]);
  };
  // keyboard: up/down move, left/right collapse/expand (so a long trace is walkable without a mouse)
  scroller.addEventListener("keydown", (ev) => {
    const v = visible.indexOf(selected);
    if (ev.key === "ArrowDown") select(v + 1);
    else if (ev.key === "ArrowUp") select(v - 1);
    else if ((ev.key === "ArrowLeft" && !collapsed[selected]) || (ev.key === "ArrowRight" && collapsed[selected])) toggleAt(selected);
    else return;
    ev.preventDefault();
  });
  scroller.addEventListener("scroll", schedule, { passive: true });
  return { node, mount: draw, select, destroy: () => cancelAnimationFrame(raf) };
}

function icon(type) {
  const t = ICONS[type] ? type : "UNKNOWN";
  return el("span", { class: `icon t-${t}`, title: type || "UNKNOWN" }, ICONS[t]);
}

// --- span detail ------------------------------------------------------------------------------------------

const spanCache = new Map();
let detailRequest = 0;

async function showSpan(box, traceId, skeleton) {
  const mine = ++detailRequest;  // a slower answer for a span selected earlier must not replace this one
  clear(box, el("h2", {}, skeleton.name), el("p", { class: "muted" }, "Loading…"));
  const key = `${traceId}/${skeleton.span_id}`;
  let span = spanCache.get(key);
  try {
    if (!span) {
      span = await api(`/api/traces/${encodeURIComponent(traceId)}/spans/${encodeURIComponent(skeleton.span_id)}`);
      spanCache.set(key, span);
    }
  } catch (err) {
    if (mine === detailRequest) clear(box, el("h2", {}, skeleton.name), errorBox(err));
    return;
  }
  if (mine !== detailRequest) return;
  const durMs = span.end_time_ns != null ? (span.end_time_ns - span.start_time_ns) / 1e6 : null;
  const usage = span.token_usage;
  clear(box,
    el("h2", {}, icon(span.span_type), " ", span.name),
    el("div", { class: "trace-header" },
      kv("type", span.span_type), kv("status", span.status_code), kv("duration", fmtMs(durMs)),
      usage ? kv("tokens", `${tokensOf(usage) ?? ""}${usage.input_tokens !== undefined ? ` (in ${usage.input_tokens}, out ${usage.output_tokens})` : ""}`) : null,
      span.cost ? kv("cost", fmtCost(span.cost)) : null, kv("span id", span.span_id)),
    span.status_message ? el("div", { class: "error" }, span.status_message) : null,
    section("Inputs", valueView(span.inputs, null)),
    section("Outputs", valueView(span.outputs, span.span_type)),
    section("Attributes", attributesView(span.attributes || {})),
    span.events && span.events.length ? section("Events", eventsView(span.events)) : null);
}

function kv(k, v) {
  return v === null || v === undefined || v === "" ? null : el("div", { class: "kv" }, el("span", { class: "k" }, k), el("span", { class: "v" }, String(v)));
}

function section(title, body) {
  return el("div", { class: "section" }, el("h3", {}, title), body);
}

function attributesView(attrs) {
  const keys = Object.keys(attrs);
  if (!keys.length) return el("p", { class: "muted" }, "none");
  return el("table", { class: "kvtable" }, keys.sort().map((k) => el("tr", {}, el("th", {}, k), el("td", {}, valueView(attrs[k], null)))));
}

function eventsView(events) {
  return el("ul", { class: "events" }, events.map((e) => {
    const isExc = e.name === "exception";  // OpenTelemetry's name for a recorded exception
    const a = e.attributes || {};
    return el("li", { class: isExc ? "exception" : "" },
      el("strong", {}, e.name), " ", el("span", { class: "muted" }, e.timestamp_ns ? fmtTime(e.timestamp_ns / 1e6) : ""),
      isExc ? el("div", {}, el("div", {}, `${a["exception.type"] || ""}: ${a["exception.message"] || ""}`),
        a["exception.stacktrace"] ? longText(String(a["exception.stacktrace"])) : null) : valueView(a, null));
  }));
}

// Chat messages ({role, content} lists, also under "messages" or OpenAI's choices) as a conversation,
// RETRIEVER documents as a list, anything else as (collapsible) JSON text.
export function valueView(value, spanType) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "none");
  const messages = chatMessages(value);
  if (messages) return conversation(messages, value);
  if (spanType === "RETRIEVER" && Array.isArray(value) && value.every(isDocument)) return documents(value);
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return longText(text);
}

function isMessage(m) {
  return m && typeof m === "object" && typeof m.role === "string" && ("content" in m || "tool_calls" in m);
}

function chatMessages(v) {
  if (Array.isArray(v) && v.length && v.every(isMessage)) return v;
  if (v && typeof v === "object" && !Array.isArray(v)) {
    if (Array.isArray(v.messages) && v.messages.length && v.messages.every(isMessage)) return v.messages;
    if (Array.isArray(v.choices) && v.choices.length && v.choices.every((c) => isMessage(c && c.message))) return v.choices.map((c) => c.message);
    if (isMessage(v)) return [v];
  }
  return null;
}

function conversation(messages, whole) {
  const list = el("div", { class: "conversation" }, messages.map((m) => {
    const content = typeof m.content === "string" ? m.content
      : Array.isArray(m.content) ? m.content.map((p) => (p && p.text) || JSON.stringify(p)).join("\n") : JSON.stringify(m.content ?? "");
    return el("div", { class: `msg role-${String(m.role).replace(/[^a-z_]/gi, "")}` }, el("div", { class: "role" }, m.role),
      longText(content), m.tool_calls ? longText(JSON.stringify(m.tool_calls, null, 2)) : null);
  }));
  const raw = el("details", { class: "raw" }, el("summary", {}, "JSON"), longText(JSON.stringify(whole, null, 2)));
  return el("div", {}, list, raw);
}

function isDocument(d) {
  return d && typeof d === "object" && (typeof d.page_content === "string" || typeof d.text === "string" || typeof d.content === "string");
}

function documents(docs) {
  return el("ol", { class: "documents" }, docs.map((d) => el("li", { class: "doc" },
    longText(d.page_content ?? d.text ?? d.content),
    d.metadata && Object.keys(d.metadata).length ? el("div", { class: "doc-meta muted" },
      Object.entries(d.metadata).map(([k, v]) => el("span", { class: "tag" }, `${k}=${fmtValue(v)}`))) : null)));
}

export function longText(text) {
  const pre = el("pre", { class: "value" });
  const copy = el("button", { class: "small", "data-testid": "copy-button" }, "copy");
  copy.addEventListener("click", () => copyText(text, copy));
  if (text.length <= LONG) {
    pre.textContent = text;
    return el("div", { class: "value-box" }, pre, text.length > 80 ? el("div", { class: "value-tools" }, copy) : null);
  }
  let open = false;
  const toggle = el("button", { class: "small", "data-testid": "expand-button" }, "expand");
  const paint = () => {
    pre.textContent = open ? text : `${text.slice(0, LONG)}…`;
    toggle.textContent = open ? "collapse" : `expand (${text.length.toLocaleString()} chars)`;
  };
  toggle.addEventListener("click", () => { open = !open; paint(); });
  paint();
  return el("div", { class: "value-box" }, pre, el("div", { class: "value-tools" }, toggle, copy));
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard permission (plain http to another host): fall back to a selected textarea
    const ta = el("textarea", { class: "offscreen" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  button.textContent = "copied";
  setTimeout(() => { button.textContent = "copy"; }, 1200);
}

// --- tags, feedback ---------------------------------------------------------------------------------------
