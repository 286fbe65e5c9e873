import * as tf from "@tensorflow/tfjs-core";
import { TTA_VIEWS, type TtaView } from "@resnet-edge/shared";
import { validateTrainConfig, type TrainConfig } from "../config.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { Model } from "../model/index.ts";
import { DataError } from "../data/errors.ts";
import { applyCheckpoint, readCheckpoint } from "./checkpoint.ts";
import { buildModel, consoleIO, learnerFromConfig, loaderOpts, loadDataset, scanData, setupBackend, type RunIO } from "./setup.ts";

export interface EvalResult {
  validLoss: number;
  accuracy: number;
  nItems: number;
  size: number;
  /** With `tta`: accuracy of the mean softmax over shared's TTA views (fastai's learn.tta()). */
  tta?: { accuracy: number; views: string[]; modelRuns: number };
}

/**
 * fastai's `learn.tta()` accuracy: per validation image, the model's softmax over shared's TTA views (the
 * same views `/v1/classify?tta=1` runs), averaged, then argmax.
 */
export async function ttaAccuracy(model: Model, dataset: ImageDataset, size: number, stride: number | undefined, views: readonly TtaView[] = TTA_VIEWS): Promise<number> {
  let correct = 0;
  let n = 0;
  for await (const item of dataset.validViews(size, stride, views)) {
    const [, h, w, c] = item.views[0]!.dims;
    const batch = new Float32Array(item.views.length * h * w * c);
    item.views.forEach((v, k) => batch.set(v.data, k * h * w * c));
    const mean = tf.tidy(() => tf.mean(tf.softmax(model.forward(tf.tensor4d(batch, [item.views.length, h, w, c]), { training: false })), 0));
    const probs = (await mean.data()) as Float32Array;
    mean.dispose();
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
    if (best === item.label) correct++;
    n++;
  }
  return n === 0 ? NaN : correct / n;
}

/**
 * `trainer eval`: load a checkpoint, run its validation set (or `--data`'s) through shared's exact
 * serving preprocessing at the checkpoint's final size (or `size`), report loss and accuracy.
 */
export async function runEval(
  checkpoint: string,
  overrides: Partial<Pick<TrainConfig, "data" | "size" | "validLimit" | "limit" | "backend" | "threads" | "bs">>,
  opts: { io?: RunIO; tta?: boolean; ttaViews?: readonly TtaView[] } = {},
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
    const result: EvalResult = { validLoss: loss, accuracy, nItems: dataset.nValid, size: config.size };
    if (opts.tta) {
      const views = opts.ttaViews ?? TTA_VIEWS;
      const tta = await ttaAccuracy(model, dataset, config.size, loaderOpts(config).stride, views);
      io.write(`tta accuracy ${tta.toFixed(6)}  (${views.join(", ")}: ${views.length} model runs per image; ${((tta - accuracy) * 100).toFixed(2)} points)`);
      result.tta = { accuracy: tta, views: [...views], modelRuns: views.length };
    }
    return result;
  } finally {
    learner.dispose();
    model.dispose();
  }
}
