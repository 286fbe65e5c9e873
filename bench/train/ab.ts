/**
 * A/B of one kernel switch on whole training steps, interleaved in one process (this VM's speed
 * drifts by 10-20% between runs, so only same-process, interleaved ratios are read).
 *
 *   npx tsx bench/train/ab.ts --switch winograd [--arch resnet18] [--size 64] [--batch 32] [--threads 2] [--steps 6]
 *
 * Prints each configuration's median ms/step, img/s and the ratio.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { setSimdConv2D, setWinograd } from "../../trainer/src/backend/wasm-kernels.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { syntheticStep } from "./synthetic-step.ts";

const SWITCHES: Record<string, Array<{ name: string; set: () => void }>> = {
  winograd: [
    { name: "Winograd F(2x2,3x3) (auto)", set: () => setWinograd("auto") },
    { name: "direct convolution", set: () => setWinograd("off") },
  ],
  winograd43: [
    { name: "Winograd F(4x4,3x3) from 8x8 maps, F(2x2,3x3) below (auto)", set: () => setWinograd("auto") },
    { name: "Winograd F(2x2,3x3) only", set: () => setWinograd("auto-2x2") },
  ],
  conv: [
    { name: "our Conv2D", set: () => setSimdConv2D(true) },
    { name: "XNNPACK's Conv2D", set: () => setSimdConv2D(false) },
  ],
};

const { values } = parseArgs({
  options: {
    switch: { type: "string", default: "winograd" },
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    batch: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "6" },
  },
});
const configs = SWITCHES[values.switch!];
if (!configs) throw new Error(`--switch: one of ${Object.keys(SWITCHES).join(", ")}`);
const [size, batch, threads, steps] = [values.size, values.batch, values.threads, values.steps].map(Number) as [number, number, number, number];
await ensureGradients();
await initBackend("wasm", { threads });
const step = syntheticStep(values.arch!, size, batch);
for (const c of configs) for (let i = 0; i < 2; i++) { c.set(); step().dataSync(); } // warm-up, V8 tier-up
const ms: number[][] = configs.map(() => []);
for (let i = 0; i < steps; i++) {
  configs.forEach((c, k) => {
    c.set();
    const t0 = performance.now();
    const l = step();
    l.dataSync();
    l.dispose();
    ms[k]!.push(performance.now() - t0);
  });
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
console.log(`${values.arch} ${size} px, batch ${batch}, ${threads} thread(s), median of ${steps} interleaved steps`);
console.log("| configuration | ms/step | img/s | vs the last |");
console.log("|---|---|---|---|");
const last = median(ms.at(-1)!);
configs.forEach((c, k) => {
  const m = median(ms[k]!);
  console.log(`| ${c.name} | ${m.toFixed(0)} | ${((batch * 1000) / m).toFixed(1)} | ${(last / m).toFixed(2)}x |`);
});
process.exit(0);
