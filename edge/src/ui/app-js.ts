// The try-it page's script, served as /v1/ui/app.js (a module script: strict, deferred). Plain browser
// JavaScript in a string, so wrangler bundles it as is and the page's CSP can say script-src 'self'.
// It only talks to this worker's API and renders what the API answers: errors are the API's own
// {error: {code, message}}. The feedback token lives in one variable: never in the URL, storage or
// cookies. (No backticks or dollar-brace in here: this is a template literal.)
export const APP_JS = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
const app = $("app");
const maxBatch = Math.max(1, Number(app.dataset.maxBatch) || 8);
const state = { files: [], target: null, token: "", run: 0, urls: [] };

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "className" || k === "textContent") e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Every call answers {ok, status, body} or {ok: false, status, code, message}: the API's error when it
// sent one, else what happened on the wire.
async function api(path, init) {
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, code: "network", message: "the worker did not answer (" + e.message + "): is it still running?" };
  }
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  if (res.ok && body !== null) return { ok: true, status: res.status, body };
  const err = body && body.error;
  if (err && err.message) return { ok: false, status: res.status, code: err.code || "", message: err.message };
  return { ok: false, status: res.status, code: "", message: "HTTP " + res.status + (text ? ": " + text.slice(0, 200) : "") };
}
const errorText = (r) => (r.status ? r.status + " " : "") + (r.code ? r.code + ": " : "") + r.message;

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "status error" : "status";
}

const pct = (x) => (100 * x).toFixed(1) + "%";
const fmt = (v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : String(v));
const ms = (v) => (typeof v === "number" ? (Math.round(v * 10) / 10) + " ms" : fmt(v));
const px = (o) => (o && o.width !== undefined ? o.width + "×" + o.height : fmt(o));

// ---- models and options ----
async function loadModels() {
  const sel = $("model");
  const r = await api("/v1/models");
  sel.replaceChildren();
  if (!r.ok) {
    sel.append(el("option", { value: "", textContent: "unavailable" }));
    setStatus("Could not list the models: " + errorText(r), true);
    return;
  }
  const models = Array.isArray(r.body.models) ? r.body.models : [];
  if (models.length === 0) {
    sel.append(el("option", { value: "", textContent: "none published" }));
    setStatus("No model is published in this worker's bucket: start it with npm start, or publish one with npm run trainer -- publish.", true);
    return;
  }
  for (const m of models) {
    const o = el("option", { value: m.name, textContent: m.name + (m.default ? " (default)" : "") });
    if (m.default) o.selected = true;
    sel.append(o);
  }
  await loadModel();
}

async function loadModel() {
  const name = $("model").value;
  const info = $("model-info");
  const fbClass = $("fb-class");
  fbClass.replaceChildren(el("option", { value: "", textContent: "a new class (type its name below)" }));
  if (!name) return;
  const r = await api("/v1/models/" + encodeURIComponent(name));
  if (!r.ok) {
    info.textContent = "Model " + name + ": " + errorText(r);
    info.className = "hint error";
    return;
  }
  const m = r.body;
  const classes = Array.isArray(m.classes) ? m.classes : [];
  const topk = $("topk");
  if (classes.length > 0) {
    topk.max = String(classes.length);
    if (Number(topk.value) > classes.length) topk.value = String(classes.length);
  }
  const acc = m.metrics && typeof m.metrics.valAccuracy === "number" ? ", val accuracy " + pct(m.metrics.valAccuracy) : "";
  const arch = m.architecture && m.architecture.name ? m.architecture.name + ", " : "";
  info.textContent = m.name + " version " + m.version + " (" + arch + classes.length + " classes" + acc + ")";
  info.className = "hint";
  for (const c of classes) fbClass.append(el("option", { value: c.wnid, textContent: (c.label || c.wnid) + " (" + c.wnid + ")" }));
}

// The size modes the API offers, from its own OpenAPI document (falls back to the page's list).
async function loadSizes() {
  const r = await api("/v1/openapi.json");
  if (!r.ok) return;
  try {
    const params = r.body.paths["/v1/classify"].post.parameters;
    const values = params.find((p) => p.name === "size").schema.enum;
    if (!Array.isArray(values) || values.length === 0) return;
    const sel = $("size");
    const keep = sel.value;
    sel.replaceChildren(...values.map((v) => el("option", { value: String(v), textContent: String(v) })));
    if (values.map(String).includes(keep)) sel.value = keep;
  } catch {
    // An older document without the enum: keep the page's options.
  }
}

function query() {
  const q = new URLSearchParams();
  if ($("model").value) q.set("model", $("model").value);
  q.set("size", $("size").value);
  q.set("top_k", $("topk").value.trim());
  if ($("tta").checked) q.set("tta", "1");
  return "?" + q.toString();
}

// ---- classify ----
async function classify(files) {
  if (files.length === 0) return;
  const run = ++state.run;
  state.files = files;
  for (const u of state.urls) URL.revokeObjectURL(u);
  state.urls = [];
  const out = $("results");
  out.dataset.started = String(run);
  out.replaceChildren();
  out.setAttribute("aria-busy", "true");
  // On a phone the results start below the fold: bring them up (only when they are out of view).
  const heading = $("h-out");
  if (heading.getBoundingClientRect().top > window.innerHeight * 0.6) heading.scrollIntoView({ behavior: "smooth", block: "start" });
  setStatus("Classifying " + (files.length === 1 ? (files[0].name || "the image") : files.length + " images") + "…");
  let failed = 0;
  const started = performance.now();
  if (files.length === 1) {
    const f = files[0];
    const r = await api("/v1/classify" + query(), { method: "POST", body: f, headers: { "content-type": f.type || "application/octet-stream" } });
    if (run !== state.run) return;
    if (!r.ok) failed++;
    out.append(card(f, r.ok ? r.body : null, r.ok ? null : r, r.ok ? r.body.model : null, "round trip " + ms(performance.now() - started)));
    if (r.ok) setTarget(f);
  } else {
    for (let i = 0; i < files.length; i += maxBatch) {
      const chunk = files.slice(i, i + maxBatch);
      const form = new FormData();
      for (const f of chunk) form.append("image", f, f.name || "image");
      const t0 = performance.now();
      const r = await api("/v1/classify/batch" + query(), { method: "POST", body: form });
      if (run !== state.run) return;
      if (!r.ok) {
        failed += chunk.length;
        for (const f of chunk) out.append(card(f, null, r, null, null));
        continue;
      }
      const trip = "round trip " + ms(performance.now() - t0) + " for the batch of " + chunk.length;
      for (const res of r.body.results) {
        const f = chunk[res.index];
        const bad = res.status !== 200;
        if (bad) failed++;
        const err = bad ? { status: res.status, code: res.error ? res.error.code : "", message: res.error ? res.error.message : "failed" } : null;
        out.append(card(f, bad ? null : res, err, r.body.model, trip));
      }
    }
  }
  out.removeAttribute("aria-busy");
  out.dataset.done = String(run); // started == done: nothing in flight (the browser test waits on it)
  const n = files.length;
  if (n === 1) setStatus(failed ? "The worker refused the image." : "Done.", failed > 0);
  else setStatus("Done: " + (n - failed) + " of " + n + " images classified" + (n > maxBatch ? " (in " + Math.ceil(n / maxBatch) + " batch requests)" : "") + ".", failed > 0);
}

function card(file, ok, err, model, trip) {
  const name = file.name || "pasted image";
  const url = URL.createObjectURL(file);
  state.urls.push(url);
  const c = el("article", { className: "card" });
  c.append(el("h3", { textContent: name }), el("img", { src: url, alt: "the image sent: " + name }));
  const body = el("div");
  c.append(body);
  if (err) {
    body.append(el("p", { className: "error", textContent: errorText(err) }));
    return c;
  }
  const preds = Array.isArray(ok.predictions) ? ok.predictions : [];
  const list = el("ol", { className: "bars", "aria-label": "top " + preds.length + " classes" });
  for (const p of preds) {
    const fill = el("div", { className: "fill" });
    fill.style.width = Math.max(0, Math.min(100, 100 * p.score)).toFixed(1) + "%";
    const wnid = p.label && p.wnid && p.label !== p.wnid ? el("span", { className: "wnid", textContent: p.wnid }) : null;
    list.append(el("li", {},
      el("span", {}, el("span", { className: "name", textContent: p.label || p.wnid }), wnid),
      el("span", { className: "score", textContent: pct(p.score) }),
      el("div", { className: "bar", "aria-hidden": "true" }, fill)));
  }
  body.append(list);
  const facts = el("dl", { className: "facts" });
  const fact = (k, v, cls) => facts.append(el("dt", { textContent: k }), el("dd", cls ? { className: cls, textContent: v } : { textContent: v }));
  if (model) fact("model", model.name + " " + model.version, "model");
  const input = ok.input || {};
  if (input.width !== undefined) fact("image", (input.format ? input.format + ", " : "") + px(input) + " px decoded", "decoded");
  if (input.tensor) {
    const t = input.tensor;
    const rest = Object.keys(t).filter((k) => k !== "width" && k !== "height").map((k) => k + " " + fmt(t[k]));
    fact("tensor", px(t) + " (W×H the net saw)" + (rest.length ? "; " + rest.join(", ") : ""), "tensor");
  }
  // Size fields this page does not know yet (e.g. a requested or aligned size): shown as they come.
  for (const [k, v] of Object.entries(input)) if (!["format", "width", "height", "tensor"].includes(k)) fact(k, px(v));
  // With tta=1: the views the API averaged, and what that cost in model runs.
  if (ok.tta && Array.isArray(ok.tta.views)) fact("tta", ok.tta.views.map(fmt).join(", ") + " (" + ok.tta.modelRuns + " model runs)", "tta");
  const timing = ok.timing ? Object.entries(ok.timing).map(([k, v]) => k + " " + ms(v)) : [];
  if (trip) timing.push(trip);
  if (timing.length) fact("timing", timing.join(" · "), "timing");
  body.append(facts);
  if (Array.isArray(ok.warnings) && ok.warnings.length) {
    body.append(el("ul", { className: "warnings", "aria-label": "warnings" },
      ...ok.warnings.map((w) => el("li", { textContent: typeof w === "string" ? w : (w && w.message) || fmt(w) }))));
  }
  const fix = el("button", { type: "button", className: "secondary", textContent: "This is actually…" });
  fix.addEventListener("click", () => {
    setTarget(file);
    $("fb-class").focus();
  });
  body.append(el("div", { className: "actions" }, fix));
  return c;
}

// ---- feedback ----
function setTarget(file) {
  state.target = file;
  $("fb-image").textContent = "Image: " + (file.name || "pasted image") + " (" + file.size + " bytes)";
}

async function sendFeedback() {
  const out = $("fb-out");
  const say = (text, isError) => { out.textContent = text; out.className = isError ? "status error" : "status"; };
  if (!state.target) return say("Classify an image first: feedback is about an image.", true);
  if (!state.token) return say("Paste the feedback token first (FEEDBACK_TOKEN; npm start writes it to .dev.vars).", true);
  const label = $("fb-class").value || $("fb-new").value.trim();
  if (!label) return say("Choose a class, or type a new class name.", true);
  const form = new FormData();
  form.append("image", state.target, state.target.name || "image");
  form.append("label", label);
  say("Sending…");
  const r = await api("/v1/feedback", { method: "POST", body: form, headers: { authorization: "Bearer " + state.token } });
  if (!r.ok) return say(errorText(r), true);
  say((r.body.stored ? "Stored, thank you: " : "Already stored (same image and class): ") + r.body.key + " (" + r.body.label + ", " + r.body.width + "×" + r.body.height + ")");
}

// ---- inputs: picker, camera, drop, paste ----
function picked(e) {
  const files = Array.from(e.target.files || []);
  e.target.value = "";
  classify(files);
}
$("file").addEventListener("change", picked);
$("camera").addEventListener("change", picked);
const drop = $("drop");
for (const t of ["dragenter", "dragover"]) drop.addEventListener(t, () => drop.classList.add("over"));
for (const t of ["dragleave", "drop"]) drop.addEventListener(t, () => drop.classList.remove("over"));
// Anywhere on the page: a dropped file is classified, never opened by the browser.
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const files = Array.from((e.dataTransfer && e.dataTransfer.files) || []);
  if (files.length) classify(files);
});
document.addEventListener("paste", (e) => {
  const files = Array.from((e.clipboardData && e.clipboardData.files) || []);
  if (files.length === 0) return; // text: let it paste (e.g. the token)
  e.preventDefault();
  classify(files);
});
$("model").addEventListener("change", async () => {
  await loadModel();
  classify(state.files);
});
for (const id of ["size", "topk", "tta"]) $(id).addEventListener("change", () => classify(state.files));
$("token").addEventListener("input", (e) => { state.token = e.target.value.trim(); });
$("fb-class").addEventListener("change", () => { $("fb-new").disabled = $("fb-class").value !== ""; });
$("fb-send").disabled = false;
$("fb-send").addEventListener("click", sendFeedback);

loadSizes();
loadModels();
`;
