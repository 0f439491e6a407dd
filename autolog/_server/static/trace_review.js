// The trace page's review panel: tags, feedback and expectations by a named reviewer (HUMAN assessments).
import { api, assessmentValue, clear, el, errorBox, fmtValue } from "./app.js";

export const REVIEWER_KEY = "autolog.reviewer";  // the reviewer's name, remembered across pages

export function tagEditor(traceId, tags) {
  const list = el("span", { class: "chips", "data-testid": "tags" });
  const base = `/api/traces/${encodeURIComponent(traceId)}/tags`;
  const chip = (k, v) => {
    const c = el("span", { class: "chip", "data-tag": k }, `${k}=${v}`);
    if (!k.startsWith("mlflow.")) {
      c.append(el("button", { class: "link", title: "remove tag", "data-testid": "remove-tag", onclick: async () => {
        await api(`${base}/${encodeURIComponent(k)}`, { method: "DELETE" });
        c.remove();
      } }, "×"));
    }
    return c;
  };
  for (const [k, v] of Object.entries(tags)) if (!k.startsWith("mlflow.")) list.append(chip(k, v));
  const key = el("input", { placeholder: "tag key", "data-testid": "tag-key", size: 12 });
  const value = el("input", { placeholder: "value", "data-testid": "tag-value", size: 12 });
  const msg = el("span");
  const form = el("form", { class: "inline" }, key, value, el("button", { type: "submit" }, "Add tag"), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!key.value.trim()) return;
    try {
      await api(base, { method: "POST", body: { key: key.value.trim(), value: value.value } });
      list.querySelector(`[data-tag="${CSS.escape(key.value.trim())}"]`)?.remove();
      list.append(chip(key.value.trim(), value.value));
      key.value = ""; value.value = ""; clear(msg);
    } catch (err) { clear(msg, errorBox(err)); }
  });
  return el("div", { class: "tag-editor" }, el("span", { class: "k" }, "tags "), list, form);
}

export function feedbackForm(traceId, reload, currentSpan) {
  const reviewer = el("input", { "data-testid": "reviewer-input", placeholder: "your name", value: localStorage.getItem(REVIEWER_KEY) || "" });
  reviewer.addEventListener("change", () => localStorage.setItem(REVIEWER_KEY, reviewer.value.trim()));
  const name = el("input", { "data-testid": "feedback-name", value: "user_feedback", size: 16 });
  const rationale = el("input", { "data-testid": "feedback-rationale", placeholder: "why (optional)", size: 30 });
  const msg = el("span", { class: "msg-slot", "data-testid": "feedback-message" });
  const onSpan = el("input", { type: "checkbox", "data-testid": "feedback-on-span" });
  const send = async (kind, assessmentName, value) => {
    const who = reviewer.value.trim() || "anonymous";
    localStorage.setItem(REVIEWER_KEY, who);
    const body = { kind, name: assessmentName, value, reviewer: who };
    if (rationale.value.trim()) body.rationale = rationale.value.trim();
    const span = currentSpan();
    if (onSpan.checked && span && span.parent_id) body.span_id = span.span_id;  // the root stands for the trace
    try {
      await api(`/api/traces/${encodeURIComponent(traceId)}/assessments`, { method: "POST", body });
      clear(msg, el("span", { class: "ok" }, `saved ${assessmentName}`));
      await reload();
    } catch (err) { clear(msg, errorBox(err)); }
  };
  const thumb = (v, label) => el("button", { "data-testid": "feedback-button", "data-value": String(v), title: v ? "good" : "bad",
    class: "thumb", onclick: () => send("feedback", name.value.trim() || "user_feedback", v) }, label);

  // one generic form for the other kinds: the value widget follows the chosen kind
  const kind = el("select", { "data-testid": "assessment-kind" },
    [["number", "number"], ["category", "category"], ["text", "free text"], ["expectation", "expectation (the right answer)"]]
      .map(([v, l]) => el("option", { value: v }, l)));
  const otherName = el("input", { "data-testid": "assessment-name", placeholder: "name", size: 16 });
  const slot = el("span");
  let valueInput;
  const paint = () => {
    const k = kind.value;
    valueInput = k === "number" ? el("input", { type: "number", step: "any", "data-testid": "assessment-value" })
      : k === "category" ? el("input", { "data-testid": "assessment-value", placeholder: "category" })
        : el("textarea", { "data-testid": "assessment-value", rows: 2, cols: 40, placeholder: k === "expectation" ? "the right answer" : "text" });
    clear(slot, valueInput);
    otherName.placeholder = k === "expectation" ? "expected_response" : "name";
  };
  kind.addEventListener("change", paint);
  paint();
  const other = el("form", { class: "inline" }, kind, otherName, slot, el("button", { type: "submit", "data-testid": "assessment-submit" }, "Add"));
  other.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const k = kind.value;
    const n = otherName.value.trim() || (k === "expectation" ? "expected_response" : "");
    if (!n) { clear(msg, errorBox("give the assessment a name")); return; }
    const raw = valueInput.value;
    if (k === "number" && (raw === "" || Number.isNaN(Number(raw)))) { clear(msg, errorBox("enter a number")); return; }
    send(k === "expectation" ? "expectation" : "feedback", n, k === "number" ? Number(raw) : raw);
  });
  return el("div", { class: "feedback-form" },
    el("div", { class: "inline" }, el("label", {}, "reviewer ", reviewer), el("label", {}, "name ", name),
      thumb(true, "✔ good"), thumb(false, "✘ bad"), rationale,
      el("label", { title: "attach the assessment to the span selected in the tree" }, onSpan, " on the selected span")),
    other, msg);
}

export function assessmentTable(list) {
  if (!list.length) return el("p", { class: "muted" }, "No assessments yet.");
  return el("table", { class: "grid", "data-testid": "assessments" },
    el("thead", {}, el("tr", {}, ["name", "kind", "value", "source", "rationale", "span"].map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((a) => el("tr", { class: a.valid === false ? "invalid" : "" },
      el("td", {}, a.assessment_name), el("td", {}, a.feedback ? "feedback" : "expectation"),
      el("td", {}, fmtValue(assessmentValue(a))),
      el("td", {}, `${(a.source || {}).source_type || ""}${(a.source || {}).source_id ? ` · ${a.source.source_id}` : ""}`),
      el("td", {}, a.rationale || ""), el("td", { class: "muted" }, a.span_id || "")))));
}
