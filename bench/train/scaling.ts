/**
 * Where the second thread is lost: one process per thread count, each profiling N whole training
 * steps (forward + backward + SGD, random data) with tf.profile, per kernel (median over steps).
 *
 *   npx tsx bench/train/scaling.ts [--arch resnet18] [--size 128] [--batch 32] [--threads 1,2] [--steps 3]
 *
 * Prints per kernel: ms per step at each thread count and the speed-up; the wall time of an
 * unprofiled step too (the profile's sum misses the JS between kernels).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "128" },
    batch: { type: "string", default: "32" },
    threads: { type: "string", default: "1,2" },
    steps: { type: "string", default: "3" },
    child: { type: "string" },
  },
});

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

if (values.child) {
  const tf = await import("@tensorflow/tfjs-core");
  const { initBackend } = await import("../../trainer/src/backend/init-backend.ts");
  const { ensureGradients } = await import("../../trainer/src/learner/gradients.ts");
  const { syntheticStep } = await import("./synthetic-step.ts");
  const [size, batch, threads, steps] = [values.size, values.batch, values.child, values.steps].map(Number) as [number, number, number, number];
  await ensureGradients();
  await initBackend("wasm", { threads });
  const step = syntheticStep(values.arch!, size, batch);
  step().dataSync();
  const wall: number[] = [];
  const per = new Map<string, number[]>();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const l = step();
    l.dataSync();
    l.dispose();
    wall.push(performance.now() - t0);
    const prof = await tf.profile(() => step());
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    for (const [n, t] of byKernel) (per.get(n) ?? per.set(n, []).get(n)!).push(t);
  }
  const out = { wall: median(wall), kernels: Object.fromEntries([...per].map(([n, t]) => [n, median(t)])) };
  console.log(`RESULT ${JSON.stringify(out)}`);
  process.exit(0);
}

const results = new Map<number, { wall: number; kernels: Record<string, number> }>();
const threadList = values.threads!.split(",").map(Number);
for (const t of threadList) {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", String(t), "--arch", values.arch!, "--size", values.size!, "--batch", values.batch!, "--steps", values.steps!], { encoding: "utf8", maxBuffer: 1 << 26 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`child with ${t} threads failed:\n${r.stderr}`);
  results.set(t, JSON.parse(line.slice(7)));
}
const names = [...new Set([...results.values()].flatMap((r) => Object.keys(r.kernels)))];
const first = results.get(threadList[0]!)!;
names.sort((a, b) => (first.kernels[b] ?? 0) - (first.kernels[a] ?? 0));
console.log(`${values.arch} ${values.size} px, batch ${values.batch}, median of ${values.steps} profiled steps per thread count`);
console.log(`| kernel | ${threadList.map((t) => `${t} thr ms`).join(" | ")} | speed-up ${threadList[0]}->${threadList.at(-1)} |`);
console.log(`|---|${threadList.map(() => "---|").join("")}---|`);
const row = (name: string, get: (r: { wall: number; kernels: Record<string, number> }) => number) => {
  const v = threadList.map((t) => get(results.get(t)!));
  console.log(`| ${name} | ${v.map((x) => x.toFixed(0)).join(" | ")} | ${(v[0]! / v.at(-1)!).toFixed(2)}x |`);
};
for (const n of names) if ((first.kernels[n] ?? 0) >= 5) row(n, (r) => r.kernels[n] ?? 0);
row("sum of kernels", (r) => Object.values(r.kernels).reduce((a, b) => a + b, 0));
row("wall, unprofiled step", (r) => r.wall);
