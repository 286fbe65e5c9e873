/**
 * `trainer export`: a trained checkpoint -> the artifact the edge serves (model.onnx + manifest.json).
 * The export verifies itself before writing anything: the ONNX graph, run by onnxruntime, must give the
 * tfjs model's logits (max abs diff < 1e-4) at an odd, non-square size.
 */
import * as tf from "@tensorflow/tfjs-core";
import { access, mkdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { constants } from "node:fs";
import { labelFor, type ModelManifest } from "@resnet-edge/shared";
import type { TrainConfig } from "../config.ts";
import { DataError } from "../data/errors.ts";
import { ensureWritable } from "../run-folder.ts";
import { servingPreprocess } from "../data/serving-preprocess.ts";
import { applyCheckpoint, readCheckpoint, type Checkpoint } from "../learner/checkpoint.ts";
import { checkpointHistory } from "../learner/history.ts";
import { checkpointPath, stagesOf } from "../learner/run-training.ts";
import { createModel, definitionOf, totalStride, type Model } from "../model/index.ts";
import { seededRandom } from "../model/init.ts";
import { makeManifest, sha256Hex } from "./manifest.ts";
import { calibrationRanges, compareTop1, loadImageTensors, type Agreement } from "./calibrate.ts";
import { exportOnnx } from "./onnx-export.ts";
import { quantizeQdq, type CalibrationMethod } from "./quantize.ts";

export interface ExportRunOptions {
  /** A run folder (containing checkpoint.bin) or a checkpoint file. */
  checkpoint: string;
  /** Output folder for model.onnx and manifest.json. */
  out: string;
  /** Model name in the manifest (default: the run folder's name). */
  name?: string;
  /** Version label (default: UTC timestamp, e.g. 20261129t0612). */
  version?: string;
  opset?: number;
  /** Also write model.int8.onnx (static QDQ int8), calibrated on training images. */
  int8?: boolean;
  /**
   * Write only model.int8.onnx and make it the manifest's `model` (for shipping a model in git, where the
   * 4x larger fp32 file does not belong). The fp32 graph is still built, self-verified and used as the
   * reference for the agreement check; its sha256 and size are recorded under `training.fp32`. Implies int8.
   */
  int8Only?: boolean;
  /** Dataset folder (train/ and val/ per class) for calibration and the int8/fp32 agreement check;
   * default: the dataset the checkpoint was trained on. */
  calibrationData?: string;
  /** Calibration images per class (from train/). */
  calibrationPerClass?: number;
  /** Validation images per class for the int8-vs-fp32 agreement check. */
  agreementPerClass?: number;
  calibration?: CalibrationMethod;
  log?: (line: string) => void;
}

export interface ExportResult {
  manifest: ModelManifest;
  files: string[];
  /** Max abs logit difference between tfjs and onnxruntime in the self-check. */
  verifiedMaxDiff: number;
  int8?: Agreement;
}

const VERIFY_TOLERANCE = 1e-4;

async function resolveCheckpoint(path: string): Promise<string> {
  const abs = resolve(path);
  const s = await stat(abs).catch(() => null);
  if (!s) throw new DataError(`no checkpoint at ${path}: pass a run folder written by \`trainer run --out <dir>\` or its checkpoint.bin`);
  return s.isDirectory() ? checkpointPath(abs) : abs;
}

/** Rebuild the checkpoint's model, with a clear error for an architecture this trainer does not know. */
export function modelFromCheckpoint(ckpt: Checkpoint, path: string): Model {
  try {
    definitionOf(ckpt.header.arch);
  } catch (e) {
    throw new DataError(`checkpoint ${path} is for an unknown architecture: ${(e as Error).message}`);
  }
  const model = createModel(ckpt.header.arch);
  try {
    applyCheckpoint(ckpt, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Logits of tfjs vs onnxruntime on the same random NCHW tensor; returns the max abs difference. */
export async function verifyOnnx(model: Model, onnx: Uint8Array, height = 97, width = 75): Promise<number> {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
  try {
    const rand = seededRandom(11);
    const c = model.arch.inChannels;
    const nchw = new Float32Array(c * height * width).map(() => rand() * 2 - 1);
    const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [1, c, height, width]), [0, 2, 3, 1]) as tf.Tensor4D);
    const y = model.forward(x, { training: false });
    const expected = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    const out = await session.run({ input: new ort.Tensor("float32", nchw, [1, c, height, width]) });
    const got = out.logits!.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - expected[i]!));
    return diff;
  } finally {
    await session.release();
  }
}

function defaultVersion(date = new Date()): string {
  return date.toISOString().slice(0, 16).replace(/[-:]/g, "").toLowerCase();
}

export async function exportRun(opts: ExportRunOptions): Promise<ExportResult> {
  const log = opts.log ?? (() => {});
  const ckptPath = await resolveCheckpoint(opts.checkpoint);
  const ckpt = await readCheckpoint(ckptPath);
  const calibrationData = opts.calibrationData ?? (ckpt.header.config as { data?: string | null } | null)?.data ?? undefined;
  const wantInt8 = opts.int8 === true || opts.int8Only === true;
  if (wantInt8 && !calibrationData) {
    throw new DataError("--int8 needs calibration images: pass --calibration-data <folder with train/ and val/> (e.g. the Imagenette folder you trained on)");
  }
  const out = resolve(opts.out);
  await ensureWritable(out);
  const model = modelFromCheckpoint(ckpt, ckptPath);
  try {
    const onnx = await exportOnnx(model, { opset: opts.opset ?? 19 });
    const diff = await verifyOnnx(model, onnx);
    if (!(diff < VERIFY_TOLERANCE)) {
      throw new Error(`export self-check failed: onnxruntime logits differ from tfjs by ${diff} (limit ${VERIFY_TOLERANCE}); this is a bug in the exporter`);
    }
    log(`verified: onnxruntime matches tfjs (max abs diff ${diff.toExponential(2)})`);
    const config = ckpt.header.config as TrainConfig | null;
    const stages = config ? stagesOf(config) : [];
    const finalSize = stages.length > 0 ? stages[stages.length - 1]!.size : 128;
    const last = ckpt.header.metrics[ckpt.header.metrics.length - 1];
    const runDir = ckptPath.endsWith("checkpoint.bin") ? dirname(ckptPath) : ckptPath;
    // The manifest's preprocess is what the worker serves at size=default, and what validation ran.
    const stride = totalStride(definitionOf(ckpt.header.arch));
    const preprocessConfig = servingPreprocess(finalSize, stride);
    let int8: { onnx: Uint8Array; agreement: Agreement } | undefined;
    if (wantInt8 && calibrationData) {
      const data = calibrationData;
      const calib = await loadImageTensors(data, "train", opts.calibrationPerClass ?? 30, preprocessConfig);
      const method = opts.calibration ?? "minmax";
      log(`int8: calibrating on ${calib.length} training images (${method})`);
      const q = quantizeQdq(onnx, await calibrationRanges(onnx, calib, method));
      const val = await loadImageTensors(data, "val", opts.agreementPerClass ?? 20, preprocessConfig);
      const agreement = await compareTop1(onnx, q, val);
      log(
        `int8: ${(q.byteLength / 1e6).toFixed(1)} MB (fp32 ${(onnx.byteLength / 1e6).toFixed(1)} MB); on ${agreement.images} val images ` +
          `top-1 agreement ${(agreement.top1Agreement * 100).toFixed(1)}%, accuracy fp32 ${(agreement.fp32Accuracy * 100).toFixed(1)}% / int8 ${(agreement.int8Accuracy * 100).toFixed(1)}%`,
      );
      int8 = { onnx: q, agreement };
    }
    const int8Only = opts.int8Only === true && int8 !== undefined;
    const manifest = makeManifest({
      name: opts.name ?? sanitizeName(basename(runDir)),
      version: opts.version ?? defaultVersion(),
      architecture: { ...ckpt.header.arch },
      onnx: int8Only && int8 ? int8.onnx : onnx,
      ...(int8Only ? { modelFile: "model.int8.onnx" } : {}),
      preprocess: preprocessConfig,
      stride,
      classes: ckpt.header.classes.map((wnid) => ({ wnid, label: labelFor(wnid) })),
      training: {
        // The run's name and the file, not where the run lived on the training machine.
        checkpoint: `${basename(runDir)}/${basename(ckptPath)}`,
        checkpointCreatedAt: ckpt.header.createdAt,
        progress: ckpt.header.progress,
        epochs: ckpt.header.metrics,
        config: ckpt.header.config,
        // Every stage with its epoch table and time, and every invocation that trained it (issue 14).
        ...(config ? { history: checkpointHistory({ ...ckpt.header, config }) } : {}),
        // With --int8-only the fp32 file is not written; this names the weights it was quantized from.
        ...(int8Only ? { fp32: { file: "model.onnx", sha256: sha256Hex(onnx), bytes: onnx.byteLength }, precision: "int8" } : {}),
      },
      ...(int8 && !int8Only ? { variants: { int8: { file: "model.int8.onnx", onnx: int8.onnx } } } : {}),
      metrics: {
        ...(last ? { valAccuracy: last.accuracy, valLoss: last.validLoss, trainLoss: last.trainLoss } : {}),
        ...(int8
          ? {
              int8Top1Agreement: int8.agreement.top1Agreement,
              int8SliceAccuracy: int8.agreement.int8Accuracy,
              fp32SliceAccuracy: int8.agreement.fp32Accuracy,
              sliceImages: int8.agreement.images,
            }
          : {}),
      },
    });
    const files: string[] = [];
    if (!int8Only) {
      files.push(join(out, "model.onnx"));
      await writeFile(join(out, "model.onnx"), onnx);
    }
    if (int8) {
      files.push(join(out, "model.int8.onnx"));
      await writeFile(join(out, "model.int8.onnx"), int8.onnx);
    }
    files.push(join(out, "manifest.json"));
    await writeFile(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    log(
      `wrote ${files.join(", ")} (${(manifest.model.bytes / 1e6).toFixed(1)} MB${int8Only ? ` int8, from fp32 ${(onnx.byteLength / 1e6).toFixed(1)} MB` : ""}, sha256 ${manifest.model.sha256.slice(0, 12)}…)`,
    );
    return { manifest, files, verifiedMaxDiff: diff, ...(int8 ? { int8: int8.agreement } : {}) };
  } finally {
    model.dispose();
  }
}

/** Manifest names are lowercase [a-z0-9._-]; derive one from a folder name. */
export function sanitizeName(s: string): string {
  const n = s.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 64);
  return n || "model";
}
