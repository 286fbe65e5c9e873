import { existsSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { kernelVariant } from "../backend/simd-kernels.ts";
import { ARCHS, DEFAULT_CONFIG, FINETUNE_DEFAULTS, validateTrainConfig, type Arch, type TrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import { scanFeedbackFolder, withFeedback } from "../data/feedback-folder.ts";
import { scanImageFolder } from "../data/imagenette.ts";
import { createModel } from "../model/index.ts";
import { epochTable } from "./callbacks/epoch-table.ts";
import { progressBar } from "./callbacks/progress-bar.ts";
import { applyCheckpoint, readCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { Callback, EpochRecord } from "./events.ts";
import { extendClasses, extendHead } from "./extend-head.ts";
import { fineTune } from "./fine-tune.ts";
import { checkpointHistory, hostInfo, type TrainingSession } from "./history.ts";
import { stampEpochRecord } from "./callbacks/save-checkpoint.ts";
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
  /** Run folder or checkpoint.bin to start from. */
  from: string;
  /** Exported feedback folder (train/<class>/*), or null. */
  feedback?: string | null;
  /** Phase-1 epochs (head only). Default FINETUNE_DEFAULTS.freezeEpochs (1, as fastai). */
  freezeEpochs?: number;
  /** Phase 2's discriminative spread: the first layer group trains at lr/lrMult. Default
   * FINETUNE_DEFAULTS.lrMult (100, as fastai); 1 trains every layer at the same rate (e.g. continuing on
   * the same data at a new size). */
  lrMult?: number;
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

export async function runFinetune(opts: FinetuneOptions): Promise<FinetuneResult> {
  const io = opts.io ?? consoleIO;
  const { overrides } = opts;
  if (!overrides.data) throw new DataError("trainer finetune needs --data <folder with train/ and val/> (the dataset to keep training on)");
  if (!overrides.out) throw new DataError("trainer finetune needs --out <new run folder> for the fine-tuned checkpoint");
  const ckptPath = await resolveCheckpointFile(opts.from);
  const outCkpt = checkpointPath(overrides.out);
  if (resolve(outCkpt) === resolve(ckptPath)) throw new DataError(`--out ${overrides.out} is the run being fine-tuned: choose a new folder so the original stays`);
  if (existsSync(outCkpt)) throw new DataError(`${overrides.out} already holds a run (${outCkpt}): choose another --out`);
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
  const freezeEpochs = opts.freezeEpochs ?? FINETUNE_DEFAULTS.freezeEpochs;
  const lrMult = opts.lrMult ?? FINETUNE_DEFAULTS.lrMult;

  // Scan everything before any decoding, so layout mistakes surface at once.
  const dataDir = await resolveDataDir(config, io);
  const split = await scanImageFolder(dataDir, { limit: config.limit, validLimit: config.validLimit, noisy: config.noisy });
  const feedback = opts.feedback ? await scanFeedbackFolder(opts.feedback) : new Map<string, string[]>();
  const feedbackImages = [...feedback.values()].reduce((a, p) => a + p.length, 0);
  const { classes, added } = extendClasses(ckpt.header.classes, [...split.classes, ...feedback.keys()]);
  const merged = withFeedback(split, feedback, classes);
  io.log(
    `finetune: ${ckptPath} (${ckpt.header.arch.name}, ${ckpt.header.classes.length} classes)` +
      (opts.feedback ? `; feedback ${opts.feedback}: ${feedbackImages} images in ${feedback.size} classes` : "") +
      (added.length > 0 ? `; new classes: ${added.join(", ")}` : "; no new classes"),
  );
  const unseen = ckpt.header.classes.filter((c) => !merged.train.some((it) => classes[it.label] === c));
  if (unseen.length > 0) io.log(`note: no training images for ${unseen.length} of the checkpoint's classes (${unseen.slice(0, 3).join(", ")}...)`);

  await mkdir(config.out, { recursive: true });
  await writeFile(join(config.out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  const backend = await setupBackend(config, io);
  // The history so far (the run and any fine-tunes before this one) travels in the new checkpoint, and this
  // invocation becomes one more stage and session of it (issue 14: the manifest records the whole training).
  const lineage = checkpointHistory(ckpt.header);
  const session: TrainingSession = {
    argv: opts.argv ?? [],
    startedAt: new Date().toISOString(),
    resumedAt: null,
    host: hostInfo(),
    backend,
    threads: config.threads,
    ...(backend === "wasm" ? { kernels: kernelVariant() } : {}),
  };
  const dataset = await loadDataset(config, io, { dir: dataDir, split: merged });

  const grown = extendHead(ckpt, classes, { seed: config.seed });
  const model = createModel(grown.header.arch, { seed: config.seed });
  const learner = learnerFromConfig(config, model, dataset, { callbacks: [...(opts.progress === false ? [] : [progressBar()]), epochTable(io.write)] });
  for (const cb of opts.callbacks?.(learner) ?? []) learner.addCallback(cb);
  // Each epoch's record carries its input size and end time, as `trainer run`'s do. Its stage is the fine-tune's
  // own (0 here); checkpointHistory renumbers it after the stages of the run it started from.
  learner.addCallback({ name: "record-epoch", order: 50, afterEpoch: (e) => stampEpochRecord(e.record, 0, config.size) });
  let records: EpochRecord[];
  try {
    applyCheckpoint(grown, model);
    io.log(`model: ${grown.header.arch.name}, ${classes.length} classes; backend ${backend}; ${freezeEpochs} frozen + ${config.epochs} unfrozen epochs at base lr ${config.lr} (lr_mult ${lrMult})`);
    records = await fineTune(learner, config.epochs, { baseLr: config.lr, freezeEpochs, lrMult });
    await saveCheckpoint(outCkpt, {
      model,
      classes,
      config,
      progress: { stage: 0, epoch: config.epochs, nEpochs: config.epochs, pos: 1, done: true },
      metrics: records,
      sessions: [session],
      ...(lineage ? { lineage } : {}),
      finetune: { from: `${basename(resolve(ckptPath, ".."))}/${basename(ckptPath)}`, freezeEpochs, lrMult, feedbackImages, added },
    });
  } finally {
    learner.dispose();
    model.dispose();
  }
  await writeFile(
    join(config.out, "finetune.json"),
    `${JSON.stringify({ from: resolve(ckptPath), feedback: opts.feedback ? resolve(opts.feedback) : null, feedbackImages, added, freezeEpochs, lrMult, records }, null, 2)}\n`,
  );
  const last = records.at(-1);
  return {
    config,
    checkpoint: outCkpt,
    classes,
    added,
    feedbackImages,
    records,
    final: last ? { validLoss: last.validLoss, accuracy: last.accuracy } : null,
  };
}
