import { kernelVariant } from "../backend/simd-kernels.ts";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TrainConfig } from "../config.ts";
import { stagesOf, validateTrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import { checkpointPath } from "../run-folder.ts";
import { epochTable } from "./callbacks/epoch-table.ts";
import { progressBar } from "./callbacks/progress-bar.ts";
import { saveCheckpointEachEpoch } from "./callbacks/save-checkpoint.ts";
import { applyCheckpoint, readCheckpoint } from "./checkpoint.ts";
import type { Callback, EpochRecord } from "./events.ts";
import { hostInfo, type TrainingSession } from "./history.ts";
import { fitOneCycle } from "./one-cycle.ts";
import { buildModel, consoleIO, learnerFromConfig, loaderOpts, loadDataset, scanData, setupBackend, type RunIO } from "./setup.ts";

export interface RunResult {
  config: TrainConfig;
  records: EpochRecord[];
  checkpoint: string;
  /** Accuracy and loss after the last epoch. */
  final: { validLoss: number; accuracy: number } | null;
}

export { checkpointPath };

export { stagesOf };

/**
 * `trainer run`: data -> model -> one fitOneCycle per stage (progressive resizing continues on the same
 * model), a checkpoint after every epoch. With `resume`, the config comes from the checkpoint in
 * `config.out` and training continues at the stage and epoch it recorded, on the same schedule.
 */
export async function runTraining(
  requested: TrainConfig,
  opts: { resume?: boolean; io?: RunIO; progress?: boolean; callbacks?: Callback[]; argv?: string[] } = {},
): Promise<RunResult> {
  const io = opts.io ?? consoleIO;
  const ckptPath = checkpointPath(requested.out);
  let config = requested;
  let start = { stage: 0, epoch: 0 };
  let previous: EpochRecord[] = [];
  const ckpt = opts.resume ? await readCheckpoint(ckptPath) : null;
  if (ckpt) {
    if (!ckpt.header.config) throw new DataError(`${ckptPath} has no saved config, so it cannot be resumed: start a new run`);
    if (ckpt.header.finetune) throw new DataError(`${ckptPath} was written by trainer finetune: continue it with trainer finetune --resume --out ${requested.out}`);
    // The saved config wins; only where to compute may change on resume.
    config = { ...validateTrainConfig(ckpt.header.config, "checkpoint config"), backend: requested.backend, threads: requested.threads };
    const p = ckpt.header.progress;
    if (p.done) throw new DataError(`${ckptPath} is a finished run (all stages done): nothing to resume; start a new run with another --out`);
    start = p.epoch >= p.nEpochs ? { stage: p.stage + 1, epoch: 0 } : { stage: p.stage, epoch: p.epoch };
    previous = ckpt.header.metrics;
    io.log(`resume: ${ckptPath}: stage ${start.stage}, epoch ${start.epoch}`);
  } else if (existsSync(ckptPath)) {
    throw new DataError(`${requested.out} already holds a run (${ckptPath}): pass --resume to continue it, or choose another --out`);
  }
  const scanned = await scanData(config, io);
  await mkdir(config.out, { recursive: true });
  await writeFile(join(config.out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  io.log(`config: ${JSON.stringify(config)}`);

  const backend = await setupBackend(config, io);
  // This invocation, appended to the ones the checkpoint recorded: the manifest's training history.
  const session: TrainingSession = {
    argv: opts.argv ?? [],
    startedAt: new Date().toISOString(),
    resumedAt: ckpt ? { ...start } : null,
    host: hostInfo(),
    backend,
    threads: config.threads,
    ...(backend === "wasm" ? { kernels: kernelVariant() } : {}),
  };
  const sessions = [...(ckpt?.header.sessions ?? []), session];
  const dataset = await loadDataset(config, io, scanned);
  const model = buildModel(config, dataset.classes.length);
  const stages = stagesOf(config);
  const learner = learnerFromConfig(config, model, dataset, { size: stages[start.stage]?.size ?? config.size });
  if (ckpt) applyCheckpoint(ckpt, model, learner.opt);
  io.log(`model: ${config.arch}, ${model.parameters().reduce((a, p) => a + p.variable.size, 0).toLocaleString("en")} parameters; backend ${backend}${session.kernels ? ` (${session.kernels} kernels)` : ""}`);

  const records: EpochRecord[] = [...previous];
  try {
    for (let s = start.stage; s < stages.length; s++) {
      const stage = stages[s]!;
      learner.dls = dataset.loaders({ ...loaderOpts(config), size: stage.size });
      if (stages.length > 1) io.write(`stage ${s + 1}/${stages.length}: ${stage.epochs} epochs at ${stage.size}px, lr ${stage.lr}`);
      const callbacks = [
        ...(opts.progress === false ? [] : [progressBar()]),
        epochTable(io.write),
        saveCheckpointEachEpoch({ path: ckptPath, learner, config, stage: s, nStages: stages.length, previous: [...records], size: stage.size, sessions }),
        ...(opts.callbacks ?? []),
      ];
      callbacks.forEach((cb) => learner.addCallback(cb));
      try {
        const got = await fitOneCycle(learner, stage.epochs, stage.lr, {
          div: config.div,
          divFinal: config.divFinal,
          pctStart: config.pctStart,
          startEpoch: s === start.stage ? start.epoch : 0,
        });
        records.push(...got);
      } finally {
        callbacks.forEach((cb) => learner.removeCallback(cb.name));
      }
    }
  } finally {
    learner.dispose();
    model.dispose();
  }
  await writeFile(join(config.out, "metrics.json"), `${JSON.stringify(records, null, 2)}\n`);
  const last = records[records.length - 1];
  return { config, records, checkpoint: ckptPath, final: last ? { validLoss: last.validLoss, accuracy: last.accuracy } : null };
}

export { loaderOpts };
