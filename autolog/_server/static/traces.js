// Traces page: the search_traces table with filter, quick filters, sorting, keyset pages and live arrivals.
import { api, ApiError, clear, el, errorBox, fmtCost, fmtMs, fmtTime, fmtValue, hashFor, navigate } from "./app.js";

const POLL_MS = 2000;
const PAGE_SIZE = 50;  // rows per page unless the address says max_results=
const SORTABLE = { time: "timestamp_ms", latency: "execution_time_ms", tokens: "total_tokens", cost: "cost" };

// Quick filters are kept apart in the hash and appended after the typed filter, so an error position in
// the typed part is the same offset in the string sent.
function quote(s) {
  return `'${String(s).replace(/'/g, "''")}'`;  // the filter grammar escapes a quote by doubling it
}

export function composeFilter(params) {
  const parts = [];
  const typed = (params.get("filter") || "").trim();
  if (typed) parts.push(typed);
  if (params.get("state")) parts.push(`state = ${quote(params.get("state"))}`);
  if (params.get("session")) parts.push(`metadata.\`mlflow.trace.session\` = ${quote(params.get("session"))}`);
  return parts.join(" AND ");
}

function current(params) {
  const o = {};
  for (const k of ["filter", "order_by", "state", "session", "model_id", "page_token", "max_results"]) if (params.get(k)) o[k] = params.get(k);
  return o;
}

function query(params, pageToken) {
  const size = Math.min(Math.max(Number(params.get("max_results")) || PAGE_SIZE, 1), 500);
  const qs = new URLSearchParams({ max_results: String(size) });
  const filter = composeFilter(params);
  if (filter) qs.set("filter", filter);
  if (params.get("order_by")) qs.set("order_by", params.get("order_by"));
  if (params.get("model_id")) qs.set("model_id", params.get("model_id"));
  if (pageToken) qs.set("page_token", pageToken);
  return `/api/traces?${qs}`;
}

export async function render(main, { params, isCurrent }) {
  const state = current(params);
  const go = (changes) => navigate("traces", { ...state, page_token: undefined, ...changes });

  const filterInput = el("input", { type: "search", "data-testid": "filter-input", value: state.filter || "",
    placeholder: "filter, e.g. tags.env = 'prod' AND execution_time_ms > 500", spellcheck: "false", class: "filter" });
  const filterForm = el("form", { class: "filter-form" }, filterInput, el("button", { type: "submit" }, "Search"));
  filterForm.addEventListener("submit", (ev) => { ev.preventDefault(); go({ filter: filterInput.value.trim() || undefined }); });

  const versionSelect = el("select", { "data-testid": "version-select", "aria-label": "version" },
    el("option", { value: "" }, "all versions"));
  versionSelect.addEventListener("change", () => go({ model_id: versionSelect.value || undefined }));
  const stateSelect = el("select", { "data-testid": "state-select", "aria-label": "state" },
    ["", "OK", "ERROR", "IN_PROGRESS"].map((s) => el("option", { value: s, selected: s === (state.state || "") }, s || "any state")));
  stateSelect.addEventListener("change", () => go({ state: stateSelect.value || undefined }));
  const chips = el("span", { class: "chips" });
  if (state.session) {
    chips.append(el("span", { class: "chip" }, "session: ", state.session,
      el("button", { class: "link", title: "remove", onclick: () => go({ session: undefined }) }, "×")));
  }
  const errorSlot = el("div");
  const liveNote = el("span", { class: "live-note", "data-testid": "new-traces", hidden: true });
  const table = el("table", { class: "grid traces" });
  const pager = el("div", { class: "pager" });
  clear(main, el("div", { class: "page-head" }, el("h1", {}, "Traces"), liveNote),
    filterForm, el("div", { class: "quick" }, versionSelect, stateSelect, chips), errorSlot, el("div", { class: "scroll-x" }, table), pager);

  // the version list only fills the select; the table does not wait for it
  api("/api/versions").then((versions) => {
    for (const v of versions || []) {
      versionSelect.append(el("option", { value: v.model_id, selected: v.model_id === state.model_id }, `${v.name} (${v.model_id})`));
    }
    if (state.model_id && ![...versionSelect.options].some((o) => o.value === state.model_id)) {
      versionSelect.append(el("option", { value: state.model_id, selected: true }, state.model_id));
    }
  }).catch(() => {});

  let data;
  try {
    data = await api(query(params, state.page_token));
  } catch (err) {
    if (!isCurrent()) return;
    if (err instanceof ApiError && err.status === 400) clear(errorSlot, filterError(err, composeFilter(params)));
    else clear(errorSlot, errorBox(err));
    return;
  }
  if (!isCurrent()) return;

  const feedbackNames = data.feedback_names || [];
  const order = state.order_by || "timestamp_ms DESC";
  table.append(headRow(feedbackNames, order, (o) => go({ order_by: o === "timestamp_ms DESC" ? undefined : o })));
  const body = el("tbody");
  table.append(body);
  const onSession = (s) => go({ session: s });
  for (const t of data.traces) body.append(row(t, feedbackNames, onSession));
  if (!data.traces.length) body.append(el("tr", {}, el("td", { colspan: 12 + feedbackNames.length, class: "muted" }, "No traces match.")));

  if (state.page_token) pager.append(el("a", { href: hashFor("traces", { ...state, page_token: undefined }), "data-testid": "first-page" }, "First page"));
  if (data.next_page_token) {
    pager.append(el("a", { href: hashFor("traces", { ...state, page_token: data.next_page_token }), "data-testid": "next-page" }, "Next page"));
  }

  // Live: only the first page of the newest-first order can take new rows on top.
  if (state.page_token || order !== "timestamp_ms DESC") return undefined;
  const shown = new Map(data.traces.map((t) => [t.trace_id, t]));
  const rowsById = new Map([...body.querySelectorAll("tr[data-trace-id]")].map((tr) => [tr.dataset.traceId, tr]));
  let arrived = 0;
  let timer = null;
  let stopped = false;
  const poll = async () => {
    try {
      const fresh = await api(query(params));
      if (stopped || !isCurrent()) return;
      const added = [];
      for (const t of fresh.traces) {
        const old = shown.get(t.trace_id);
        if (!old) added.push(t);
        else if (old.state !== t.state || old.execution_time_ms !== t.execution_time_ms) {
          const tr = row(t, feedbackNames, onSession);  // an in-progress trace finished: redraw its row
          rowsById.get(t.trace_id).replaceWith(tr);
          rowsById.set(t.trace_id, tr);
          shown.set(t.trace_id, t);
        }
      }
      for (const t of added.reverse()) {  // oldest of the new ones first, so the newest ends on top
        const tr = row(t, feedbackNames, onSession);
        tr.classList.add("new");
        const empty = body.querySelector("td.muted");
        if (empty) empty.parentElement.remove();
        body.prepend(tr);
        shown.set(t.trace_id, t);
        rowsById.set(t.trace_id, tr);
      }
      if (added.length) {
        arrived += added.length;
        liveNote.hidden = false;
        liveNote.textContent = `● ${arrived} new trace${arrived === 1 ? "" : "s"}`;
      }
    } catch { /* a failed poll is retried at the next tick */ }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };
  timer = setTimeout(poll, POLL_MS);
  return () => { stopped = true; clearTimeout(timer); };
}

function filterError(err, filter) {
  const box = el("div", { class: "error filter-error", "data-testid": "filter-error", role: "alert" },
    el("div", {}, err.message.split("\n")[0]));  // the server's own caret lines are drawn below, aligned
  const pos = err.body && err.body.position;
  if (typeof pos === "number") {
    // the filter with a caret under the offending character (monospace, so spaces line up)
    box.append(el("pre", { class: "caret" }, `${filter}\n${" ".repeat(pos)}^`),
      el("div", { class: "muted" }, `at position ${pos}`));
  }
  return box;
}

function headRow(feedbackNames, order, setOrder) {
  const [key, dir] = order.split(/\s+/);
  const th = (label, sortKey) => {
    if (!sortKey) return el("th", {}, label);
    const active = key === SORTABLE[sortKey];
    const next = active && (dir || "DESC").toUpperCase() === "DESC" ? "ASC" : "DESC";
    return el("th", { class: `sortable${active ? " sorted" : ""}`, "data-sort": sortKey, title: "sort",
      onclick: () => setOrder(`${SORTABLE[sortKey]} ${next}`) },
    label, active ? ((dir || "DESC").toUpperCase() === "DESC" ? " ▼" : " ▲") : "");
  };
  return el("thead", {}, el("tr", {},
    th("Trace"), th("Request"), th("Response"), th("State"), th("Time", "time"), th("Latency", "latency"),
    th("Tokens", "tokens"), th("Cost", "cost"), th("Version"), th("Session"), th("User"), th("Tags"),
    feedbackNames.map((n) => el("th", { class: "fb" }, n))));
}

function row(t, feedbackNames, onSession) {
  const link = hashFor(`trace/${encodeURIComponent(t.trace_id)}`);
  const tags = Object.entries(t.tags || {}).map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`));
  const session = t.session
    ? el("button", { class: "link", title: "show this session's traces", onclick: () => onSession(t.session) }, t.session)
    : "";
  return el("tr", { "data-testid": "trace-row", "data-trace-id": t.trace_id },
    el("td", {}, el("a", { href: link }, t.name || t.trace_id)),
    el("td", { class: "preview" }, t.request_preview || ""),
    el("td", { class: "preview" }, t.response_preview || ""),
    el("td", {}, el("span", { class: `state ${t.state}` }, t.state)),
    el("td", { class: "nowrap" }, fmtTime(t.request_time)),
    el("td", { class: "num" }, fmtMs(t.execution_time_ms)),
    el("td", { class: "num" }, t.total_tokens ?? ""),
    el("td", { class: "num" }, fmtCost(t.cost)),
    el("td", {}, t.model_id ? el("a", { href: hashFor("traces", { model_id: t.model_id }), title: t.model_id }, t.model_name || t.model_id) : ""),
    el("td", { class: "nowrap" }, session),
    el("td", {}, t.user || ""),
    el("td", {}, tags),
    feedbackNames.map((n) => el("td", { class: "fb" }, fmtValue((t.feedback || {})[n]))));
}
