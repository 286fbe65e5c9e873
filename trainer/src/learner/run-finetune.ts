import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { kernelVariant } from "../backend/simd-kernels.ts";
import { ARCHS, DEFAULT_CONFIG, FINETUNE_DEFAULTS, validateTrainConfig, type Arch, type TrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import { scanFeedbackFolder, withFeedback } from "../data/feedback-folder.ts";
import { scanImageFolder } from "../data/imagenette.ts";
import { createModel } from "../model/index.ts";
import { epochTable } from "./callbacks/epoch-table.ts";
import { progressBar } from "./callbacks/progress-bar.ts";
import { applyCheckpoint, readCheckpoint, type Checkpoint } from "./checkpoint.ts";
import type { Callback, EpochRecord } from "./events.ts";
import { extendClasses, extendHead } from "./extend-head.ts";
import { fineTune, type FineTunePhase } from "./fine-tune.ts";
import { checkpointHistory, hostInfo, type FinetuneStage, type RecordedHistory, type TrainingSession } from "./history.ts";
import { saveCheckpointEachEpoch } from "./callbacks/save-checkpoint.ts";
import type { Learner } from "./learner.ts";
import { checkpointPath } from "../run-folder.ts";
import { stagesOf } from "./run-training.ts";
import { consoleIO, learnerFromConfig, loadDataset, resolveDataDir, setupBackend, type RunIO } from "./setup.ts";

/**
 * `trainer finetune`: fastai's fine_tune on a trained checkpoint. The data is an Imagenette-layout
 * folder plus, optionally, a feedback folder (train/<class>/*) whose images join the training set.
 * Classes the checkpoint lacks (from either) extend the head after the old ones, sorted; old classes
 * keep their weights. Phase 1 trains the head with the body frozen for `freezeEpochs`; phase 2
 * unfreezes and trains with discriminative learning rates lr/200 (body) .. lr/2 (head).
 * The result is a normal checkpoint (classes, config) in `out`, ready for `trainer export`.
 */
export interface FinetuneOptions {
  /** Run folder or checkpoint.bin to start from (not needed with `resume`: the fine-tune's own checkpoint says). */
  from?: string | null;
  /** Exported feedback folder (train/<class>/*), or null. */
  feedback?: string | null;
  /** Phase-1 epochs (head only). Default FINETUNE_DEFAULTS.freezeEpochs (1, as fastai). */
  freezeEpochs?: number;
  /** Phase 2's discriminative spread: the first layer group trains at lr/lrMult. Default
   * FINETUNE_DEFAULTS.lrMult (100, as fastai); 1 trains every layer at the same rate (e.g. continuing on
   * the same data at a new size). */
  lrMult?: number;
  /**
   * Continue the interrupted fine-tune in `overrides.out` from its last epoch checkpoint, on the same
   * schedule: its saved config, start point, freeze epochs, lr spread and feedback folder win; only where to
   * compute (`backend`, `threads`) may change, as with `trainer run --resume`.
   */
  resume?: boolean;
  /**
   * Config overrides. `data` and `out` are required; `epochs` (phase 2) defaults to 1 and `lr`
   * (fastai's base_lr) to 2e-3; the rest default to the checkpoint's saved config.
   */
  overrides: Partial<TrainConfig>;
  io?: RunIO;
  progress?: boolean;
  /** Extra callbacks, built once the learner exists (they may read its model and optimiser). */
  callbacks?: (learner: Learner) => Callback[];
  /** The command as typed (`trainer finetune ...`), recorded as this stage's session in the history. */
  argv?: string[];
}

export interface FinetuneResult {
  config: TrainConfig;
  checkpoint: string;
  classes: string[];
  /** Classes the checkpoint did not have. */
  added: string[];
  feedbackImages: number;
  records: EpochRecord[];
  final: { validLoss: number; accuracy: number } | null;
}

export { FINETUNE_DEFAULTS };

async function resolveCheckpointFile(path: string): Promise<string> {
  const s = await stat(path).catch(() => null);
  if (!s) throw new DataError(`no checkpoint at ${path}: pass --from <run folder written by trainer run> or its checkpoint.bin`);
  return s.isDirectory() ? checkpointPath(path) : path;
}

/**
 * finetune.json, beside the fine-tune's checkpoint: where it started and its feedback folder as given (local
 * paths, which never reach a manifest; `--resume` reads the feedback folder from here), then its epochs.
 */
interface FinetuneFile {
  from: string;
  feedback: string | null;
  feedbackImages: number;
  added: string[];
  freezeEpochs: number;
  lrMult: number;
  records?: EpochRecord[];
}

/** Everything a fine-tune needs to train, whether it starts from a run or resumes its own checkpoint. */
interface FinetunePlan {
  /** The weights to load (the run's, its head widened; or the fine-tune's own with its optimiser state). */
  weights: Checkpoint;
  config: TrainConfig;
  freezeEpochs: number;
  lrMult: number;
  feedbackDir: string | null;
  /** The checkpoint started from, for finetune.json. */
  fromPath: string;
  start: { phase: FineTunePhase; epoch: number };
  /** Epochs an interrupted invocation already trained (empty on a fresh start). */
  previous: EpochRecord[];
  /** Invocations before this one (empty on a fresh start). */
  sessions: TrainingSession[];
  lineage: RecordedHistory | undefined;
  finetune: Omit<FinetuneStage, "baseLr">;
}

async function freshPlan(opts: FinetuneOptions, outCkpt: string): Promise<Omit<FinetunePlan, "weights" | "finetune"> & { from: Checkpoint }> {
  const { overrides } = opts;
  if (!opts.from) throw new DataError("trainer finetune needs --from <run folder or checkpoint.bin> (the trained model to start from), or --resume to continue the fine-tune in --out");
  if (!overrides.data) throw new DataError("trainer finetune needs --data <folder with train/ and val/> (the dataset to keep training on)");
  const ckptPath = await resolveCheckpointFile(opts.from);
  if (resolve(outCkpt) === resolve(ckptPath)) throw new DataError(`--out ${overrides.out} is the run being fine-tuned: choose a new folder so the original stays`);
  if (existsSync(outCkpt)) {
    throw new DataError(`${overrides.out} already holds a run (${outCkpt}): pass --resume to continue an interrupted fine-tune there, or choose another --out`);
  }
  const ckpt = await readCheckpoint(ckptPath);
  const saved: TrainConfig = ckpt.header.config
    ? validateTrainConfig(ckpt.header.config, "checkpoint config")
    : { ...DEFAULT_CONFIG, arch: ARCHS.includes(ckpt.header.arch.name as Arch) ? (ckpt.header.arch.name as Arch) : DEFAULT_CONFIG.arch };
  const lastSize = stagesOf(saved).at(-1)!.size;
  const config = validateTrainConfig({
    ...saved,
    size: lastSize,
    presize: Math.max(saved.presize, overrides.size ?? lastSize),
    epochs: FINETUNE_DEFAULTS.epochs,
    lr: FINETUNE_DEFAULTS.lr,
    stages: [],
    ...overrides,
  }, "finetune config");
  if (config.presize < config.size) throw new DataError(`--presize (${config.presize}) is smaller than --size (${config.size}); pass --presize >= --size`);
  return {
    from: ckpt,
    config,
    freezeEpochs: opts.freezeEpochs ?? FINETUNE_DEFAULTS.freezeEpochs,
    lrMult: opts.lrMult ?? FINETUNE_DEFAULTS.lrMult,
    feedbackDir: opts.feedback ?? null,
    fromPath: ckptPath,
    start: { phase: 0, epoch: 0 },
    previous: [],
    sessions: [],
    // The history so far (the run and any fine-tunes before this one) travels in the new checkpoint, and this
    // invocation becomes one more stage and session of it (issue 14: the manifest records the whole training).
    lineage: checkpointHistory(ckpt.header),
  };
}

async function resumePlan(opts: FinetuneOptions, outCkpt: string, io: RunIO): Promise<FinetunePlan> {
  const out = opts.overrides.out!;
  if (!existsSync(outCkpt)) {
    throw new DataError(`${out} holds no fine-tune to resume (no ${outCkpt}): start one with trainer finetune --from <run> --data <dir> --out ${out}`);
  }
  const ckpt = await readCheckpoint(outCkpt);
  const { finetune, config: savedConfig, progress: p } = ckpt.header;
  if (!finetune || !savedConfig) {
    throw new DataError(`${outCkpt} was written by trainer run, not trainer finetune: continue it with trainer run --resume --out ${out}`);
  }
  if (p.done) {
    throw new DataError(`${outCkpt} is a finished fine-tune: nothing to resume; export it, or fine-tune it further with --from ${out} and a new --out`);
  }
  const saved = validateTrainConfig(savedConfig, "checkpoint config");
  // The saved config wins; only where to compute may change on resume (as trainer run --resume).
  const config = { ...saved, backend: opts.overrides.backend ?? saved.backend, threads: opts.overrides.threads ?? saved.threads };
  const file = await readFile(join(out, "finetune.json"), "utf8").then((t) => JSON.parse(t) as FinetuneFile).catch(() => null);
  const feedbackDir = finetune.feedbackImages > 0 ? (file?.feedback ?? opts.feedback ?? null) : null;
  if (finetune.feedbackImages > 0 && !feedbackDir) {
    throw new DataError(`${out}/finetune.json is missing or damaged, and the fine-tune trained on ${finetune.feedbackImages} feedback images: pass --feedback <the same folder> with --resume`);
  }
  if (opts.from) io.log(`note: --from is not used with --resume: ${out} continues from its own checkpoint (started from ${finetune.from})`);
  const start: FinetunePlan["start"] = p.epoch >= p.nEpochs ? { phase: 1, epoch: 0 } : { phase: p.stage === 1 ? 1 : 0, epoch: p.epoch };
  io.log(`resume: ${outCkpt}: ${start.phase === 0 ? "frozen" : "unfrozen"} phase, epoch ${start.epoch} (${ckpt.header.metrics.length} epochs done)`);
  return {
    weights: ckpt,
    config,
    freezeEpochs: finetune.freezeEpochs,
    lrMult: finetune.lrMult,
    feedbackDir,
    fromPath: file?.from ?? finetune.from,
    start,
    previous: ckpt.header.metrics,
    sessions: ckpt.header.sessions ?? [],
    lineage: ckpt.header.lineage,
    finetune,
  };
}

export async function runFinetune(opts: FinetuneOptions): Promise<FinetuneResult> {
  const io = opts.io ?? consoleIO;
  if (!opts.overrides.out) {
    throw new DataError(opts.resume ? "trainer finetune --resume needs --out <the interrupted fine-tune's run folder>" : "trainer finetune needs --out <new run folder> for the fine-tuned checkpoint");
  }
  const outCkpt = checkpointPath(opts.overrides.out);
  const fresh = opts.resume ? null : await freshPlan(opts, outCkpt);
  const resumed = opts.resume ? await resumePlan(opts, outCkpt, io) : null;
  const { config, freezeEpochs, lrMult, feedbackDir, start, previous, lineage } = (fresh ?? resumed)!;
  const known = fresh ? fresh.from.header.classes : resumed!.weights.header.classes;

  // Scan everything before any decoding, so layout mistakes surface at once.
  const dataDir = await resolveDataDir(config, io);
  const split = await scanImageFolder(dataDir, { limit: config.limit, validLimit: config.validLimit, noisy: config.noisy });
  const feedback = feedbackDir ? await scanFeedbackFolder(feedbackDir) : new Map<string, string[]>();
  const feedbackImages = [...feedback.values()].reduce((a, p) => a + p.length, 0);
  const { classes, added } = extendClasses(known, [...split.classes, ...feedback.keys()]);
  if (resumed && (added.length > 0 || feedbackImages !== resumed.finetune.feedbackImages)) {
    throw new DataError(
      `the data changed since this fine-tune started (${resumed.finetune.feedbackImages} feedback images then, ${feedbackImages} now` +
        `${added.length > 0 ? `; classes it never had: ${added.join(", ")}` : ""}): resuming would train on other data; start a new fine-tune from ${opts.overrides.out} instead`,
    );
  }
  const finetune = resumed?.finetune ?? { from: `${basename(resolve(fresh!.fromPath, ".."))}/${basename(fresh!.fromPath)}`, freezeEpochs, lrMult, feedbackImages, added };
  const merged = withFeedback(split, feedback, classes);
  if (fresh) {
    io.log(
      `finetune: ${fresh.fromPath} (${fresh.from.header.arch.name}, ${known.length} classes)` +
        (feedbackDir ? `; feedback ${feedbackDir}: ${feedbackImages} images in ${feedback.size} classes` : "") +
        (added.length > 0 ? `; new classes: ${added.join(", ")}` : "; no new classes"),
    );
  }
  const unseen = known.filter((c) => !merged.train.some((it) => classes[it.label] === c));
  if (unseen.length > 0) io.log(`note: no training images for ${unseen.length} of the checkpoint's classes (${unseen.slice(0, 3).join(", ")}...)`);

  await mkdir(config.out, { recursive: true });
  await writeFile(join(config.out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  const fromPath = resolve(fresh?.fromPath ?? resumed!.fromPath);
  const file: FinetuneFile = { from: fromPath, feedback: feedbackDir ? resolve(feedbackDir) : null, feedbackImages, added: finetune.added, freezeEpochs, lrMult };
  // Written before training, so that --resume finds the feedback folder of an interrupted fine-tune.
  await writeFile(join(config.out, "finetune.json"), `${JSON.stringify(file, null, 2)}\n`);
  const backend = await setupBackend(config, io);
  const session: TrainingSession = {
    argv: opts.argv ?? [],
    startedAt: new Date().toISOString(),
    // Where in the history this invocation picked up: the fine-tune's stage, after the epochs already done.
    resumedAt: resumed ? { stage: lineage?.stages.length ?? 0, epoch: previous.length } : null,
    host: hostInfo(),
    backend,
    threads: config.threads,
    ...(backend === "wasm" ? { kernels: kernelVariant() } : {}),
  };
  const sessions = [...(resumed?.sessions ?? []), session];
  const dataset = await loadDataset(config, io, { dir: dataDir, split: merged });

  const weights = fresh ? extendHead(fresh.from, classes, { seed: config.seed }) : resumed!.weights;
  const model = createModel(weights.header.arch, { seed: config.seed });
  const learner = learnerFromConfig(config, model, dataset, { callbacks: [...(opts.progress === false ? [] : [progressBar()]), epochTable(io.write)] });
  for (const cb of opts.callbacks?.(learner) ?? []) learner.addCallback(cb);
  // After every epoch, as `trainer run` does: the record gets its input size and end time (its stage is the
  // fine-tune's own, 0 here; checkpointHistory renumbers it after the stages of the run it started from), and the
  // checkpoint is replaced with weights, optimiser state and where in fine_tune's two phases it is, so an
  // interrupted fine-tune loses at most one epoch (`--resume`). One callback per phase, as per stage in a run;
  // the learner's history holds this invocation's epochs of the phases before.
  const checkpointEachEpoch = (phase: FineTunePhase): void => {
    learner.removeCallback("save-checkpoint");
    learner.addCallback(
      saveCheckpointEachEpoch({
        path: outCkpt,
        learner,
        config,
        stage: phase,
        nStages: 2,
        recordStage: 0,
        previous: [...previous, ...learner.history],
        size: config.size,
        sessions,
        ...(lineage ? { lineage } : {}),
        finetune,
      }),
    );
  };
  try {
    applyCheckpoint(weights, model, resumed ? learner.opt : undefined);
    io.log(`model: ${weights.header.arch.name}, ${classes.length} classes; backend ${backend}; ${freezeEpochs} frozen + ${config.epochs} unfrozen epochs at base lr ${config.lr} (lr_mult ${lrMult})`);
    await fineTune(learner, config.epochs, { baseLr: config.lr, freezeEpochs, lrMult, start, onPhase: checkpointEachEpoch });
  } finally {
    learner.dispose();
    model.dispose();
  }
  const all = [...previous, ...learner.history];
  await writeFile(join(config.out, "finetune.json"), `${JSON.stringify({ ...file, records: all }, null, 2)}\n`);
  const last = all.at(-1);
  return {
    config,
    checkpoint: outCkpt,
    classes,
    added: finetune.added,
    feedbackImages,
    records: all,
    final: last ? { validLoss: last.validLoss, accuracy: last.accuracy } : null,
  };
}
