/**
 * GPU training benchmark for `--backend webgpu`, in one process, within a time budget (default 450 s,
 * so the whole run, set-up included, stays under 8 minutes). Steps, each written to the results file
 * as soon as it is done:
 *   1. the adapter (Dawn backend, vendor, device; whether it is a CPU emulation);
 *   2. parity: one training step of narrow ResNet-18 and ResNet-50 on webgpu vs the cpu backend
 *      (every gradient, relative to its largest entry);
 *   3. one Imagenette-sized epoch of ResNet-18 at 128 px through the trainer (`runTraining`: decode
 *      + presize, augmentation, batches, Adam, validation): 9469 training and 3925 validation images.
 *      When the data folder holds fewer (a carried slice), each class's files are repeated to the
 *      real counts (symlinks in a temp folder), so the step count and pipeline work match;
 *   4. images/s of a training step (forward + backward + Adam, the trainer's Learner.trainStep) for
 *      ResNet-18 at 128 px and ResNet-50 at 224 px at a few batch sizes; the first step of each
 *      configuration (shader compilation) is reported apart.
 * A step that would overrun the budget is skipped or cut short, and says so in the file.
 *
 *   npx tsx bench/gpu/bench.ts --data ../shared/data/imagenette [--out gpu-results.md] [--budget 450]
 *   BENCH_GPU_SMOKE=1 ...   tiny sizes, a 20-image epoch: checks the script end to end on a CPU driver
 *
 * On a GPU host without Node: bench/gpu/pack.sh builds a bundle, bench/gpu/run.sh runs it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { describeAdapter } from "../../trainer/src/backend/webgpu.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import type { Callback } from "../../trainer/src/learner/events.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { Learner } from "../../trainer/src/learner/learner.ts";
import { runTraining } from "../../trainer/src/learner/run-training.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";
import type { ArchSpec } from "../../trainer/src/model/index.ts";
import type { DataLoaders } from "../../trainer/src/data/types.ts";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    out: { type: "string", default: "gpu-results.md" },
    budget: { type: "string", default: "450" },
  },
});
const SMOKE = process.env.BENCH_GPU_SMOKE === "1";
const started = performance.now();
const budgetMs = Number(values.budget) * 1000;
const left = () => budgetMs - (performance.now() - started);
const outFile = resolve(values.out!);

/** Imagenette2 (full size and 160/320 px alike): training and validation images. */
const IMAGENETTE_TRAIN = 9469;
const IMAGENETTE_VALID = 3925;

const lines: string[] = [];
function say(line = ""): void {
  console.log(line);
  lines.push(line);
  writeFileSync(outFile, `${lines.join("\n")}\n`);
}
const fmt = (x: number, digits = 1) => x.toFixed(digits);

say(`# GPU training benchmark (--backend webgpu)${SMOKE ? " [SMOKE: tiny settings, not a measurement]" : ""}`);
say();
say(`- date: ${new Date().toISOString()}`);
say(`- host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${fmt(os.totalmem() / 2 ** 30)} GiB RAM; node ${process.version}`);

// 1. adapter
await ensureGradients();
const gpu = await initBackend("webgpu", { log: (l) => console.error(l) });
say(`- adapter: ${describeAdapter(gpu.adapter!)}; description "${gpu.adapter!.description}"`);
if (gpu.adapter!.software) say(`- NOTE: a CPU emulation: figures below say nothing about a GPU`);
say(`- budget: ${values.budget} s`);

// 2. parity
const NARROW: ArchSpec[] = [
  { ...archSpec("resnet18", { nOut: 5 }), stem: [8, 8, 16], widths: [8, 16, 16, 32] },
  { ...archSpec("resnet50", { nOut: 5 }), stem: [8, 8, 16], widths: [4, 8, 8, 16] },
];
async function gradients(backend: "cpu" | "webgpu", spec: ArchSpec, x: Float32Array, shape: [number, number, number, number]) {
  await initBackend(backend);
  const model = createModel(spec, { seed: 7 });
  const labels = tf.oneHot(tf.tensor1d([0, 1, 4], "int32"), spec.nOut);
  const input = tf.tensor4d(x, shape);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(input, { training: true })) as tf.Scalar,
    model.parameters().map((p) => p.variable));
  const out = { loss: (await value.data())[0]!, grads: await Promise.all(model.parameters().map((p) => grads[p.variable.name]!.data() as Promise<Float32Array>)) };
  tf.dispose([value, labels, input, ...Object.values(grads)]);
  model.dispose();
  return out;
}
say();
say("## Parity: one training step, webgpu vs cpu backend (input 3x35x33x3)");
say();
say("| model | parameters | loss cpu | loss webgpu | largest gradient difference (relative to the tensor's largest entry) | verdict |");
say("|---|---|---|---|---|---|");
for (const spec of NARROW) {
  const shape: [number, number, number, number] = [3, 35, 33, 3];
  await initBackend("cpu");
  const x = (await tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", 11)).data()) as Float32Array;
  const ref = await gradients("cpu", spec, x, shape);
  const got = await gradients("webgpu", spec, x, shape);
  let worst = 0;
  let pass = true;
  ref.grads.forEach((a, k) => {
    const b = got.grads[k]!;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    if (diff > 1e-4 * scale + 1e-6) pass = false;
    if (scale > 1e-4) worst = Math.max(worst, diff / scale);
  });
  say(`| narrow ${spec.name} (widths ${(spec.widths as number[]).join("/")}) | ${ref.grads.length} tensors | ${ref.loss.toFixed(6)} | ${got.loss.toFixed(6)} | ${worst.toExponential(2)} | ${pass ? "pass (<= 1e-4)" : "FAIL"} |`);
}
await initBackend("webgpu");

// 3. one Imagenette-sized epoch through the trainer
say();
say(`## One Imagenette-sized epoch, ${SMOKE ? "fcn at 32" : "ResNet-18 at 128"} px (trainer run: data pipeline, training, validation)`);
say();
const epochTrain = SMOKE ? 20 : IMAGENETTE_TRAIN;
const epochValid = SMOKE ? 10 : IMAGENETTE_VALID;
const epochSize = SMOKE ? 32 : 128;
const epochBs = SMOKE ? 8 : 64;
if (!values.data || !existsSync(join(values.data, "train"))) {
  say(`skipped: no --data folder with train/ and val/ (got ${JSON.stringify(values.data ?? null)})`);
} else {
  const work = mkdtempSync(join(os.tmpdir(), "bench-gpu-"));
  const farm = join(work, "data");
  const counts = { train: 0, valid: 0 };
  const distinct = { train: 0, valid: 0 };
  for (const [split, key, total] of [["train", "train", epochTrain], ["val", "valid", epochValid]] as const) {
    const classes = readdirSync(join(values.data, split)).sort();
    classes.forEach((wnid, ci) => {
      const files = readdirSync(join(values.data!, split, wnid)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
      const want = Math.floor(total / classes.length) + (ci < total % classes.length ? 1 : 0);
      mkdirSync(join(farm, split, wnid), { recursive: true });
      distinct[key] += Math.min(files.length, want);
      for (let i = 0; i < want && files.length > 0; i++) {
        const f = files[i % files.length]!;
        symlinkSync(resolve(values.data!, split, wnid, f), join(farm, split, wnid, `r${Math.floor(i / files.length)}-${f}`));
        counts[key]++;
      }
    });
  }
  const config = resolveConfig({
    preset: SMOKE ? "fcn" : "resnet18",
    overrides: { data: farm, size: epochSize, presize: Math.round(epochSize * 1.25), epochs: 1, lr: 1e-3, bs: epochBs, backend: "webgpu", out: join(work, "run"), cacheDir: join(work, "cache"), stages: [] },
  });
  const logLines: string[] = [];
  let batches = 0;
  let nBatches = 0;
  let firstBatchAt = 0;
  let fitStart = 0;
  const watch: Callback = {
    name: "bench-budget",
    order: 0,
    beforeFit: (e) => {
      fitStart = performance.now();
      nBatches = e.nBatches;
    },
    afterBatch: () => {
      batches++;
      if (batches === 1) firstBatchAt = performance.now();
      if (left() < 20_000) throw new Error(`budget: stopped after ${batches} of ${nBatches} training batches`);
    },
  };
  const t0 = performance.now();
  try {
    const res = await runTraining(config, { io: { log: (l) => void logLines.push(l), write: (l) => void logLines.push(l) }, progress: false, callbacks: [watch] });
    const total = (performance.now() - t0) / 1000;
    const record = res.records[0]!;
    const decode = Number(/data: ready in ([\d.]+) s/.exec(logLines.join("\n"))?.[1] ?? NaN);
    const steady = (performance.now() - firstBatchAt) / 1000;
    say(`| images (train / valid) | distinct files | batch | decode + presize | epoch (train + valid) | first batch (shader compilation) | whole command | train loss | valid accuracy |`);
    say(`|---|---|---|---|---|---|---|---|---|`);
    say(`| ${counts.train} / ${counts.valid} | ${distinct.train} / ${distinct.valid} | ${epochBs} | ${fmt(decode)} s | ${fmt(record.seconds)} s | ${fmt((firstBatchAt - fitStart) / 1000)} s | ${fmt(total)} s | ${record.trainLoss.toFixed(3)} | ${record.accuracy.toFixed(3)} |`);
    say();
    say(`epoch after the first batch: ${fmt(steady)} s (${fmt((counts.train + counts.valid) / Math.max(steady, 1e-9), 0)} img/s across train and valid)`);
  } catch (error) {
    const elapsed = (performance.now() - fitStart) / 1000;
    say(`not finished: ${(error as Error).message.split("\n")[0]} (${fmt(elapsed)} s into the fit${batches > 1 ? `; ${fmt((batches * epochBs) / elapsed, 0)} img/s so far, an epoch's ${nBatches} batches would take ~${fmt((nBatches * elapsed) / batches, 0)} s without validation` : ""})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// 4. training-step throughput
say();
say("## Training step throughput (forward + backward + Adam; random data, 10 classes)");
say();
say("| model | px | batch | first step (compile) | steady ms/step | img/s | steps timed |");
say("|---|---|---|---|---|---|---|");
const SWEEP: Array<{ arch: string; size: number; batches: number[] }> = SMOKE
  ? [{ arch: "resnet18", size: 32, batches: [2] }]
  : [{ arch: "resnet18", size: 128, batches: [32, 64, 128] }, { arch: "resnet50", size: 224, batches: [16, 32, 64] }];
for (const { arch, size, batches: bss } of SWEEP) {
  for (const bs of bss) {
    if (left() < 30_000) {
      say(`| ${arch} | ${size} | ${bs} | skipped: budget | | | |`);
      continue;
    }
    const model = createModel(archSpec(arch, { nOut: 10 }), { seed: 0 });
    const learner = new Learner(model, {} as DataLoaders, { wd: 0.01 });
    learner.opt.setHyper("lr", 1e-4);
    const x = tf.randomNormal([bs, size, size, 3]) as tf.Tensor4D;
    const y = tf.tensor1d(Array.from({ length: bs }, (_, i) => i % 10), "int32");
    try {
      let t = performance.now();
      await learner.trainStep({ x, y });
      const compile = performance.now() - t;
      await learner.trainStep({ x, y }); // warm
      const times: number[] = [];
      const until = performance.now() + Math.min(SMOKE ? 1 : 15_000, left() - 25_000);
      while (times.length < (SMOKE ? 1 : 20) && (times.length < 2 || performance.now() < until)) {
        t = performance.now();
        await learner.trainStep({ x, y });
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      say(`| ${arch} | ${size} | ${bs} | ${fmt(compile / 1000)} s | ${fmt(median, 0)} | ${fmt((bs * 1000) / median, (bs * 1000) / median < 10 ? 2 : 0)} | ${times.length} |`);
    } catch (error) {
      say(`| ${arch} | ${size} | ${bs} | failed: ${(error as Error).message.split("\n")[0]!.slice(0, 120)} | | | |`);
    } finally {
      tf.dispose([x, y]);
      learner.dispose();
      model.dispose();
    }
  }
}
say();
say(`total: ${fmt((performance.now() - started) / 1000)} s`);
console.error(`results: ${outFile}`);
process.exit(0);
