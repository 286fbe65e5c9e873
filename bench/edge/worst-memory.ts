// The worst sequence for ORT's wasm heap in workerd: the real worker (wrangler.toml, deployed [vars]
// including MAX_SESSIONS) with the shipped int8 model, then 20 requests at the largest accepted tensor,
// hot swaps (new versions of the same files), and a second model through ?model=, reading /readyz's
// memory.wasmHeapBytes after each step. Memory only: safe to run on a busy machine.
//   [MAX_SESSIONS=n] npx tsx bench/edge/worst-memory.ts [--swaps 3] [--runs 20]
// ORT's heap only; bench/edge/isolate-memory.ts measures the whole isolate (ORT, decoders, JS) over the same
// kind of sequence and then the worst request of each decode path.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startWorker } from "../../test/helpers/workerd.ts";
import { makePng } from "../../test/edge/helpers/images.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";
import { repoRoot } from "../../test/helpers/data.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const swaps = Number(arg("swaps", "3"));
const runs = Number(arg("runs", "20"));
const vars = wranglerVars();
const name = vars.DEFAULT_MODEL!;
const dir = join(repoRoot, "models", name);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const onnx = new Uint8Array(readFileSync(join(dir, manifest.model.file)));
const worker = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, MODEL_POLL_SECONDS: "0", MAX_SESSIONS: process.env.MAX_SESSIONS ?? vars.MAX_SESSIONS! } });
const bucket = (await worker.mf.getR2Bucket("MODELS")) as unknown as { put(k: string, v: Uint8Array | string): Promise<unknown> };
async function publish(model: string, version: string): Promise<void> {
  await bucket.put(`models/${model}/${version}/${manifest.model.file}`, onnx);
  await bucket.put(`models/${model}/${version}/manifest.json`, JSON.stringify({ ...manifest, name: model, version }));
  await bucket.put(`models/${model}/active.json`, JSON.stringify({ version }));
}
const MiB = 2 ** 20;
const heap = async () => (((await (await worker.fetch("/readyz")).json()) as { memory: { wasmHeapBytes: number } }).memory.wasmHeapBytes / MiB).toFixed(1);
const big = makePng(600, 400);
const classify = async (q = "") => {
  const res = await worker.fetch(`/v1/classify?size=native${q}`, { method: "POST", body: big as BodyInit, headers: { "content-type": "image/png" } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`classify${q}: ${res.status}`);
};
const rows: [string, string][] = [];
await publish(name, "v1");
rows.push(["load", await heap()]);
for (let i = 0; i < runs; i++) await classify();
rows.push([`${runs} x 600x400 native`, await heap()]);
for (let s = 2; s <= swaps + 1; s++) {
  await publish(name, `v${s}`);
  await classify(); // reads the pointer (poll 0), starts the load; v(s-1) answers
  for (let k = 0; k < 200 && !(await (await worker.fetch("/v1/models")).text()).includes(`"version":"v${s}"`); k++) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < runs; i++) await classify();
  rows.push([`hot swap to v${s} + ${runs} x 600x400`, await heap()]);
}
await publish("second", "v1");
for (let round = 1; round <= 2; round++) {
  for (let i = 0; i < runs; i++) await classify("&model=second");
  rows.push([`model=second (round ${round}) + ${runs} x 600x400`, await heap()]);
  for (let i = 0; i < runs; i++) await classify();
  rows.push([`default again (round ${round}) + ${runs} x 600x400`, await heap()]);
}
await worker.dispose();
console.log(`MAX_SESSIONS=${process.env.MAX_SESSIONS ?? vars.MAX_SESSIONS} MAX_TENSOR_PIXELS=${vars.MAX_TENSOR_PIXELS}\n| step | ORT wasm heap MiB |\n|---|---|`);
for (const [step, v] of rows) console.log(`| ${step} | ${v} |`);
