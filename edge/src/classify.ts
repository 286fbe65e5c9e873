// The one classification pipeline behind both routes: preprocess -> run -> softmax/top-k.
import { readImageHeader, targetSize, type DecodePath, type ModelManifest, type PreprocessConfig } from "@resnet-edge/shared";
import { ApiError } from "./http/errors.ts";
import type { SizeMode } from "./http/query.ts";
import { topK as rank, type Prediction } from "./inference/postprocess.ts";
import type { LoadedModel } from "./models/registry.ts";

/** The shared package's `preprocess` (injected so route tests can run without wasm codecs). */
export interface Preprocessed {
  data: Float32Array;
  dims: [number, number, number, number];
  source: { format: string; width: number; height: number };
  timing: { decodeMs: number; preprocessMs: number };
}
export type PreprocessFn = (bytes: Uint8Array, config: PreprocessConfig, opts?: { layout?: "NCHW" }) => Promise<Preprocessed>;

export interface ClassifyOptions {
  topK: number;
  size: SizeMode;
  /** MAX_PIXELS: the decoded image. */
  maxPixels: number;
  /** The limit for a decoder path when it is not MAX_PIXELS (PNG, WebP: limits.ts pixelLimitFor), with its var's name. */
  pixelLimit?: (path: DecodePath) => { pixels: number; name: string };
  /** MAX_TENSOR_PIXELS: the tensor fed to the model (H*W). */
  maxTensorPixels: number;
}

export interface ClassifyResult {
  predictions: Prediction[];
  model: { name: string; version: string };
  input: { format: string; width: number; height: number; tensor: { height: number; width: number } };
  timing: { decode: number; preprocess: number; inference: number };
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

export async function classifyImage(model: LoadedModel, bytes: Uint8Array, opts: ClassifyOptions, preprocess: PreprocessFn): Promise<ClassifyResult> {
  // The header alone gives both sizes; refuse before any pixel is allocated. A 1x40000 strip is small
  // to decode but scaled to a 224 shortest edge it becomes a 224x8960000 tensor.
  const header = readImageHeader(bytes);
  const limit = opts.pixelLimit?.(header.decodePath) ?? { pixels: opts.maxPixels, name: "MAX_PIXELS" };
  const config = requestConfig(model.manifest, opts.size, limit.pixels, header, opts.maxTensorPixels);
  if (header.width * header.height > config.maxPixels) {
    const what = { jpeg: "", png: " PNG", png16: " 16-bit PNG", webp: " lossy WebP", "webp-lossless": " lossless WebP" }[header.decodePath];
    throw new ApiError(
      413,
      "image_too_large",
      `the${what} image is ${header.width}x${header.height} (${header.width * header.height} pixels); this worker accepts at most ${config.maxPixels} pixels for it (${limit.name}): resize it and send it again`,
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
  const pre = await preprocess(bytes, config, { layout: "NCHW" });
  const [, , h, w] = pre.dims;
  const t0 = performance.now();
  const out = await model.session.run(pre.data, pre.dims);
  const inference = performance.now() - t0;
  return {
    predictions: rank(out.data, model.manifest.classes, opts.topK),
    model: { name: model.name, version: model.version },
    input: { format: pre.source.format, width: pre.source.width, height: pre.source.height, tensor: { height: h, width: w } },
    timing: { decode: round(pre.timing.decodeMs), preprocess: round(pre.timing.preprocessMs), inference: round(inference) },
  };
}
