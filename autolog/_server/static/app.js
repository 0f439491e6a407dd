// autolog UI shell: the hash router, the API wrapper (bearer token) and the DOM helpers every page uses.
// Rule for all pages: values from the API go into the page as text nodes or attributes, never as HTML.

const TOKEN_KEY = "autolog.token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

// One pending token prompt shared by all requests that got a 401 at the same time.
let tokenPrompt = null;

export async function api(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json", ...(opts.headers || {}) };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(path, { method: opts.method || "GET", headers, body });
    if (resp.status === 401 && attempt < 3) {
      sessionStorage.removeItem(TOKEN_KEY);
      await askToken(attempt > 0);
      continue;  // retry with the token just entered
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }
}

function askToken(wrong) {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve) => {
    const input = el("input", { type: "password", "data-testid": "token-input", placeholder: "token", autocomplete: "off" });
    const form = el("form", { class: "token-form", "data-testid": "token-form" },
      el("h2", {}, "This server needs a token"),
      el("p", { class: "muted" }, wrong ? "That token was refused; try again." : "Enter the AUTOLOG_UI_TOKEN of this server."),
      input, el("button", { type: "submit" }, "Continue"));
    const overlay = el("div", { class: "overlay" }, form);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value);
      overlay.remove();
      tokenPrompt = null;
      resolve();
    });
    document.body.append(overlay);
    input.focus();
  });
  return tokenPrompt;
}

// el("a", {href, class, "data-x": 1, onclick: fn}, "text", child...) - strings become text nodes.
export function el(tag, props = {}, ...children) {
  const svg = ["svg", "rect", "line", "circle", "text", "g", "path", "title"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {  // handlers only as functions: an inline handler string is never written
      if (typeof value === "function") node.addEventListener(key.slice(2), value);
    } else if (key === "text") node.textContent = String(value);
    else if (key === "value" && !svg) node.value = value;
    else if (key === "checked" || key === "disabled" || key === "selected") node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// --- formatting -------------------------------------------------------------------------------------------

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(Number(ms));
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms === 0) return "0 ms";
  if (ms < 0.01) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1) return `${Number(ms).toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function fmtCost(usd) {
  if (usd === null || usd === undefined) return "";
  const v = typeof usd === "object" ? usd.total_cost : usd;
  if (v === null || v === undefined) return "";
  return v < 0.01 ? `$${Number(v).toPrecision(2)}` : `$${Number(v).toFixed(4)}`;
}

export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(digits)));
  return String(v);
}

export function fmtValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number") return fmtNum(v);
  return JSON.stringify(v);
}

export function tokensOf(usage) {
  if (!usage) return null;
  if (typeof usage === "number") return usage;
  return usage.total_tokens ?? null;
}

// A feedback dict of Assessment.to_dictionary(): its value, whichever kind it is.
export function assessmentValue(a) {
  if (a.feedback) return a.feedback.error ? `error: ${a.feedback.error.error_message || a.feedback.error.error_code}` : a.feedback.value;
  if (a.expectation) {
    const sv = a.expectation.serialized_value;
    return sv ? sv.value : a.expectation.value;
  }
  return null;
}

export function errorBox(err) {
  const msg = err instanceof ApiError ? `${err.status}: ${err.message}` : String(err && err.message ? err.message : err);
  return el("div", { class: "error", role: "alert" }, msg);
}

// --- routing ----------------------------------------------------------------------------------------------

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params };
}

export function hashFor(path, params = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  const s = qs.toString();
  return `#/${path}${s ? `?${s}` : ""}`;
}

export function navigate(path, params) {
  const target = hashFor(path, params);
  if (location.hash === target) route();  // same address (e.g. the next queue item): draw it again
  else location.hash = target;
}

const ROUTES = {
  traces: () => import("./traces.js"),
  trace: () => import("./trace.js"),
  versions: () => import("./versions.js"),
  evaluations: () => import("./evaluations.js"),
  labeling: () => import("./labeling.js"),
};

let cleanup = null;
let generation = 0;

// A page module exports render(main, {parts, params, isCurrent}) and may return a cleanup function (timers).
async function route() {
  const { parts, params } = parseHash();
  const name = parts[0] || "traces";
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  const mine = ++generation;
  const main = document.getElementById("main");
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === name || (name === "trace" && a.dataset.nav === "traces"));
  }
  const loader = ROUTES[name];
  if (!loader) {
    clear(main, el("h1", {}, "Not found"), el("p", {}, "No page ", el("code", {}, location.hash), "."));
    return;
  }
  clear(main, el("p", { class: "muted" }, "Loading…"));
  try {
    const page = await loader();
    // isCurrent: a slow request of a page the user already left must not draw over the new page
    const result = await page.render(main, { parts, params, isCurrent: () => mine === generation });
    if (mine === generation) cleanup = result;
    else if (typeof result === "function") result();
  } catch (err) {
    if (mine === generation) clear(main, errorBox(err));
  }
}

window.addEventListener("hashchange", route);
if (!location.hash) history.replaceState(null, "", "#/traces");
route();
