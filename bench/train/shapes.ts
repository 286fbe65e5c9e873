/**
 * Where a training step's time goes, per kernel and input shape: a model of --arch on one random
 * batch (the benchmarks' synthetic step: forward + backward + SGD), or its inference forward pass
 * (--inference, what validation runs), profiled with tf.profile on the wasm backend. Prints the median
 * over --steps profiled steps of each (kernel, input shapes) pair's summed time, largest first; a
 * shape that occurs in several layers is one row; then the convolutions' multiply-adds and the rate they
 * ran at, counted as the direct convolution does them. Run it alone on the machine.
 *
 *   npx tsx bench/train/shapes.ts [--arch resnet18] [--size 64] [--batch 32] [--threads 2] [--steps 5] [--inference] [--min-ms 1.5]
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";
import { syntheticStep } from "./synthetic-step.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    batch: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "5" },
    inference: { type: "boolean", default: false },
    "min-ms": { type: "string", default: "1.5" },
  },
});
const [size, batch, steps, minMs] = [values.size, values.batch, values.steps, values["min-ms"]].map(Number) as [number, number, number, number];
await ensureGradients();
await initBackend("wasm", { threads: Number(values.threads) });
let step: () => tf.Tensor;
if (values.inference) {
  const model = createModel(archSpec(values.arch!, { nOut: 10 }), { seed: 0 });
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  step = () => tf.tidy(() => model.forward(x, { training: false }));
} else {
  step = syntheticStep(values.arch!, size, batch);
}
const wall: number[] = [];
for (let i = 0; i < steps + 2; i++) {
  const t0 = performance.now();
  const out = step();
  out.dataSync();
  out.dispose();
  if (i >= 2) wall.push(performance.now() - t0); // two warm-up steps (V8 tiers the kernels up)
}
const per = new Map<string, number[]>();
let forwardMacs = 0; // the forward convolutions' multiply-adds per step (direct count, before Winograd)
let winogradMacs = 0; // of which in 3x3 stride-1 convolutions (Winograd's)
for (let s = 0; s < steps; s++) {
  const prof = await tf.profile(() => step());
  const sums = new Map<string, number>();
  if (s === 0) {
    for (const k of prof.kernels) {
      if (k.name !== "Conv2D") continue;
      const [kh, kw, ci] = k.inputShapes[1] as number[];
      const [n, h] = k.inputShapes[0] as number[];
      const [, ho] = k.outputShapes[0] as number[];
      const macs = (k.outputShapes[0] as number[]).reduce((a, b) => a * b, 1) * kh! * kw! * ci!;
      forwardMacs += macs;
      if (kh === 3 && kw === 3 && h === ho && n) winogradMacs += macs;
    }
  }
  for (const k of prof.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(k.kernelTimeMs));
  }
  for (const [key, t] of sums) (per.get(key) ?? per.set(key, []).get(key)!).push(t);
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
const rows = [...per].map(([key, t]) => [key, median(t)] as const).sort((a, b) => b[1] - a[1]);
const byKernel = new Map<string, number>();
for (const [key, t] of rows) byKernel.set(key.split(" ")[0]!, (byKernel.get(key.split(" ")[0]!) ?? 0) + t);
console.log(`${values.arch} ${size} px, batch ${batch}, ${values.threads} threads, ${values.inference ? "inference forward" : "training step"}; median of ${steps} profiled steps (ms)`);
for (const [key, t] of rows) if (t >= minMs) console.log(`${t.toFixed(1).padStart(7)}  ${key}`);
console.log("per kernel:", [...byKernel].sort((a, b) => b[1] - a[1]).map(([k, t]) => `${k} ${t.toFixed(0)}`).join(", "));
console.log(`sum of kernels ${rows.reduce((a, r) => a + r[1], 0).toFixed(0)} ms; wall, unprofiled ${median(wall).toFixed(0)} ms`);
// A training step's convolutions do about 3x the forward's multiply-adds (input and filter gradients; the
// first layer has no input gradient), counted as the direct convolution does them (Winograd does fewer).
const convMs = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"].reduce((a, k) => a + (byKernel.get(k) ?? 0), 0);
const macs = (values.inference ? 1 : 3) * forwardMacs;
console.log(`convolutions: ${(forwardMacs / 1e9).toFixed(2)} G multiply-adds forward (${((100 * winogradMacs) / forwardMacs).toFixed(0)}% in 3x3 stride-1 ones), ~${(macs / 1e9).toFixed(2)} G per ${values.inference ? "pass" : "step"}; ${convMs.toFixed(0)} ms: ${(macs / convMs / 1e6).toFixed(1)} G/s as direct multiply-adds`);
process.exit(0);
