// The one classification pipeline behind both routes: preprocess -> run -> softmax/top-k.
import { checkDecodeLimits, ImageError, readImageHeader, targetSize, type DecodeLimits, type ModelManifest, type PreprocessConfig } from "@resnet-edge/shared";
import { ApiError } from "./http/errors.ts";
import type { SizeMode } from "./http/query.ts";
import { topK as rank, type Prediction } from "./inference/postprocess.ts";
import type { LoadedModel } from "./models/registry.ts";

/** The shared package's `preprocess` (injected so route tests can run without wasm codecs). */
export interface Preprocessed {
  data: Float32Array;
  dims: [number, number, number, number];
  source: { format: string; width: number; height: number };
  /** What the decoder tolerated (stray bytes, a missing EOI); absent or empty for a clean file. */
  warnings?: string[];
  timing: { decodeMs: number; preprocessMs: number };
}
export type PreprocessFn = (bytes: Uint8Array, config: PreprocessConfig, opts?: { layout?: "NCHW" }) => Promise<Preprocessed>;

export interface ClassifyOptions {
  topK: number;
  size: SizeMode;
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
  timing: { decode: number; preprocess: number; inference: number };
  /** Present when the decoder tolerated a flaw (libjpeg's warnings): the answer stands, the file is not clean. */
  warnings?: string[];
}

/** The edge the model saw in training: the manifest's resize size (shortest side for [h, w]). */
export function trainingSize(pp: PreprocessConfig): number | null {
  const s = pp.resize.size;
  if (Array.isArray(s)) return Math.min(s[0], s[1]);
  return s > 0 ? s : null;
}

/**
 * The preprocessing a request gets. `default`: shortest edge scaled to the training size, aspect
 * kept, no crop. `native`: the whole image at its own resolution; an image whose W*H exceeds
 * `maxTensorPixels` is scaled down, aspect kept, just enough to fit. `maxPixels` caps the decoded image.
 */
export function requestConfig(manifest: ModelManifest, size: SizeMode, maxPixels: number, image?: { width: number; height: number }, maxTensorPixels = Infinity): PreprocessConfig {
  const pp = manifest.preprocess;
  const cap = Math.min(pp.maxPixels, maxPixels);
  // A graph with a fixed H x W (an imported 224x224 classifier) takes only that size: its manifest's
  // own resize + centre crop, whatever `size` asks for.
  if (fixedInputSize(manifest)) return { ...pp, maxPixels: cap };
  const edge = trainingSize(pp);
  if (size === "native" || edge === null) {
    if (image && image.width * image.height > maxTensorPixels) {
      return { ...pp, resize: { mode: "shortest-edge", size: nativeEdgeWithin(image.width, image.height, maxTensorPixels) }, crop: null, maxPixels: cap };
    }
    // `size` is ignored for "none" but must validate as a positive integer.
    return { ...pp, resize: { mode: "none", size: edge ?? 1 }, crop: null, maxPixels: cap };
  }
  return { ...pp, resize: { mode: "shortest-edge", size: edge }, crop: null, maxPixels: cap };
}

/** [H, W] when the model's input has fixed spatial dims (NCHW), else null (fully convolutional). */
export function fixedInputSize(manifest: ModelManifest): [number, number] | null {
  const dims = manifest.inputs[0]?.dims ?? [];
  const h = dims[2];
  const w = dims[3];
  return typeof h === "number" && typeof w === "number" ? [h, w] : null;
}

/** The largest shortest edge whose aspect-kept resize of a width x height image has at most `maxTensorPixels` pixels. */
export function nativeEdgeWithin(width: number, height: number, maxTensorPixels: number): number {
  let s = Math.max(1, Math.floor(Math.min(width, height) * Math.sqrt(maxTensorPixels / (width * height))));
  for (;;) {
    const t = targetSize(width, height, { mode: "shortest-edge", size: s });
    if (t.width * t.height <= maxTensorPixels || s === 1) return s;
    s--;
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Bytes -> the NCHW tensor the model takes, refusing (413) from the header what the limits forbid. */
export async function imageTensor(manifest: ModelManifest, bytes: Uint8Array, opts: Omit<ClassifyOptions, "topK">, preprocess: PreprocessFn): Promise<Preprocessed> {
  // The header alone gives both sizes; refuse before any pixel is allocated. A 1x40000 strip is small
  // to decode but scaled to a 224 shortest edge it becomes a 224x8960000 tensor.
  const header = readImageHeader(bytes);
  const maxPixels = opts.decodeLimits.maxPixels[header.path];
  const config = requestConfig(manifest, opts.size, maxPixels, header, opts.maxTensorPixels);
  try {
    checkDecodeLimits(header, opts.decodeLimits);
  } catch (e) {
    const limitVar = opts.limitVars?.[header.path];
    if (e instanceof ImageError && limitVar) throw new ApiError(413, "image_too_large", `${e.message} (limit set by ${e.detail.coefficientBytes ? "MAX_JPEG_COEFFICIENT_BYTES" : limitVar})`);
    throw e;
  }
  if (header.width * header.height > config.maxPixels) {
    throw new ApiError(
      413,
      "image_too_large",
      `the image is ${header.width}x${header.height} (${header.width * header.height} pixels); the model accepts at most ${config.maxPixels} pixels (its manifest's preprocess.maxPixels): resize it and send it again`,
    );
  }
  const t = targetSize(header.width, header.height, config.resize);
  if (t.width * t.height > opts.maxTensorPixels) {
    throw new ApiError(
      413,
      "image_too_large",
      `the ${header.width}x${header.height} image becomes a ${t.width}x${t.height} tensor (${t.width * t.height} pixels); the model accepts at most ${opts.maxTensorPixels} (MAX_TENSOR_PIXELS): crop it to a less extreme aspect ratio`,
    );
  }
  return preprocess(bytes, config, { layout: "NCHW" });
}

export async function classifyImage(model: LoadedModel, bytes: Uint8Array, opts: ClassifyOptions, preprocess: PreprocessFn): Promise<ClassifyResult> {
  const pre = await imageTensor(model.manifest, bytes, opts, preprocess);
  const [, , h, w] = pre.dims;
  const t0 = performance.now();
  const out = await model.session.run(pre.data, pre.dims);
  const inference = performance.now() - t0;
  return {
    predictions: rank(out.data, model.manifest.classes, opts.topK),
    model: { name: model.name, version: model.version },
    input: { format: pre.source.format, width: pre.source.width, height: pre.source.height, tensor: { height: h, width: w } },
    timing: { decode: round(pre.timing.decodeMs), preprocess: round(pre.timing.preprocessMs), inference: round(inference) },
    ...(pre.warnings?.length ? { warnings: pre.warnings } : {}),
  };
}
