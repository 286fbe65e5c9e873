// Peak ORT wasm heap in workerd per tensor shape, with the shipped int8 model: one fresh worker
// (Miniflare, built from wrangler.toml) per shape, because the wasm heap never shrinks. The worker gets
// a PNG of exactly HxW at size=native with the tensor and pixel limits lifted, so the tensor is HxW,
// and /readyz reports memory.wasmHeapBytes after the run (= the peak).
//   npx tsx bench/edge/activation-heap.ts [HxW ...]     (default: the grid in BENCHMARKS.md)
// Prints one JSON line per shape: {shape, loadMiB, peakMiB, status}. Memory only: no timing.
import { join } from "node:path";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { repoRoot } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { makePng } from "../../test/edge/helpers/images.ts";
import { wranglerVars } from "../../test/edge/helpers/wrangler-vars.ts";

const GRID = [
  "224x224", "400x600", "490x490", "224x1071",
  "1x1000", "1x4000", "1x15000", "1x60000", "1x240000", "240000x1",
  "2x120000", "4x60000", "8x30000", "16x15000", "31x7742", "32x7500", "7500x32", "33x7272", "64x3750", "128x1875",
];
const shapes = process.argv.slice(2).length > 0 ? process.argv.slice(2) : GRID;
const vars = wranglerVars();
const name = vars.DEFAULT_MODEL!;
const MiB = 1024 * 1024;

for (const shape of shapes) {
  const [h, w] = shape.split("x").map(Number) as [number, number];
  const worker = await startWorker({
    config: "wrangler.toml",
    r2Buckets: ["MODELS"],
    bindings: { ...vars, MAX_TENSOR_PIXELS: "1000000000", MAX_PIXELS: "1000000000", MODEL_POLL_SECONDS: "3600" },
  });
  try {
    await runShape(worker, shape, h, w);
  } catch (e) {
    // workerd itself died (the wasm heap outgrew what the process may take): that is the finding.
    console.log(JSON.stringify({ shape, pixels: h * w, status: "worker died", error: (e as Error).message }));
  } finally {
    await worker.dispose().catch(() => {});
  }
}

async function runShape(worker: Awaited<ReturnType<typeof startWorker>>, shape: string, h: number, w: number): Promise<void> {
  {
    await publishModel(bucketTarget((await worker.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2"), { modelDir: join(repoRoot, "models", name) });
    const heap = async () => ((await (await worker.fetch("/readyz")).json()) as { memory: { wasmHeapBytes: number } }).memory.wasmHeapBytes;
    const load = await heap();
    const res = await worker.fetch("/v1/classify?size=native", { method: "POST", body: makePng(w, h) as BodyInit, headers: { "content-type": "image/png" } });
    const body = (await res.json()) as { input?: { tensor: unknown } };
    const peak = await heap();
    console.log(JSON.stringify({ shape, pixels: h * w, status: res.status, tensor: body.input?.tensor ?? null, loadMiB: +(load / MiB).toFixed(1), peakMiB: +(peak / MiB).toFixed(1) }));
  }
}
