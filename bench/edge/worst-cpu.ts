// Worst-case CPU per request in workerd (issue 16's goal: no request costs more than 2 s of CPU before it
// is answered). The real worker (wrangler.toml, deployed [vars], the shipped int8 model in Miniflare's R2),
// one request at a time, each request's cost read as workerd's CPU time (/proc schedstat of all its
// threads) before and after. Run it alone on an idle machine:
//   npx tsx bench/edge/worst-cpu.ts [--repeat 3] [--only <substring>]
// Prints a table: request, status, workerd CPU ms (max over repeats), wall ms.
import { join } from "node:path";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { repoRoot } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { makeJpeg, makePng } from "../../test/edge/helpers/images.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";
import { mutations, prng } from "../../test/fuzz/mutate.ts";
import { readdirSync, readFileSync } from "node:fs";
import { childPids, processCpuMs } from "./cpu-time.ts";
import { DATA_DIR } from "../../test/helpers/data.ts";
import { bigJpeg, PHOTO, readData } from "../jpeg/inputs.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const repeat = Number(arg("repeat", "3"));
const only = arg("only", "");
const vars = wranglerVars();
// The largest accepted image of each decode path (wrangler.toml's per-path limits), at 3:2.
const at = (pixels: number) => {
  const h = Math.floor(Math.sqrt(pixels / 1.5));
  return [Math.floor(h * 1.5), h] as const;
};
const [jw, jh] = at(Number(vars.MAX_PIXELS_JPEG_BASELINE));
const [pw, ph] = at(Number(vars.MAX_PIXELS_PNG));
const [qw, qh] = at(12_000_000);
// Camera-like JPEGs: a real val photo upscaled with film grain (bench/jpeg/inputs.ts; needs the team data).
const photo = readData(DATA_DIR, PHOTO);
const camera = async (w: number, h: number, progressive: boolean) => (await bigJpeg(photo, w, h, { progressive, subsampling: "4:2:0", grain: 8 })).bytes;

interface Case {
  name: string;
  path: string;
  body: () => Promise<Uint8Array> | Uint8Array;
  type: string;
}

const seedDir = join(repoRoot, "test/fuzz/seeds");
const progressive = new Uint8Array(readFileSync(join(seedDir, "progressive-40x30.jpg")));
function repeatScans(n: number): Uint8Array {
  // the same construction as the fuzz suite's "scans xN"
  let sos = -1;
  for (let i = 2; i + 1 < progressive.length; i++) if (progressive[i] === 0xff && progressive[i + 1] === 0xda) { sos = i; break; }
  const body = progressive.subarray(sos, progressive.length - 2);
  const out = new Uint8Array(sos + body.length * n + 2);
  out.set(progressive.subarray(0, sos));
  for (let k = 0; k < n; k++) out.set(body, sos + k * body.length);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}
/**
 * The worst a progressive JPEG decoded at 1/8 by the DC-only decoder can cost: the largest accepted
 * (MAX_PIXELS_JPEG_BASELINE) with its DC refinement scan repeated as often as the header walk's 100-pass
 * limit and MAX_BODY_BYTES allow (each copy makes the decoder read one bit per block again).
 */
async function dcRefinementBomb(): Promise<Uint8Array> {
  const b = await camera(jw, jh, true);
  let unit: [number, number] | null = null;
  for (let i = 2; i + 4 < b.length; i++) {
    if (b[i] !== 0xff || b[i + 1] !== 0xda) continue;
    const ns = b[i + 4]!;
    const p = i + 5 + 2 * ns;
    if (b[p] === 0 && b[p + 2]! >> 4 > 0) {
      // a DC refinement scan: from its SOS to the next marker that is not stuffing or RSTn
      let e = i + 2 + ((b[i + 2]! << 8) | b[i + 3]!);
      while (!(b[e] === 0xff && b[e + 1] !== 0 && !(b[e + 1]! >= 0xd0 && b[e + 1]! <= 0xd7))) e++;
      unit = [i, e];
    }
  }
  if (!unit) throw new Error("no DC refinement scan");
  const copy = b.subarray(unit[0], unit[1]);
  const n = Math.min(90, Math.floor((Number(vars.MAX_BODY_BYTES) - b.length) / copy.length));
  const out = new Uint8Array(b.length + n * copy.length);
  out.set(b.subarray(0, b.length - 2));
  for (let k = 0; k < n; k++) out.set(copy, b.length - 2 + k * copy.length);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}

const cases: Case[] = [
  { name: "JPEG 224x224 default", path: "/v1/classify", body: () => makeJpeg(224, 224), type: "image/jpeg" },
  { name: "JPEG 4032x3024 baseline 4:2:0 (12 MP phone photo) default", path: "/v1/classify", body: () => camera(4032, 3024, false), type: "image/jpeg" },
  { name: `JPEG ${qw}x${qh} progressive 4:2:0 (12 MP) default`, path: "/v1/classify", body: () => camera(qw, qh, true), type: "image/jpeg" },
  { name: `JPEG ${jw}x${jh} baseline 4:2:0 (MAX_PIXELS_JPEG_BASELINE) default`, path: "/v1/classify", body: () => camera(jw, jh, false), type: "image/jpeg" },
  { name: `JPEG ${jw}x${jh} baseline 4:2:0 (MAX_PIXELS_JPEG_BASELINE) native`, path: "/v1/classify?size=native", body: () => camera(jw, jh, false), type: "image/jpeg" },
  { name: `JPEG ${jw}x${jh} progressive 4:2:0 (MAX_PIXELS_JPEG_BASELINE, 1/8 DC-only) default`, path: "/v1/classify", body: () => camera(jw, jh, true), type: "image/jpeg" },
  { name: `JPEG ${jw}x${jh} progressive 4:2:0, DC refinement repeated to the pass limit (1/8 DC-only) default`, path: "/v1/classify", body: dcRefinementBomb, type: "image/jpeg" },
  { name: `PNG ${pw}x${ph} (MAX_PIXELS_PNG) default`, path: "/v1/classify", body: () => makePng(pw, ph), type: "image/png" },
  { name: "PNG 600x400 native (MAX_TENSOR_PIXELS)", path: "/v1/classify?size=native", body: () => makePng(600, 400), type: "image/png" },
  { name: "PNG 7500x32 native", path: "/v1/classify?size=native", body: () => makePng(7500, 32), type: "image/png" },
  { name: "PNG 2400000x1 (refused)", path: "/v1/classify", body: () => makePng(2_400_000, 1), type: "image/png" },
  { name: "progressive JPEG, scans x500", path: "/v1/classify", body: () => repeatScans(500), type: "image/jpeg" },
  { name: "progressive JPEG, scans x5000", path: "/v1/classify", body: () => repeatScans(5000), type: "image/jpeg" },
  { name: `batch of ${vars.MAX_BATCH} 12 MP baseline JPEGs`, path: "/v1/classify/batch", body: () => batch(4032, 3024), type: "" },
  ...readdirSync(seedDir).sort().flatMap((f) =>
    mutations(f, new Uint8Array(readFileSync(join(seedDir, f))), prng(1604), 12).map((m) => ({ name: `fuzz ${m.name}`, path: "/v1/classify?size=native", body: () => m.bytes, type: "application/octet-stream" })),
  ),
].filter((c) => c.name.includes(only));

let batchType = "";
async function batch(w: number, h: number): Promise<Uint8Array> {
  const form = new FormData();
  for (let i = 0; i < Number(vars.MAX_BATCH); i++) form.append("image", new Blob([(await camera(w, h, false)) as Uint8Array<ArrayBuffer>]), `i${i}.jpg`);
  const r = new Response(form);
  batchType = r.headers.get("content-type")!;
  return new Uint8Array(await r.arrayBuffer());
}

const worker = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, MODEL_POLL_SECONDS: "3600" } });
await publishModel(bucketTarget((await worker.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2"), { modelDir: join(repoRoot, "models", vars.DEFAULT_MODEL!) });
await worker.fetch("/readyz");
// warm up: the first run pays ORT's kernel set-up, which is not a per-request cost
for (let i = 0; i < 3; i++) await (await worker.fetch("/v1/classify", { method: "POST", body: (await makeJpeg(224, 224)) as BodyInit, headers: { "content-type": "image/jpeg" } })).arrayBuffer();
const pids = childPids(process.pid, "workerd");
const cpu = () => pids.reduce((s, p) => s + processCpuMs(p), 0);
const rows: { name: string; status: number; cpu: number; wall: number }[] = [];
for (const c of cases) {
  const body = await c.body();
  const type = c.type || batchType;
  let worst = { status: 0, cpu: 0, wall: 0 };
  for (let r = 0; r < repeat; r++) {
    const c0 = cpu();
    const t0 = performance.now();
    const res = await worker.fetch(c.path, { method: "POST", body: body as BodyInit, headers: { "content-type": type } });
    await res.arrayBuffer();
    const sample = { status: res.status, cpu: cpu() - c0, wall: performance.now() - t0 };
    if (sample.cpu > worst.cpu) worst = sample;
  }
  rows.push({ name: c.name, ...worst });
}
await worker.dispose();
rows.sort((a, b) => b.cpu - a.cpu);
console.log(`| request | status | workerd CPU ms (max of ${repeat}) | wall ms |\n|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.name} | ${r.status} | ${r.cpu.toFixed(0)} | ${r.wall.toFixed(0)} |`);
const over = rows.filter((r) => r.cpu > 2000);
console.log(over.length ? `NOT MET: ${over.length} request(s) over 2 s of CPU` : "every request under 2 s of CPU");
