import { validateTrainConfig, type TrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import { applyCheckpoint, readCheckpoint } from "./checkpoint.ts";
import { buildModel, consoleIO, learnerFromConfig, loadDataset, scanData, setupBackend, type RunIO } from "./setup.ts";

export interface EvalResult {
  validLoss: number;
  accuracy: number;
  nItems: number;
  size: number;
}

/**
 * `trainer eval`: load a checkpoint, run its validation set (or `--data`'s) through shared's exact
 * serving preprocessing at the checkpoint's final size (or `size`), report loss and accuracy.
 */
export async function runEval(
  checkpoint: string,
  overrides: Partial<Pick<TrainConfig, "data" | "size" | "validLimit" | "limit" | "backend" | "threads" | "bs">>,
  opts: { io?: RunIO } = {},
): Promise<EvalResult> {
  const io = opts.io ?? consoleIO;
  const ckpt = await readCheckpoint(checkpoint);
  if (!ckpt.header.config) throw new DataError(`${checkpoint} has no saved config: evaluate a checkpoint written by trainer run`);
  const saved = validateTrainConfig(ckpt.header.config, "checkpoint config");
  const lastStage = saved.stages.length > 0 ? saved.stages[saved.stages.length - 1]!.size : saved.size;
  const config: TrainConfig = { ...saved, ...overrides, size: overrides.size ?? lastStage };
  const scanned = await scanData(config, io, { validOnly: true });
  await setupBackend(config, io);
  const dataset = await loadDataset({ ...config, presize: Math.max(config.presize, config.size) }, io, scanned);
  if (dataset.classes.join() !== ckpt.header.classes.join()) {
    throw new DataError(`${config.data} has classes [${dataset.classes.slice(0, 3).join(", ")}...] but the checkpoint was trained on [${ckpt.header.classes.slice(0, 3).join(", ")}...]: evaluate on the same dataset layout`);
  }
  const model = buildModel(config, dataset.classes.length);
  const learner = learnerFromConfig(config, model, dataset);
  try {
    applyCheckpoint(ckpt, model);
    const { loss, accuracy } = await learner.validate();
    io.write(`valid_loss ${loss.toFixed(6)}  accuracy ${accuracy.toFixed(6)}  (${dataset.nValid} images at ${config.size}px)`);
    return { validLoss: loss, accuracy, nItems: dataset.nValid, size: config.size };
  } finally {
    learner.dispose();
    model.dispose();
  }
}
