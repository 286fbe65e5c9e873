// The try-it page's markup and style, served by routes/ui.ts. Plain strings: no framework, no build
// step, nothing fetched from elsewhere. The script is a separate file (app-js.ts) so the page runs
// under a CSP without 'unsafe-inline'. Everything the page shows comes from the API it calls.

/** The page. `maxBatch` (MAX_BATCH) tells the script how many files go in one batch request. */
export function pageHtml(opts: { maxBatch: number }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resnet-edge: try the model</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/v1/ui/app.css">
<script type="module" src="/v1/ui/app.js"></script>
</head>
<body>
<header>
<h1>resnet-edge</h1>
<p>Classify your own photos with the model this worker serves. Images go only to this worker.</p>
</header>
<main id="app" data-max-batch="${opts.maxBatch}">
<section aria-labelledby="h-pick">
<h2 id="h-pick">Choose images</h2>
<div id="drop" class="drop">
<p>Drop images here, paste one (Ctrl+V), or:</p>
<div class="pickers">
<input id="file" class="vh" type="file" accept="image/*" multiple>
<label for="file" class="button">Choose files</label>
<input id="camera" class="vh" type="file" accept="image/*" capture="environment">
<label for="camera" class="button">Take a photo</label>
</div>
<p class="hint">A photo in any format the worker reads (it says which when it cannot). Several files are sent as a batch (<code>/v1/classify/batch</code>, up to ${opts.maxBatch} per request).</p>
</div>
</section>
<section aria-labelledby="h-opts" class="opts">
<h2 id="h-opts">Options</h2>
<div class="row">
<label for="model">Model</label>
<select id="model"><option value="">loading…</option></select>
</div>
<div class="row">
<label for="size">Size</label>
<select id="size" aria-describedby="size-help"><option value="default">default</option><option value="native">native</option></select>
</div>
<div class="row">
<label for="topk">Top k</label>
<input id="topk" type="number" min="1" max="10" value="5" inputmode="numeric">
</div>
<div class="row">
<label for="tta">Test-time augmentation</label>
<input id="tta" type="checkbox" aria-describedby="tta-help">
</div>
<p id="size-help" class="hint">default: the short side is scaled to the model's training size. native: the whole image at its own resolution (scaled down only past the tensor limit).</p>
<p id="tta-help" class="hint">test-time augmentation: averages the model's answers over 4 views of the image (centre, mirrored, two shifted crops); about 4x the compute.</p>
<p id="model-info" class="hint"></p>
</section>
<section aria-labelledby="h-out">
<h2 id="h-out">Results</h2>
<p id="status" class="status" role="status">No image yet.</p>
<div id="results" aria-live="polite"></div>
</section>
<section aria-labelledby="h-fb" id="feedback">
<h2 id="h-fb">This is actually…</h2>
<p class="hint">Tell the worker what an image really shows, for the next fine-tune. Needs the worker's <code>FEEDBACK_TOKEN</code> (<code>npm start</code> writes one to <code>.dev.vars</code>). The token stays in this page's memory only: never in the URL, storage or cookies.</p>
<div class="row">
<label for="token">Feedback token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false">
</div>
<p id="fb-image" class="hint">Image: none yet (classify one first, or use a result's “This is actually…” button).</p>
<div class="row">
<label for="fb-class">Class</label>
<select id="fb-class"><option value="">a new class (type its name below)</option></select>
</div>
<div class="row">
<label for="fb-new">New class name</label>
<input id="fb-new" type="text" autocomplete="off" spellcheck="false" placeholder="red_panda" aria-describedby="fb-new-help">
</div>
<p id="fb-new-help" class="hint">Letters, digits, _ or -, 1-64 characters. Used when no class is selected above.</p>
<button id="fb-send" type="button" disabled>Send feedback</button>
<p id="fb-out" class="status" role="status" aria-live="polite"></p>
</section>
</main>
<footer><a href="/v1/openapi.json">API (OpenAPI)</a> · <a href="/v1/models">/v1/models</a> · <a href="/readyz">/readyz</a></footer>
</body>
</html>
`;
}

export const APP_CSS = `:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fafafa;--muted:#5a5a66;--line:#d0d0d8;--accent:#1f5fbf;--bar:#2f7de1;--err:#a3161d;--warn:#7a4d00;--card:#fff}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8ee;--bg:#141418;--muted:#a8a8b4;--line:#3a3a44;--accent:#8ab4ff;--bar:#4d8fe8;--err:#ff8a8f;--warn:#f2c46b;--card:#1d1d23}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:52rem;padding:1rem;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.4rem 0 .5rem}
a{color:var(--accent)}code{font-size:.9em}
.hint{color:var(--muted);font-size:.9rem;margin:.3rem 0}
.drop{border:2px dashed var(--line);border-radius:.6rem;padding:1rem;text-align:center}
.drop.over{border-color:var(--accent);background:color-mix(in srgb,var(--accent) 10%,transparent)}
.pickers{display:flex;gap:.6rem;justify-content:center;flex-wrap:wrap}
.button,button{display:inline-block;font:inherit;padding:.5rem 1rem;border-radius:.4rem;border:1px solid var(--accent);background:var(--accent);color:var(--bg);cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}
button:disabled{opacity:.5;cursor:not-allowed}
.vh{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0;padding:0}
.vh:focus-visible+label,button:focus-visible,select:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.row{display:flex;align-items:center;gap:.6rem;margin:.4rem 0;flex-wrap:wrap}
.row label{min-width:8rem;font-weight:600}
.row select,.row input{font:inherit;padding:.35rem;border:1px solid var(--line);border-radius:.3rem;background:var(--card);color:var(--fg);flex:1;min-width:0;max-width:24rem}
.status{min-height:1.45em;margin:.3rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:.8rem;margin:.8rem 0;display:grid;grid-template-columns:8rem 1fr;gap:.8rem}
.card h3{grid-column:1/-1;margin:0;font-size:1rem;overflow-wrap:anywhere}
.card img{width:8rem;max-height:8rem;object-fit:contain;border-radius:.3rem}
.bars{list-style:none;margin:0;padding:0}
.bars li{display:grid;grid-template-columns:minmax(0,1fr) 4.2rem;column-gap:.5rem;margin:.15rem 0 .5rem}
.bars .name{overflow-wrap:anywhere}.bars .wnid{color:var(--muted);font-size:.8rem;margin-left:.3rem}
.bars .score{text-align:right;font-variant-numeric:tabular-nums}
.bar{grid-column:1/-1;height:.55rem;background:var(--line);border-radius:.3rem;overflow:hidden}
.fill{height:100%;width:0;background:var(--bar)}
.bars li:first-child .name{font-weight:700}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.1rem .7rem;margin:.6rem 0 0;font-size:.9rem}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.error{color:var(--err);font-weight:600;overflow-wrap:anywhere}
.warnings{color:var(--warn);margin:.4rem 0 0;padding-left:1.2rem}
.card .actions{margin-top:.6rem}
footer{margin:2rem 0 1rem;color:var(--muted);font-size:.9rem}
@media (max-width:32rem){.card{grid-template-columns:1fr}.card img{width:100%;max-height:12rem}.row label{min-width:100%}}
`;
