/**
 * One benchmark configuration in its own process (the wasm backend's thread count is fixed per
 * process): forward + backward + SGD update of a model on random data, batch B, size S.
 * Prints one JSON line. Used by run.ts; runnable alone:
 *   npx tsx bench/train/step-worker.ts --backend wasm --threads 2 --arch resnet18 --size 64 --batch 32 --steps 2 --warmup 1 [--profile]
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, isBackendChoice } from "../../trainer/src/backend/init-backend.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { syntheticStep } from "./synthetic-step.ts";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    threads: { type: "string", default: "1" },
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    batch: { type: "string", default: "32" },
    steps: { type: "string", default: "2" },
    warmup: { type: "string", default: "1" },
    profile: { type: "boolean", default: false },
  },
});
const backend = values.backend!;
if (!isBackendChoice(backend)) throw new Error(`--backend ${backend}: choose auto, tensorflow, wasm or cpu`);
const [threads, size, batch, steps, warmup] = [values.threads, values.size, values.batch, values.steps, values.warmup].map(Number) as [number, number, number, number, number];

await ensureGradients();
const info = await initBackend(backend, { threads });
const step = syntheticStep(values.arch!, size, batch);

for (let i = 0; i < warmup; i++) (await step().data(), undefined);
const t0 = performance.now();
const c0 = process.cpuUsage();
for (let i = 0; i < steps; i++) {
  const loss = step();
  await loss.data();
  loss.dispose();
}
const wallMs = (performance.now() - t0) / steps;
const cpu = process.cpuUsage(c0);
const result: Record<string, unknown> = {
  backend: info.name, threads, arch: values.arch, size, batch, steps,
  msPerStep: wallMs, cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps, imagesPerSec: (batch * 1000) / wallMs,
};

if (values.profile) {
  const prof = await tf.profile(() => step());
  result.peakMB = Math.round(prof.peakBytes / 2 ** 20);
  const byKernel = new Map<string, number>();
  for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  result.profile = [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), share: Math.round((1000 * ms) / total) / 10 }));
}
console.log(JSON.stringify(result));
process.exit(0);
