/**
 * A whole training epoch, data and validation included, by phase, side by side with PyTorch in the
 * same run (issue 13). For each thread count: our trainer (epoch-worker.ts: `trainer run`'s own
 * functions on the wasm backend) and the PyTorch twin (twin.py epoch: the same recipe in plain PyTorch,
 * channels-last), each in its own process.
 *
 *   npx tsx bench/train/epoch.ts --data <imagenette folder> [--threads 1,2] [--size 64] [--bs 64]
 *       [--train-batches 16] [--val-batches 8] [--arch resnet18] [--multi-size] [--no-augment] [--no-torch]
 *
 * --train-batches N / --val-batches M run the first N training and M validation batches of the epoch
 * (0 = all: a measured full epoch). The full epoch is then EXTRAPOLATED: the first batch as measured (set-up
 * costs), the other batches at the measured steady-state rate, validation at its rate per batch, plus the
 * checkpoint. Loading (decode + presize, a one-off per run; our trainer reuses its on-disk cache, the twin
 * decodes only the images it uses) and preparing the validation inputs (a one-off per size) are reported
 * apart, as they are not paid per epoch.
 *
 * Both train the book's fixed square size unless --multi-size (the trainer's default: each batch's shape
 * drawn around --size: 1.32x the pixels per epoch at 64 px, 1.20x at 128; see data/multi-size.ts) is given. Our augmentation is the trainer's
 * (random-resized crop, flip, rotate, zoom, warp, lighting; --no-augment: crop only), the twin's is
 * RandomResizedCrop + flip; both are a few ms of a step of seconds.
 *
 * --threads 1,2 also answers whether `trainer run --threads` should default to every core (config.ts,
 * defaultThreads): compare the tfjs rows' epoch minutes.
 *
 * Timings are only meaningful with nothing else running on the machine.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { archSpec } from "../../trainer/src/model/index.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const PYTHON = "/usr/bin/python3";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    arch: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    bs: { type: "string", default: "64" },
    threads: { type: "string", default: "1,2" },
    "train-batches": { type: "string", default: "16" },
    "val-batches": { type: "string", default: "8" },
    "multi-size": { type: "boolean", default: false },
    "no-augment": { type: "boolean", default: false },
    "no-torch": { type: "boolean", default: false },
  },
});
if (!values.data) {
  console.error("--data <folder with train/ and val/> is required (imagenette2-160 layout)");
  process.exit(1);
}
const threadCounts = values.threads!.split(",").map(Number);

interface Phases { trainData: number; step: number; optimizer?: number; validData: number; validForward: number; callbacks?: number; checkpoint: number }
interface Result {
  engine: string;
  threads: number;
  loadSeconds: number;
  validPrepSeconds?: number;
  decodedImages?: number;
  full: { train: number; validBatches: number; trainItems: number; validItems: number };
  run: { trainBatches: number; validBatches: number };
  phases: Phases;
  firstBatchSeconds: number;
  fitSeconds: number;
  cpuSeconds: number;
  multiSize?: boolean;
  torch?: string;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Result | { error: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) return { error: `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-3).join(" ").slice(0, 300) };
  return JSON.parse(line) as Result;
}

/** The whole epoch from a partial run: first batch as measured, the rest at the steady rate. */
function epochSeconds(r: Result): { total: number; train: number; valid: number; extrapolated: boolean } {
  const p = r.phases;
  const trainMeasured = p.trainData + p.step + (p.callbacks ?? 0);
  const steady = r.run.trainBatches > 1 ? (trainMeasured - r.firstBatchSeconds) / (r.run.trainBatches - 1) : trainMeasured;
  const train = r.firstBatchSeconds + steady * (r.full.train - 1);
  const valid = ((p.validData + p.validForward) / Math.max(1, r.run.validBatches)) * r.full.validBatches;
  const extrapolated = r.run.trainBatches < r.full.train || r.run.validBatches < r.full.validBatches;
  return { total: train + valid + p.checkpoint, train, valid, extrapolated };
}

const common = ["--data", values.data, "--size", values.size!, "--bs", values.bs!, "--train-batches", values["train-batches"]!, "--val-batches", values["val-batches"]!];
const torchOk = !values["no-torch"] && spawnSync(PYTHON, ["-c", "import torch, torchvision, PIL"], { stdio: "ignore" }).status === 0;
const results: (Result | { engine: string; threads: number; error: string })[] = [];
for (const threads of threadCounts) {
  process.stderr.write(`${threads} thread(s): tfjs wasm ... `);
  const flags = [...(values["multi-size"] ? [] : ["--fixed-size"]), ...(values["no-augment"] ? ["--no-augment"] : [])];
  const ours = runJson(process.execPath, ["--import", "tsx", join(here, "epoch-worker.ts"), "--arch", values.arch!, "--threads", String(threads), ...common, ...flags]);
  results.push("error" in ours ? { engine: "tfjs wasm", threads, error: ours.error } : { ...ours, engine: "tfjs wasm" });
  if (torchOk) {
    process.stderr.write("pytorch ... ");
    const spec = JSON.stringify(archSpec(values.arch!, { nOut: 10 }));
    const t = runJson(PYTHON, [join(here, "twin.py"), "epoch", "--spec", spec, "--data", values.data, "--size", values.size!, "--batch", values.bs!, "--threads", String(threads),
      "--train-batches", values["train-batches"]!, "--val-batches", values["val-batches"]!], { OMP_NUM_THREADS: String(threads) });
    results.push("error" in t ? { engine: "pytorch", threads, error: t.error } : { ...t, engine: `pytorch ${t.torch} (channels-last)` });
  }
  process.stderr.write("done\n");
}

const s = (v: number, d = 1) => v.toFixed(d);
const ms = (v: number, n: number) => (n > 0 ? ((1000 * v) / n).toFixed(0) : "-");
console.log(`\n${values.arch} ${values.size}px, batch ${values.bs}, ${values["train-batches"] === "0" ? "all" : values["train-batches"]} train / ${values["val-batches"] === "0" ? "all" : values["val-batches"]} valid batches per run; ${availableParallelism()} cores; ` +
  `tfjs multi-size ${values["multi-size"] ? "on (trainer default)" : "off (fixed square, as the twin)"}, augment ${values["no-augment"] ? "crop only" : "full"}; pytorch: RandomResizedCrop + flip`);
console.log("\nPer batch: means over the batches run, the first one included (ms); one-offs and the checkpoint in s:\n");
console.log("| engine | threads | load s (one-off) | valid prep s (one-off) | first batch s | train data ms/batch | step ms/batch | of which optimizer | valid data ms/batch | valid forward ms/batch | checkpoint s | img/s (train) |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  if ("error" in r) {
    console.log(`| ${r.engine} | ${r.threads} | error: ${r.error} |`);
    continue;
  }
  const p = r.phases;
  const n = r.run.trainBatches;
  const ips = (n * Number(values.bs)) / (p.trainData + p.step);
  console.log(`| ${r.engine} | ${r.threads} | ${s(r.loadSeconds)}${r.decodedImages ? ` (${r.decodedImages} images)` : ""} | ${r.validPrepSeconds === undefined ? "in load" : s(r.validPrepSeconds)} | ${s(r.firstBatchSeconds, 2)} | ${ms(p.trainData, n)} | ${ms(p.step, n)} | ${p.optimizer === undefined ? "-" : ms(p.optimizer, n)} | ${ms(p.validData, r.run.validBatches)} | ${ms(p.validForward, r.run.validBatches)} | ${s(p.checkpoint, 2)} | ${s(ips)} |`);
}
console.log("\nOne epoch (train + validation + checkpoint; minutes):\n");
console.log("| engine | threads | epoch min | train min | valid min | not the step (data + valid + ckpt + callbacks) | x PyTorch (epoch) | x PyTorch (step) |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of results) {
  if ("error" in r) continue;
  const e = epochSeconds(r);
  const torch = results.find((o): o is Result => !("error" in o) && o.engine.startsWith("pytorch") && o.threads === r.threads);
  const isTorch = r.engine.startsWith("pytorch");
  const te = torch ? epochSeconds(torch) : null;
  const stepRatio = torch && !isTorch ? `${s(r.phases.step / r.run.trainBatches / (torch.phases.step / torch.run.trainBatches), 2)}x` : "";
  const p = r.phases;
  // Everything but the step, each at its mean rate per batch, over the whole epoch.
  const perTrainBatch = (p.trainData + (p.callbacks ?? 0)) / r.run.trainBatches;
  const notStep = (perTrainBatch * r.full.train + e.valid + p.checkpoint) / e.total;
  console.log(`| ${r.engine} | ${r.threads} | ${s(e.total / 60, 2)}${e.extrapolated ? " (extrapolated)" : " (measured)"} | ${s(e.train / 60, 2)} | ${s(e.valid / 60, 2)} | ${s(100 * notStep)}% | ${te && !isTorch ? `${s(e.total / te.total, 2)}x` : ""} | ${stepRatio} |`);
}
if (!torchOk) console.log(`\nPyTorch: ${values["no-torch"] ? "skipped (--no-torch)" : `not runnable at ${PYTHON} (needs torch, torchvision, Pillow)`}`);
