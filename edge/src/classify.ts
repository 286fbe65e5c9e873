// The one classification pipeline behind both routes: preprocess -> run -> softmax/top-k.
import { checkDecodeLimits, decodePathAtScale, ImageError, readImageHeader, servingConfig, shrinkDenominator, targetSize, TTA_VIEWS, type DecodeLimits, type ImageHeader, type ModelManifest, type PreprocessConfig, type TtaView } from "@resnet-edge/shared";
import { admitImage } from "./admit.ts";
import { ApiError } from "./http/errors.ts";
import type { SizeMode } from "./http/query.ts";
import { softmax, topK as rank, type Prediction } from "./inference/postprocess.ts";
import type { LoadedModel } from "./models/registry.ts";

/** The shared package's `preprocess` (injected so route tests can run without wasm codecs). */
export interface Preprocessed {
  data: Float32Array;
  dims: [number, number, number, number];
  source: { format: string; width: number; height: number };
  /** What the decoder tolerated (stray bytes, a missing EOI); absent or empty for a clean file. */
  warnings?: string[];
  timing: { decodeMs: number; preprocessMs: number };
  /** The TTA views asked for with `opts.views`, each of `dims`. */
  views?: { view: TtaView; data: Float32Array; dims: [number, number, number, number] }[];
}
export type PreprocessFn = (bytes: Uint8Array, config: PreprocessConfig, opts?: { layout?: "NCHW"; views?: readonly TtaView[] }) => Promise<Preprocessed>;

export interface ClassifyOptions {
  topK: number;
  size: SizeMode;
  /** Test-time augmentation: average the softmax over shared's TTA_VIEWS (one model run per view). */
  tta?: boolean;
  /** MAX_PIXELS_* per decode path and MAX_JPEG_COEFFICIENT_BYTES: the decoded image. */
  decodeLimits: DecodeLimits;
  /** The var name of each path's pixel limit, for the 413 message. */
  limitVars?: Partial<Record<string, string>>;
  /** MAX_TENSOR_PIXELS: the tensor fed to the model (H*W). */
  maxTensorPixels: number;
}

export interface ClassifyResult {
  predictions: Prediction[];
  model: { name: string; version: string };
  input: { format: string; width: number; height: number; tensor: { height: number; width: number } };
  /** With tta: the views whose probabilities were averaged, and the model runs that cost. */
  tta?: { views: TtaView[]; modelRuns: number };
  timing: { decode: number; preprocess: number; inference: number };
  /** Present when the decoder tolerated a flaw (libjpeg's warnings): the answer stands, the file is not clean. */
  warnings?: string[];
}

/**
 * The preprocessing a request gets: shared's `servingConfig` (the one definition the trainer's calibrate and
 * eval use too). `default`: the manifest's preprocess as written (for an FCN export: shortest edge to the
 * serving size, both sides rounded to the stride, no crop; scaled down just enough to fit `maxTensorPixels`
 * when the aspect ratio would exceed it). `native`: the whole image at its own resolution
 * (rounded to the stride), scaled down just enough to fit `maxTensorPixels`. `maxPixels` caps the decoded image.
 */
export function requestConfig(manifest: ModelManifest, size: SizeMode, maxPixels: number, image?: { width: number; height: number }, maxTensorPixels = Infinity): PreprocessConfig {
  return servingConfig(manifest, { size, maxPixels, maxTensorPixels, ...(image ? { image } : {}) });
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Read the header and decide what the request becomes, refusing (413, admit.ts) what would exceed a limit.
 * The header alone gives both sizes: a 1x40000 strip is small to decode, but scaled to a 224 shortest
 * edge it becomes a 224x8960000 tensor. Feedback goes through here too (at size=default).
 * The decode path, and so its limit, depends on the shrink-on-load scale the recipe gives the image: a
 * progressive JPEG decoded at 1/8 (DC-only, no coefficient buffer) is limited like a baseline one.
 */
export function planRequest(manifest: ModelManifest, bytes: Uint8Array, opts: Pick<ClassifyOptions, "size" | "decodeLimits" | "limitVars" | "maxTensorPixels">): { config: PreprocessConfig; tensor: { width: number; height: number } } {
  const read = readImageHeader(bytes);
  // the recipe's resize does not depend on maxPixels, so the scale is known before the path's limit is
  const scale = shrinkDenominator(read.width, read.height, requestConfig(manifest, opts.size, Infinity, read, opts.maxTensorPixels).resize);
  const path = decodePathAtScale(read, scale);
  const header: ImageHeader = path === read.path ? read : { ...read, path, coefficientBytes: 0 };
  checkPathLimits(header, opts);
  const config = requestConfig(manifest, opts.size, opts.decodeLimits.maxPixels[header.path], header, opts.maxTensorPixels);
  const tensor = targetSize(header.width, header.height, config.resize);
  admitImage(header, tensor, { maxPixels: config.maxPixels, maxTensorPixels: opts.maxTensorPixels });
  return { config, tensor };
}

/** The decode path's own limits (MAX_PIXELS_<path>, MAX_JPEG_COEFFICIENT_BYTES): 413 naming the var. */
function checkPathLimits(header: ImageHeader, opts: Pick<ClassifyOptions, "decodeLimits" | "limitVars">): void {
  try {
    checkDecodeLimits(header, opts.decodeLimits);
  } catch (e) {
    const limitVar = opts.limitVars?.[header.path];
    if (e instanceof ImageError && limitVar) throw new ApiError(413, "image_too_large", `${e.message} (limit set by ${e.detail.coefficientBytes ? "MAX_JPEG_COEFFICIENT_BYTES" : limitVar})`);
    throw e;
  }
}

/** Bytes -> the NCHW tensor the model takes (with the TTA views when asked), after planRequest's checks. */
export async function imageTensor(manifest: ModelManifest, bytes: Uint8Array, opts: Omit<ClassifyOptions, "topK">, preprocess: PreprocessFn): Promise<Preprocessed> {
  const { config } = planRequest(manifest, bytes, opts);
  return preprocess(bytes, config, { layout: "NCHW", ...(opts.tta ? { views: TTA_VIEWS } : {}) });
}

export async function classifyImage(model: LoadedModel, bytes: Uint8Array, opts: ClassifyOptions, preprocess: PreprocessFn): Promise<ClassifyResult> {
  const pre = await imageTensor(model.manifest, bytes, opts, preprocess);
  const [, , h, w] = pre.dims;
  const t0 = performance.now();
  let scores: Float32Array | Float64Array;
  if (opts.tta && pre.views) {
    // fastai's tta: the mean of the views' softmax probabilities. Ranked as log-probabilities, whose
    // softmax is the mean itself, so the response's scores are the averaged probabilities.
    const mean = new Float64Array(model.manifest.classes.length);
    for (const v of pre.views) {
      const out = await model.session.run(v.data, v.dims);
      softmax(out.data).forEach((p, i) => (mean[i]! += p / pre.views!.length));
    }
    scores = mean.map(Math.log);
  } else {
    scores = (await model.session.run(pre.data, pre.dims)).data;
  }
  const inference = performance.now() - t0;
  return {
    predictions: rank(scores, model.manifest.classes, opts.topK),
    model: { name: model.name, version: model.version },
    input: { format: pre.source.format, width: pre.source.width, height: pre.source.height, tensor: { height: h, width: w } },
    ...(opts.tta && pre.views ? { tta: { views: pre.views.map((v) => v.view), modelRuns: pre.views.length } } : {}),
    timing: { decode: round(pre.timing.decodeMs), preprocess: round(pre.timing.preprocessMs), inference: round(inference) },
    ...(pre.warnings?.length ? { warnings: pre.warnings } : {}),
  };
}
