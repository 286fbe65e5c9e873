// Edge inference benchmark: the same ResNet-18 ONNX on the same tensors, in one run, three ways:
//   1. onnxruntime-node, native CPU, single thread
//   2. onnxruntime-web (the worker's wasm) in Node, through edge/src/inference/ort.ts
//   3. the worker in workerd (Miniflare, built from wrangler.toml), end to end over HTTP, R2 included
// plus cold start (R2 read + sha256, session creation, first request) and ORT's wasm heap.
//
//   npx tsx bench/edge/make-models.ts            # once: .cache/bench-edge/resnet18{,.int8}.onnx
//   npx tsx bench/edge/run.ts [--iters 10] [--variants fp32,int8] [--sizes 224x224,500x375,1024x768]
import * as ort from "onnxruntime-node";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { DEFAULT_PREPROCESS, preprocess, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { createSession, initOrt, wasmHeapBytes } from "../../edge/src/inference/ort.ts";
import { makeManifest } from "../../trainer/src/export/manifest.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { publish } from "../../test/edge/helpers/publish.ts";
import { makeJpeg } from "../../test/edge/helpers/images.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";
import { childPids, processCpuMs } from "./cpu-time.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
}
const dir = arg("dir", ".cache/bench-edge");
const iters = Number(arg("iters", "10"));
const variants = arg("variants", "fp32,int8").split(",") as ("fp32" | "int8")[];
const sizes = arg("sizes", "224x224,500x375,1024x768").split(",").map((s) => {
  const [w, h] = s.split("x").map(Number);
  return { label: s, width: w!, height: h! };
});
const files = { fp32: `${dir}/resnet18.onnx`, int8: `${dir}/resnet18.int8.onnx` };
for (const v of variants) {
  if (!existsSync(files[v])) {
    console.error(`missing ${files[v]}: run \`npx tsx bench/edge/make-models.ts\` first`);
    process.exit(1);
  }
}

interface Stats {
  median: number;
  p95: number;
  n: number;
  /** Mean CPU ms per call of the process doing the work (this one, or workerd). */
  cpu?: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { median: q(0.5), p95: q(0.95), n: s.length };
}
async function time(fn: () => Promise<unknown>, cpuPid = process.pid, warmup = 2): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const xs: number[] = [];
  const c0 = processCpuMs(cpuPid);
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return { ...stats(xs), cpu: (processCpuMs(cpuPid) - c0) / iters };
}
const fmt = (s: Stats | undefined) => (s ? `${s.median.toFixed(0)} / ${s.p95.toFixed(0)}` : "-");
const fmtCpu = (s: Stats | undefined) => (s?.cpu !== undefined ? s.cpu.toFixed(0) : "-");
const MiB = (b: number | null | undefined) => (b ? (b / 2 ** 20).toFixed(1) : "-");

await initCodecs();
const images = await Promise.all(sizes.map((s) => makeJpeg(s.width, s.height, 1)));
const native = { ...DEFAULT_PREPROCESS, resize: { mode: "none" as const, size: 224 }, crop: null, maxPixels: 10_000_000 };
const tensors = await Promise.all(images.map((b) => preprocess(b, native)));

const results: Record<string, unknown> = { date: new Date().toISOString(), loadavg: loadavg(), iters };
const table: string[] = [];
const cold: string[] = [];
const heap: string[] = [];

await initOrt(await WebAssembly.compile(readFileSync("node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")));

for (const variant of variants) {
  const onnx = new Uint8Array(readFileSync(files[variant]));
  const rows: Record<string, Record<string, Stats>> = {};
  const put = (size: string, key: string, s: Stats) => ((rows[size] ??= {})[key] = s);

  // 1. onnxruntime-node, one thread.
  const nodeSession = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
  for (const [i, s] of sizes.entries()) {
    const t = tensors[i]!;
    put(s.label, "node", await time(() => nodeSession.run({ input: new ort.Tensor("float32", t.data, t.dims) })));
  }
  await nodeSession.release();
  console.error(`${variant}: onnxruntime-node done`);

  // 2. onnxruntime-web in Node (the worker's wasm and wrapper).
  const webSession = await createSession(onnx, { freeDimensionOverrides: { N: 1 } }); // as the worker does
  for (const [i, s] of sizes.entries()) {
    const t = tensors[i]!;
    put(s.label, "web", await time(() => webSession.run(t.data, t.dims)));
  }
  await webSession.release();
  console.error(`${variant}: onnxruntime-web in Node done`);

  // 3. The worker in workerd, over HTTP, with the model in R2.
  const manifest: ModelManifest = makeManifest({
    name: "resnet18",
    version: "bench",
    architecture: { name: "resnet18" },
    onnx,
    preprocess: { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 224 }, crop: null },
  });
  const vars = { ...wranglerVars(), DEFAULT_MODEL: "resnet18", MODEL_VARIANT: "", MAX_TENSOR_PIXELS: "1000000", MAX_PIXELS_JPEG_BASELINE: "4000000" };
  const before = new Set(childPids(process.pid, "workerd"));
  const w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars });
  const workerdPid = childPids(process.pid, "workerd").find((p) => !before.has(p));
  if (!workerdPid) throw new Error("could not find the workerd process Miniflare started");
  try {
    const bucket = await w.mf.getR2Bucket("MODELS");
    await publish(bucket, { onnx, manifest });
    const post = (i: number) =>
      w.fetch("/v1/classify?size=native", { method: "POST", body: images[i]! as BodyInit, headers: { "content-type": "image/jpeg" } }).then(async (r) => {
        const body = (await r.json()) as { timing?: { inference: number }; error?: unknown };
        if (r.status !== 200) throw new Error(`worker answered ${r.status}: ${JSON.stringify(body)}`);
        return body;
      });
    const t0 = performance.now();
    const ready = (await (await w.fetch("/readyz")).json()) as { memory: { wasmHeapBytes: number } };
    const readyMs = performance.now() - t0;
    const t1 = performance.now();
    await post(0);
    const firstMs = performance.now() - t1;
    const status = (await (await w.fetch("/v1/models/resnet18")).json()) as { status: { serving: { timing: { readMs: number; sessionMs: number } } } };
    const timing = status.status.serving.timing;
    cold.push(`| ${variant} | ${(onnx.byteLength / 1e6).toFixed(1)} MB | ${timing.readMs.toFixed(0)} | ${timing.sessionMs.toFixed(0)} | ${readyMs.toFixed(0)} | ${firstMs.toFixed(0)} |`);
    const heapAfter: string[] = [];
    for (const [i, s] of sizes.entries()) {
      const server: number[] = [];
      put(
        s.label,
        "worker",
        await time(async () => {
          server.push((await post(i)).timing!.inference);
        }, workerdPid),
      );
      put(s.label, "workerInference", stats(server.slice(2)));
      const m = (await (await w.fetch("/readyz")).json()) as { memory: { wasmHeapBytes: number } };
      heapAfter.push(MiB(m.memory.wasmHeapBytes));
    }
    heap.push(`| ${variant} | ${MiB(ready.memory.wasmHeapBytes)} | ${heapAfter.join(" | ")} |`);
  } finally {
    await w.dispose();
  }
  console.error(`${variant}: worker done`);

  for (const s of sizes) {
    const r = rows[s.label]!;
    const ratio = (r.worker!.median / r.node!.median).toFixed(1);
    const cpuRatio = (r.worker!.cpu! / r.node!.cpu!).toFixed(1);
    table.push(
      `| ${variant} | ${s.label} | ${fmt(r.node)} | ${fmtCpu(r.node)} | ${fmt(r.web)} | ${fmtCpu(r.web)} | ${fmt(r.workerInference)} | ${fmt(r.worker)} | ${fmtCpu(r.worker)} | ${ratio}x / ${cpuRatio}x |`,
    );
  }
  results[variant] = rows;
}

console.log(`\nloadavg ${loadavg().map((x) => x.toFixed(1)).join(" ")}; ${iters} timed runs after 2 warm-up; wall ms median / p95; CPU ms per call (mean)\n`);
console.log("| model | size (WxH) | ort-node 1 thread | CPU | ort-web in Node | CPU | worker: inference (server) | worker: end to end over HTTP | CPU (workerd) | worker / node (wall / CPU) |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const line of table) console.log(line);
console.log("\nCold start in workerd (ms): R2 read + sha256, session creation (from /v1/models status), first /readyz (both), first request after it (224x224)\n");
console.log("| model | ONNX size | R2 read + sha256 | session create | first /readyz | first classify |");
console.log("|---|---|---|---|---|---|");
for (const line of cold) console.log(line);
console.log(`\nORT wasm heap in workerd (MiB) after load, then after the runs at each size\n`);
console.log(`| model | after load | ${sizes.map((s) => `after ${s.label}`).join(" | ")} |`);
console.log(`|---|---|${sizes.map(() => "---").join("|")}|`);
for (const line of heap) console.log(line);
writeFileSync(`${dir}/results.json`, JSON.stringify(results, null, 2));
