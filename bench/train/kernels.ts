/**
 * Per-kernel microbenchmark on the shapes of one training step: records every call of the kernels
 * below during one forward + backward of the model (batch B, size S), then times each distinct
 * shape with our implementation and the reference(s) in the same process, interleaved, and, when
 * /usr/bin/python3 has torch, PyTorch's equivalent op (channels-last) with the same thread count.
 *
 *   npx tsx bench/train/kernels.ts [--arch resnet18] [--size 64] [--batch 32] [--threads 1] [--reps 3] [--torch]
 *
 * Prints, per kernel, the step's total ms (sum over its calls, median of reps per shape) for each
 * variant and the ratio, then the slowest shapes. Then (--steps N, default 2; 0 skips) whole
 * training steps (forward + backward + SGD) with our kernels switched on and off, interleaved in the
 * same process, and one profiled step of each (tfjs's per-kernel split).
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { Conv2D, Conv2DBackpropFilter, MaxPoolGrad, getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { kernelVariant, setKernelThreads, setRelaxedSimd } from "../../trainer/src/backend/simd-kernels.ts";
import { setFilterGradientStrategy, setSharedIdentity, setSimdConv2D, setSimdMaxPoolGrad } from "../../trainer/src/backend/wasm-kernels.ts";
import { setFusedBatchNorm } from "../../trainer/src/backend/batch-norm-kernels.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { syntheticStep } from "./synthetic-step.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    batch: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "3" },
    torch: { type: "boolean", default: false },
    steps: { type: "string", default: "2" },
  },
});
const [size, batch, threads, reps] = [values.size, values.batch, values.threads, values.reps].map(Number) as [number, number, number, number];

await ensureGradients();
await initBackend("wasm", { threads });

// ---- record the shapes of one step
interface Call { kernel: string; names: string[]; inputs: number[][]; attrs: Record<string, unknown>; count: number }
const calls = new Map<string, Call>();
let recording = true;
const RECORDED = [Conv2D, Conv2DBackpropFilter, MaxPoolGrad];
for (const name of RECORDED) {
  const original = getKernel(name, "wasm")!;
  unregisterKernel(name, "wasm");
  registerKernel({
    ...original,
    kernelFunc: (args) => {
      if (!recording) return original.kernelFunc(args);
      const named = Object.entries(args.inputs as Record<string, TensorInfo>);
      const inputs = named.map(([, t]) => t.shape);
      const attrs = { ...(args.attrs as Record<string, unknown>) };
      const key = JSON.stringify([name, inputs, attrs]);
      const c = calls.get(key);
      if (c) c.count++;
      else calls.set(key, { kernel: name, names: named.map(([n]) => n), inputs, attrs, count: 1 });
      return original.kernelFunc(args);
    },
  } as KernelConfig);
}
{
  const model = createModel(archSpec(values.arch!, { nOut: 10 }), { seed: 0 });
  const vars = model.parameters().map((p) => p.variable);
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"), 10);
  tf.tidy(() => tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x, { training: true })) as tf.Scalar, vars));
  tf.dispose([x, labels]);
  for (const v of vars) v.dispose();
  recording = false;
}

// ---- time each shape
// The first variant is ours as the trainer runs it, the second the reference the ratio is taken to.
const VARIANTS: Record<string, Array<{ name: string; set: () => void }>> = {
  [Conv2D]: [
    { name: "simd", set: () => { setSimdConv2D(true); setKernelThreads(undefined); } },
    { name: "before (XNNPACK)", set: () => setSimdConv2D(false) },
    { name: "simd, mul + add", set: () => { setSimdConv2D(true); setKernelThreads(undefined); setRelaxedSimd(false); } },
    ...(threads > 1 ? [{ name: "simd 1 thread", set: () => { setSimdConv2D(true); setKernelThreads(1); } }] : []),
  ],
  [Conv2DBackpropFilter]: [
    { name: "simd", set: () => { setFilterGradientStrategy("simd"); setKernelThreads(undefined); } },
    { name: "before (XNNPACK conv / im2col)", set: () => setFilterGradientStrategy("auto-old") },
    { name: "simd unpacked", set: () => { setFilterGradientStrategy("simd-strided"); setKernelThreads(undefined); } },
    { name: "simd, mul + add", set: () => { setFilterGradientStrategy("simd"); setKernelThreads(undefined); setRelaxedSimd(false); } },
    ...(threads > 1 ? [{ name: "simd 1 thread", set: () => { setFilterGradientStrategy("simd"); setKernelThreads(1); } }] : []),
  ],
  [MaxPoolGrad]: [
    { name: "simd", set: () => { setSimdMaxPoolGrad(true); setKernelThreads(undefined); } },
    { name: "before (tfjs-backend-wasm)", set: () => setSimdMaxPoolGrad(false) },
    ...(threads > 1 ? [{ name: "simd 1 thread", set: () => { setSimdMaxPoolGrad(true); setKernelThreads(1); } }] : []),
  ],
};

/** A variant or configuration on top of the default build (relaxed SIMD where available), which only "mul + add" rows change. */
const apply = (v: { set: () => void }) => {
  setRelaxedSimd(undefined);
  v.set();
};

function timeOnce(c: Call, inputs: tf.Tensor[]): number {
  const t0 = performance.now();
  const out = tf.engine().runKernel(c.kernel, Object.fromEntries(c.names.map((k, i) => [k, inputs[i]!])), c.attrs as NamedAttrMap) as tf.Tensor;
  out.dataSync();
  const ms = performance.now() - t0;
  out.dispose();
  return ms;
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
interface Result { call: Call; ms: Record<string, number>; torchMs?: number }
const results: Result[] = [];
for (const c of calls.values()) {
  const inputs = c.inputs.map((shape) => tf.randomNormal(shape));
  const samples: Record<string, number[]> = {};
  for (const v of VARIANTS[c.kernel]!) { apply(v); timeOnce(c, inputs); } // warm-up
  for (let r = 0; r < reps; r++) {
    for (const v of VARIANTS[c.kernel]!) {
      apply(v);
      (samples[v.name] ??= []).push(timeOnce(c, inputs));
    }
  }
  tf.dispose(inputs);
  setRelaxedSimd(undefined);
  results.push({ call: c, ms: Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, median(s)])) });
}
setFilterGradientStrategy("simd");
setSimdMaxPoolGrad(true);
setSimdConv2D(true);
setKernelThreads(undefined);

// ---- PyTorch: torch.nn.grad.conv2d_weight on the same shapes, channels-last
if (values.torch) {
  const filterResults = results.filter((r) => r.call.kernel === Conv2DBackpropFilter);
  const jobs = filterResults.map((r) => ({ x: r.call.inputs[0], dy: r.call.inputs[1], filterShape: r.call.attrs.filterShape, strides: r.call.attrs.strides, pad: r.call.attrs.pad }));
  const py = String.raw`
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1])); reps = int(sys.argv[2])
out = []
for j in json.load(sys.stdin):
    n, h, w, ci = j["x"]; _, ho, wo, co = j["dy"]; kh, kw = j["filterShape"][:2]
    s = j["strides"] if isinstance(j["strides"], int) else j["strides"][0]
    pad = j["pad"]
    p = pad if isinstance(pad, int) else (0 if pad == "valid" else (kh - 1) // 2)
    x = torch.randn(n, ci, h, w).to(memory_format=torch.channels_last)
    dy = torch.randn(n, co, ho, wo).to(memory_format=torch.channels_last)
    f = lambda: torch.nn.grad.conv2d_weight(x, (co, ci, kh, kw), dy, stride=s, padding=p)
    f(); ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append((time.perf_counter() - t) * 1000)
    out.append(sorted(ts)[len(ts) // 2])
print(json.dumps(out))`;
  const r = spawnSync("/usr/bin/python3", ["-c", py, String(threads), String(reps)], { input: JSON.stringify(jobs), encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  if (r.status === 0) {
    const ms = JSON.parse(r.stdout.trim().split("\n").pop()!) as number[];
    filterResults.forEach((res, i) => (res.torchMs = ms[i]));
  } else {
    console.error(`torch reference failed: ${r.stderr.trim().split("\n").pop()}`);
  }
}

// ---- report
console.log(`${values.arch} ${size} px, batch ${batch}, ${threads} thread(s), median of ${reps}; ms per step (sum over the step's calls); our kernels: ${kernelVariant()}`);
for (const kernel of RECORDED) {
  const rs = results.filter((r) => r.call.kernel === kernel);
  const names = Object.keys(rs[0]?.ms ?? {});
  const total = (f: (r: Result) => number | undefined) => rs.reduce((a, r) => a + (f(r) ?? NaN) * r.call.count, 0);
  const totals = names.map((n) => total((r) => r.ms[n]));
  const withTorch = values.torch && kernel === Conv2DBackpropFilter;
  const torch = withTorch ? total((r) => r.torchMs) : undefined;
  console.log(`\n${kernel}: ${names.map((n, i) => `${n} ${totals[i]!.toFixed(0)}`).join(", ")}${torch !== undefined ? `, pytorch ${torch.toFixed(0)}` : ""}; ` +
    `${names[1]}/${names[0]} = ${(totals[1]! / totals[0]!).toFixed(2)}x${torch !== undefined ? `, ${names[0]}/pytorch = ${(totals[0]! / torch).toFixed(2)}x` : ""}`);
  console.log(`| inputs | attrs | calls | ${names.join(" ms | ")} ms |${withTorch ? " pytorch ms |" : ""} GMAC/s (${names[0]}) |`);
  console.log(`|---|---|---|${names.map(() => "---|").join("")}${withTorch ? "---|" : ""}---|`);
  for (const r of rs.sort((a, b) => b.ms[names[0]!]! * b.call.count - a.ms[names[0]!]! * a.call.count)) {
    const shapes = r.call.names.map((n, i) => `${n} ${r.call.inputs[i]!.join("x")}`).join(", ");
    const attrs = ["filterShape", "filterSize", "strides", "pad"].filter((a) => r.call.attrs[a] !== undefined).map((a) => `${a} ${JSON.stringify(r.call.attrs[a])}`).join(", ");
    const fs = (r.call.attrs.filterShape as number[] | undefined);
      const dy = r.call.inputs[r.call.names.indexOf("dy")];
    const f = r.call.inputs[r.call.names.indexOf("filter")];
    let macs = fs && dy ? fs[0]! * fs[1]! * fs[2]! * dy[0]! * dy[1]! * dy[2]! * dy[3]! : NaN;
    if (f) {
      const info = tf.backend_util.computeConv2DInfo(r.call.inputs[0] as [number, number, number, number], f as [number, number, number, number],
        r.call.attrs.strides as number, 1, r.call.attrs.pad as "same");
      macs = f[0]! * f[1]! * f[2]! * info.outShape.reduce((a, b) => a * b, 1);
    }
    console.log(`| ${shapes} | ${attrs} | ${r.call.count} | ${names.map((n) => r.ms[n]!.toFixed(1)).join(" | ")} |` +
      `${withTorch ? ` ${r.torchMs?.toFixed(1)} |` : ""} ${Number.isFinite(macs) ? (macs / r.ms[names[0]!]! / 1e6).toFixed(1) : "-"} |`);
  }
}
// ---- whole steps, our kernels on and off
const CONFIGS: Array<{ name: string; set: () => void }> = [
  { name: "all ours", set: () => { setFilterGradientStrategy("simd"); setFusedBatchNorm(true); setSimdMaxPoolGrad(true); setSimdConv2D(true); setSharedIdentity(true); setKernelThreads(undefined); } },
  { name: "all ours but a copying Identity", set: () => { setFilterGradientStrategy("simd"); setFusedBatchNorm(true); setSimdMaxPoolGrad(true); setSimdConv2D(true); setSharedIdentity(false); setKernelThreads(undefined); } },
  { name: "all ours but XNNPACK's Conv2D", set: () => { setFilterGradientStrategy("simd"); setFusedBatchNorm(true); setSimdMaxPoolGrad(true); setSimdConv2D(false); setSharedIdentity(true); setKernelThreads(undefined); } },
  { name: "all ours, mul + add (no relaxed SIMD)", set: () => { setFilterGradientStrategy("simd"); setFusedBatchNorm(true); setSimdMaxPoolGrad(true); setSimdConv2D(true); setSharedIdentity(true); setKernelThreads(undefined); setRelaxedSimd(false); } },
  ...(threads > 1 ? [{ name: "all ours, our kernels on 1 thread", set: () => { setFilterGradientStrategy("simd"); setFusedBatchNorm(true); setSimdMaxPoolGrad(true); setSimdConv2D(true); setSharedIdentity(true); setKernelThreads(1); } }] : []),
  { name: "before (XNNPACK Conv2D, old filter grad, no fused BN, tfjs MaxPoolGrad)", set: () => { setFilterGradientStrategy("auto-old"); setFusedBatchNorm(false); setSimdMaxPoolGrad(false); setSimdConv2D(false); setSharedIdentity(false); setKernelThreads(undefined); } },
];
const steps = Number(values.steps);
if (steps > 0) {
  const step = syntheticStep(values.arch!, size, batch);
  const ms: Record<string, number[]> = {};
  for (const c of CONFIGS) { apply(c); step().dataSync(); } // warm-up
  for (let i = 0; i < steps; i++) {
    for (const c of CONFIGS) {
      apply(c);
      const t0 = performance.now();
      const loss = step();
      loss.dataSync();
      loss.dispose();
      (ms[c.name] ??= []).push(performance.now() - t0);
    }
  }
  const base = median(ms[CONFIGS.at(-1)!.name]!);
  console.log(`\nWhole step, median of ${steps} (interleaved):`);
  console.log("| configuration | ms/step | img/s | vs before |");
  console.log("|---|---|---|---|");
  for (const c of CONFIGS) {
    const m = median(ms[c.name]!);
    console.log(`| ${c.name} | ${m.toFixed(0)} | ${((batch * 1000) / m).toFixed(1)} | ${(base / m).toFixed(2)}x |`);
  }
  for (const c of [CONFIGS[0]!, CONFIGS.at(-1)!]) {
    apply(c);
    const prof = await tf.profile(() => step());
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
    console.log(`\nProfile, ${c.name} (tf.profile; "unnamed scope" = BatchNorm's customGrad forward): ` +
      [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([n, t]) => `${n} ${t.toFixed(0)} ms (${((100 * t) / total).toFixed(0)}%)`).join(", "));
  }
}
process.exit(0);
