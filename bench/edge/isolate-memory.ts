// The isolate's memory in real workerd, measured, for the 110 MB goal (edge/README.md "Memory budget"):
// the worker as deployed (wrangler.toml [vars], the shipped int8 model in R2) runs the worst sequence for
// ORT's heap, then the worst accepted decode of every decode path, one request each, in the same isolate.
//   NODE_OPTIONS=--experimental-websocket npx tsx bench/edge/isolate-memory.ts [--runs 20] [--swaps 5] [--set VAR=value ...] [--only jpeg-progressive,...]
// Needs sharp and cwebp (Debian `webp`) and ../shared/data/imagenette. Memory only: fine on a busy machine.
//
// What is measured, per step (MiB):
// - ort: ORT's wasm memory (byteLength, read inside the isolate by bench/edge/memory-worker.ts);
// - dec: the decoder's wasm memory at the end of its decode (its high-water mark, read inside), plus the
//   other decoders' live memories;
// - js: the V8 heap (totalSize) plus ArrayBuffer backing stores, from the V8 inspector
//   (Runtime.getHeapUsage) after a forced GC before the request and again when it answered (no GC): the
//   larger committed heap size plus the larger backing-store total, i.e. the request's JS buffers and its
//   body on top of what the isolate held.
//   A GC during the request would hide part of that, so:
// - rssPeak: workerd's peak resident memory during the request (VmHWM after clear_refs 5) minus its resident
//   memory before: an OS-level measure of everything the request added at its peak (wasm pages touched,
//   JS buffers, the body in the runtime).
// - total = ort + dec + js, or (ort + dec + js before the request) + rssPeak when that is larger: the
//   isolate's memory at the request's peak. 110 MB = 104.9 MiB.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { repoRoot, IMAGENETTE_DIR } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";
import { makePng } from "../../test/edge/helpers/images.ts";
import { servingConfig, shrinkDenominator, validateManifest } from "@resnet-edge/shared";
import { bigJpeg } from "../jpeg/inputs.ts";
import { png as bigPng, webp as bigWebp } from "./big-images.ts";
import { childPids } from "./cpu-time.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : argv[i + 1]!;
};
const runs = Number(arg("runs", "20"));
const swaps = Number(arg("swaps", "5"));
const only = argv.includes("--only") ? arg("only", "").split(",") : null;
const overrides = Object.fromEntries(argv.flatMap((a, i) => (argv[i - 1] === "--set" ? [a.split("=") as [string, string]] : [])));
const vars = { ...wranglerVars(), ...overrides };
const MiB = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
const tmp = mkdtempSync(join(tmpdir(), "isolate-memory-"));

const before = new Set(childPids(process.pid, "workerd"));
const port = 9300 + (process.pid % 500);
const worker = await startWorker({
  entry: "bench/edge/memory-worker.ts",
  r2Buckets: ["MODELS"],
  bindings: { ...vars, MODEL_POLL_SECONDS: "0" },
  miniflare: { inspectorPort: port } as never,
});
const pid = childPids(process.pid, "workerd").find((p) => !before.has(p))!;

// The V8 inspector of the user worker's isolate
const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
const target = targets.find((t) => t.id === "core:user:") ?? targets[0]!;
interface Socket {
  send(data: string): void;
  close(): void;
  addEventListener(type: "open" | "message", fn: (e: { data: unknown }) => void): void;
}
const WS = (globalThis as { WebSocket?: new (url: string) => Socket }).WebSocket;
if (!WS) throw new Error("no WebSocket in this Node: run with NODE_OPTIONS=--experimental-websocket (Node 20)");
const ws = new WS(target.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r));
let nextId = 0;
const pending = new Map<number, (v: unknown) => void>();
ws.addEventListener("message", (m) => {
  const j = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
  if (j.id !== undefined) pending.get(j.id)?.(j.result);
});
const cdp = <T>(method: string, params = {}, waitMs = 30_000): Promise<T> =>
  new Promise((resolve, reject) => {
    const id = ++nextId;
    const timer = setTimeout(() => reject(new Error(`${method}: no answer from the inspector in ${waitMs} ms`)), waitMs);
    pending.set(id, (v) => {
      clearTimeout(timer);
      resolve(v as T);
    });
    ws.send(JSON.stringify({ id, method, params }));
  });
interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize: number;
}
const heapUsage = () => cdp<HeapUsage>("Runtime.getHeapUsage");
await cdp("HeapProfiler.enable");
// workerd answers collectGarbage only once the isolate next runs JS (the GC itself is done at once), so
// send it, then wake the isolate with a request, then take the answer.
let gcMissed = 0;
const gc = async () => {
  for (let attempt = 0; attempt < 3; attempt++) {
    const done = cdp("HeapProfiler.collectGarbage", {}, 5_000).then(
      () => true,
      () => false,
    );
    await (await worker.fetch("/__memory")).arrayBuffer();
    if (await done) return;
  }
  gcMissed++; // then the "before" figures include the last request's garbage: an overestimate
};

const status = (): Record<string, number> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .filter((l) => /^Vm(RSS|HWM):/.test(l))
      .map((l) => [l.split(":")[0]!, Number(l.split(/\s+/)[1]) * 1024]),
  );
const resetPeak = () => writeFileSync(`/proc/${pid}/clear_refs`, "5");

interface Mem {
  ort: number;
  decoders: { jpeg: number; png: number; webp: number };
  lastDecode: { jpeg: number; png: number; webp: number };
}
const inside = async (): Promise<Mem> => (await (await worker.fetch("/__memory")).json()) as Mem;

// Model in R2: the shipped files, published under several versions and names
const name = vars.DEFAULT_MODEL!;
const dir = join(repoRoot, "models", name);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const files = [manifest.model, ...Object.values(manifest.variants ?? {})].map((f) => (f as { file: string }).file);
const bucket = (await worker.mf.getR2Bucket("MODELS")) as unknown as { put(k: string, v: Uint8Array | string): Promise<unknown> };
async function publish(model: string, version: string): Promise<void> {
  for (const f of files) {
    try {
      await bucket.put(`models/${model}/${version}/${f}`, new Uint8Array(readFileSync(join(dir, f))));
    } catch {
      // the fp32 file is not shipped in models/; MODEL_VARIANT serves the int8 one
    }
  }
  await bucket.put(`models/${model}/${version}/manifest.json`, JSON.stringify({ ...manifest, name: model, version }));
  await bucket.put(`models/${model}/active.json`, JSON.stringify({ version }));
}

type Codec = "jpeg" | "png" | "webp" | null;
interface Row {
  step: string;
  status: number;
  bodyMiB: number;
  ortMiB: number;
  decMiB: number;
  jsMiB: number;
  rssPeakMiB: number;
  totalMiB: number;
}
const rows: Row[] = [];
/** One request, measured as in the header comment. */
/** `since`: measure the RSS peak from this earlier point (state after a GC) instead of from just before the request. */
interface Since {
  rss: number;
  accounted: number;
}
async function measure(step: string, path: string, body: Uint8Array, type: string, codec: Codec, since?: Since): Promise<Row> {
  if (!since) await gc();
  const h0 = await heapUsage();
  const m0 = await inside();
  const rss0 = status().VmRSS!;
  if (!since) resetPeak(); // with `since`, the peak since that point
  const res = await worker.fetch(path, { method: "POST", body: body as BodyInit, headers: { "content-type": type } });
  const text = await res.text();
  const h1 = await heapUsage();
  const peak = status().VmHWM!;
  const m1 = await inside();
  if (res.status !== 200) console.error(`${step}: ${res.status} ${text.slice(0, 300)}`);
  const others = (["jpeg", "png", "webp"] as const).filter((c) => c !== codec).reduce((s, c) => s + m1.decoders[c], 0);
  const dec = (codec ? Math.max(m1.lastDecode[codec], m1.decoders[codec]) : 0) + others;
  const jsBefore = h0.totalSize + h0.backingStorageSize;
  // The V8 heap's committed size (it holds whatever the request allocated on the heap, unless a GC shrank
  // it) plus the ArrayBuffer backing stores (the request's buffers stay until a GC)
  const js = Math.max(h0.totalSize, h1.totalSize) + Math.max(h0.backingStorageSize, h1.backingStorageSize);
  const decBefore = m0.decoders.jpeg + m0.decoders.png + m0.decoders.webp;
  const accounted = m1.ort + dec + js;
  const byRss = since ? since.accounted + (peak - since.rss) : m0.ort + decBefore + jsBefore + (peak - rss0);
  const row = { step, status: res.status, bodyMiB: MiB(body.length), ortMiB: MiB(m1.ort), decMiB: MiB(dec), jsMiB: MiB(js), rssPeakMiB: MiB(peak - (since?.rss ?? rss0)), totalMiB: MiB(Math.max(accounted, byRss)) };
  rows.push(row);
  console.log(JSON.stringify(row));
  return row;
}

const T = Number(vars.MAX_TENSOR_PIXELS);
// The largest accepted tensors at size=native: a 4:3 image scaled to fit T, and the thinnest strip (native
// tensors are padded to multiples of 32, so 32 x T/32 is the thinnest; its networkPixels = H*W).
const native = makePng(800, 600);
const strip32 = makePng(Math.floor(T / 32), 32);
const classify = async (q: string, body: Uint8Array) => {
  const r = await worker.fetch(`/v1/classify?size=native${q}`, { method: "POST", body: body as BodyInit, headers: { "content-type": "image/png" } });
  if (r.status !== 200) throw new Error(`classify${q}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
};
const many = async (q: string) => {
  for (let i = 0; i < runs; i++) await classify(q, native);
  await classify(q, strip32);
};

await publish(name, "v1");
console.error("worker up; loading the model");
await worker.fetch("/readyz");
await measure("load (first request, 64 px default)", "/v1/classify", makePng(64, 64), "image/png", "png");
await many("");
for (let s = 2; s <= swaps + 1; s++) {
  await publish(name, `v${s}`);
  await classify("", native); // reads the pointer (poll 0) and starts the load; v(s-1) answers
  for (let k = 0; k < 300 && !(await (await worker.fetch("/v1/models")).text()).includes(`"version":"v${s}"`); k++) await new Promise((r) => setTimeout(r, 100));
  await many("");
}
await publish("second", "v1");
for (let round = 1; round <= 2; round++) {
  await many("&model=second");
  await many("");
}
const seq = await measure(`after the worst sequence (${runs} x native + strips, ${swaps} swaps, a second model twice), one more native`, "/v1/classify?size=native", native, "image/png", "png");
void seq;

// The worst accepted decode per path, at the default size, in the same isolate
const px = (k: string) => Number(vars[k]);
const side = (pixels: number): [number, number] => {
  const h = Math.floor(Math.sqrt((pixels * 3) / 4));
  return [Math.floor(pixels / h), h];
};
const photo = new Uint8Array(readFileSync(join(IMAGENETTE_DIR, "val/n03888257/ILSVRC2012_val_00001440.JPEG")));
/** A 4:4:4 JPEG at MAX_PIXELS_JPEG_BASELINE with the most grain (the densest body) under MAX_BODY_BYTES. */
async function densest(progressive: boolean): Promise<Uint8Array> {
  const [w, hh] = side(px("MAX_PIXELS_JPEG_BASELINE"));
  for (const grain of [12, 10, 8, 6, 4, 2]) {
    const b = (await bigJpeg(photo, w, hh, { progressive, subsampling: "4:4:4", grain })).bytes;
    if (b.length <= px("MAX_BODY_BYTES")) return b;
  }
  throw new Error("no body under MAX_BODY_BYTES");
}
const cases: [string, string, () => Promise<Uint8Array>, string, Codec][] = [
  ["jpeg-baseline", "12 MP phone photo 4032x3024 4:2:0", async () => (await bigJpeg(photo, 4032, 3024, { progressive: false, subsampling: "4:2:0", grain: 24 })).bytes, "image/jpeg", "jpeg"],
  ["jpeg-baseline", "at the pixel limit, 4:4:4, the densest body under MAX_BODY_BYTES", () => densest(false), "image/jpeg", "jpeg"],
  // Progressive JPEGs: at the default size any photo of a few MP is decoded at 1/8 by the DC-only decoder (no
  // libjpeg, limited like a baseline JPEG); libjpeg keeps those the recipe decodes at 1/4 or larger, which for
  // the shipped model means size=native up to ~4 MP at MAX_TENSOR_PIXELS 61440 (derived below). Its own limits
  // (MAX_PIXELS_JPEG_PROGRESSIVE, MAX_JPEG_COEFFICIENT_BYTES) are out of reach of this model's requests.
  // (codec null: no wasm decoder runs; the decoder column is then the other decoders' live instances, and
  // the DC-only decoder's arrays are in the JS column)
  ["jpeg-progressive", "12 MP phone photo 4032x3024 4:2:0 (1/8, DC-only)", async () => (await bigJpeg(photo, 4032, 3024, { progressive: true, subsampling: "4:2:0", grain: 24 })).bytes, "image/jpeg", null],
  ["jpeg-progressive", "at MAX_PIXELS_JPEG_BASELINE, 4:4:4, the densest body under MAX_BODY_BYTES (1/8, DC-only)", () => densest(true), "image/jpeg", null],
  ["jpeg-cmyk", "at the limit", async () => { const [w, hh] = side(px("MAX_PIXELS_JPEG_CMYK")); return new Uint8Array(await sharp(photo).resize(w, hh, { fit: "fill" }).toColourspace("cmyk").jpeg({ quality: 90 }).toBuffer()); }, "image/jpeg", null],
  ["png", "at the limit, RGBA 8-bit", async () => { const [w, hh] = side(px("MAX_PIXELS_PNG")); return bigPng(w, hh, 4, 8); }, "image/png", "png"],
  ["png", "at the limit, RGB 8-bit", async () => { const [w, hh] = side(px("MAX_PIXELS_PNG")); return bigPng(w, hh, 3, 8); }, "image/png", "png"],
  ["png16", "at the limit, RGBA 16-bit", async () => { const [w, hh] = side(px("MAX_PIXELS_PNG16")); return bigPng(w, hh, 4, 16); }, "image/png", "png"],
  ["webp", "12 MP 4032x3024 lossy", async () => bigWebp(tmp, 4032, 3024, false), "image/webp", "webp"],
  ["webp", "at the limit, lossy", async () => { const [w, hh] = side(px("MAX_PIXELS_WEBP")); return bigWebp(tmp, w, hh, false); }, "image/webp", "webp"],
  ["webp-lossless", "at the limit, lossless + alpha", async () => { const [w, hh] = side(px("MAX_PIXELS_WEBP_LOSSLESS")); return bigWebp(tmp, w, hh, true); }, "image/webp", "webp"],
  ["webp-lossless", "at the limit, lossy + alpha", async () => { const [w, hh] = side(px("MAX_PIXELS_WEBP_LOSSLESS")); return bigWebp(tmp, w, hh, false, true); }, "image/webp", "webp"],
];
// A batch: as many 12 MP progressive phone photos as MAX_BATCH and MAX_BODY_BYTES allow, in one multipart body
// (the body is held while each image decodes in turn).
cases.push([
  "batch",
  "12 MP progressive photos up to MAX_BATCH / MAX_BODY_BYTES",
  async () => {
    const one = (await bigJpeg(photo, 4032, 3024, { progressive: true, subsampling: "4:2:0", grain: 24 })).bytes;
    const n = Math.min(Number(vars.MAX_BATCH), Math.floor((Number(vars.MAX_BODY_BYTES) - 4096) / (one.length + 200)));
    const form = new FormData();
    for (let i = 0; i < n; i++) form.append("image", new Blob([one as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }), `p${i}.jpg`);
    const req = new Request("http://x/", { method: "POST", body: form });
    batchType = req.headers.get("content-type")!;
    return new Uint8Array(await req.arrayBuffer());
  },
  "multipart",
  null, // DC-only at 1/8
]);
let batchType = "";
for (const [path, what, make, type, codec] of cases) {
  if (only && !only.includes(path)) continue;
  const body = await make();
  await measure(`${path}: ${what}`, path === "batch" ? "/v1/classify/batch" : "/v1/classify", body, type === "multipart" ? batchType : type, codec);
}
// Back to back without a forced GC: each progressive decode used to drop a libjpeg instance grown to ~37 MiB,
// garbage until V8 collected it; the RSS peak shows what is left of one before the next (now DC-only at 1/8).
if (!only || only.includes("jpeg-progressive")) {
  const p12 = (await bigJpeg(photo, 4032, 3024, { progressive: true, subsampling: "4:2:0", grain: 24 })).bytes;
  await gc();
  const h = await heapUsage();
  const m = await inside();
  const since = { rss: status().VmRSS!, accounted: m.ort + m.decoders.jpeg + m.decoders.png + m.decoders.webp + h.totalSize + h.backingStorageSize };
  resetPeak();
  for (let i = 1; i <= 3; i++) await measure(`jpeg-progressive: 12 MP phone photo, request ${i} of 3 back to back, no forced GC (RSS peak since the first)`, "/v1/classify", p12, "image/jpeg", null, since);
  // last, so that its dropped libjpeg instance is in no other row: the progressive files libjpeg still decodes
  // The largest 4:3 image whose size=native scale (from MAX_TENSOR_PIXELS) is still above 1/8.
  const served = validateManifest(manifest);
  let [lw, lh] = [0, 0];
  for (let w = 8000; w > 64 && lw === 0; w -= 4) {
    const h = Math.round((w * 3) / 4);
    const cfg = servingConfig(served, { size: "native", maxPixels: Infinity, maxTensorPixels: T, image: { width: w, height: h } });
    if (shrinkDenominator(w, h, cfg.resize) < 8) [lw, lh] = [w, h];
  }
  const native = (await bigJpeg(photo, lw, lh, { progressive: true, subsampling: "4:4:4", grain: 8 })).bytes;
  await measure(`jpeg-progressive: size=native, the largest libjpeg decodes (${lw}x${lh}, ${((lw * lh) / 1e6).toFixed(2)} MP, above 1/8), 4:4:4`, "/v1/classify?size=native", native, "image/jpeg", "jpeg");
}
ws.close();
await worker.dispose();
if (gcMissed) console.log(`(${gcMissed} forced GCs got no answer: those rows count the previous request's garbage too)`);
console.log(`\nMAX_TENSOR_PIXELS=${T} MAX_SESSIONS=${vars.MAX_SESSIONS}${Object.keys(overrides).length ? ` overrides ${JSON.stringify(overrides)}` : ""}; MiB; 110 MB = 104.9 MiB`);
console.log("| step | status | body | ORT heap | decoder wasm | JS heap + buffers | RSS peak of the request | isolate total |\n|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.step} | ${r.status} | ${r.bodyMiB} | ${r.ortMiB} | ${r.decMiB} | ${r.jsMiB} | ${r.rssPeakMiB} | **${r.totalMiB}** |`);
