/**
 * One epoch of `trainer run` (or its first N batches) in its own process, timed by phase, for
 * bench/train/epoch.ts (the wasm backend's thread count is fixed per process). Prints one JSON line.
 * Runnable alone:
 *   npx tsx bench/train/epoch-worker.ts --data <imagenette folder> --threads 2 --size 64 --bs 64 \
 *     --train-batches 20 --val-batches 10 [--fixed-size] [--no-augment]
 *
 * The same functions `trainer run` calls (setup.ts: backend, dataset, model, learner; fitOneCycle; the
 * per-epoch checkpoint callback): only the two batch sources are cut to their first N / M batches.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG, type TrainConfig } from "../../trainer/src/config.ts";
import type { BatchSource } from "../../trainer/src/data/types.ts";
import { saveCheckpointEachEpoch } from "../../trainer/src/learner/callbacks/save-checkpoint.ts";
import type { Callback } from "../../trainer/src/learner/events.ts";
import { fitOneCycle } from "../../trainer/src/learner/one-cycle.ts";
import { buildModel, learnerFromConfig, loadDataset, loaderOpts, scanData, setupBackend, type RunIO } from "../../trainer/src/learner/setup.ts";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    arch: { type: "string", default: "resnet18" },
    threads: { type: "string", default: "2" },
    size: { type: "string", default: "64" },
    bs: { type: "string", default: "64" },
    presize: { type: "string", default: String(DEFAULT_CONFIG.presize) },
    "train-batches": { type: "string", default: "0" },
    "val-batches": { type: "string", default: "0" },
    "fixed-size": { type: "boolean", default: false },
    "no-augment": { type: "boolean", default: false },
    "cache-dir": { type: "string", default: DEFAULT_CONFIG.cacheDir },
  },
});
if (!values.data) throw new Error("--data <folder with train/ and val/> is required");

/** The first `n` batches of `source` (all of them for n <= 0). */
function firstBatches(source: BatchSource, n: number): BatchSource {
  if (n <= 0 || n >= source.nBatches) return source;
  return {
    nItems: source.nItems,
    nBatches: n,
    async *batches(epoch) {
      let i = 0;
      for await (const b of source.batches(epoch)) {
        yield b;
        if (++i >= n) return;
      }
    },
  };
}

const out = await mkdtemp(join(tmpdir(), "epoch-bench-"));
const config: TrainConfig = {
  ...DEFAULT_CONFIG,
  arch: values.arch as TrainConfig["arch"],
  data: values.data,
  out,
  cacheDir: values["cache-dir"]!,
  size: Number(values.size),
  presize: Number(values.presize),
  bs: Number(values.bs),
  epochs: 1,
  labelSmoothing: 0.1,
  multiSize: !values["fixed-size"],
  augment: !values["no-augment"],
  backend: "wasm",
  threads: Number(values.threads),
};
const quiet: RunIO = { log: () => {}, write: () => {} };
const t = () => performance.now() / 1000;

const t0 = t();
const backend = await setupBackend(config, quiet);
const scanned = await scanData(config, quiet);
const t1 = t();
const dataset = await loadDataset(config, quiet, scanned);
const loadSeconds = t() - t1;
const model = buildModel(config, dataset.classes.length);
const learner = learnerFromConfig(config, model, dataset);
const full = { train: learner.dls.train.nBatches, trainItems: learner.dls.train.nItems, validItems: learner.dls.valid.nItems };
// Validation inputs are made once per size (shared's preprocess of every validation image) and kept:
// a one-off per run and size, timed apart from the epoch.
const t2 = t();
const validTensors = await dataset.validTensors(config.size, loaderOpts(config).stride);
const validPrepSeconds = t() - t2;
let validBatchesFull = 0;
for await (const b of learner.dls.valid.batches(0)) {
  validBatchesFull++;
  b.x.dispose();
  b.y.dispose();
}
learner.dls = {
  ...learner.dls,
  train: firstBatches(learner.dls.train, Number(values["train-batches"])),
  valid: firstBatches(learner.dls.valid, Number(values["val-batches"])),
};

// Time the checkpoint callback itself (order 50) with callbacks just before and after it.
let ckptStart = 0;
let checkpointSeconds = 0;
// And the first batch apart (kernel set-up, first allocations), so the rest extrapolates as steady state.
let epochStart = 0;
let firstBatchSeconds = 0;
const around: Callback[] = [
  { name: "first-batch-timer", order: 0, beforeEpoch: () => void (epochStart = t()), afterBatch: (e) => void (e.iter === 1 && (firstBatchSeconds = t() - epochStart)) },
  { name: "ckpt-timer-start", order: 49, afterEpoch: () => void (ckptStart = t()) },
  { name: "ckpt-timer-end", order: 51, afterEpoch: () => void (checkpointSeconds = t() - ckptStart) },
];
for (const cb of [...around, saveCheckpointEachEpoch({ path: join(out, "checkpoint.bin"), learner, config, stage: 0, nStages: 1, previous: [] })]) learner.addCallback(cb);

const c0 = process.cpuUsage();
const tFit = t();
const [record] = await fitOneCycle(learner, 1, config.lr, { div: config.div, divFinal: config.divFinal, pctStart: config.pctStart });
const fitSeconds = t() - tFit;
const cpu = process.cpuUsage(c0);
await rm(out, { recursive: true, force: true });

console.log(
  JSON.stringify({
    engine: "tfjs",
    backend,
    threads: config.threads,
    size: config.size,
    bs: config.bs,
    multiSize: config.multiSize,
    augment: config.augment,
    loadSeconds,
    validPrepSeconds,
    validImages: validTensors.data.length,
    full: { ...full, validBatches: validBatchesFull },
    run: { trainBatches: learner.dls.train.nBatches, validBatches: Math.min(learner.dls.valid.nBatches, validBatchesFull) },
    phases: { ...record!.phases!, checkpoint: checkpointSeconds },
    firstBatchSeconds,
    fitSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    setupSeconds: t1 - t0,
    validLoss: record!.validLoss,
    accuracy: record!.accuracy,
  }),
);
process.exit(0);
