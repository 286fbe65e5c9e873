import { validatePreprocessConfig, type PreprocessConfig } from "./config.ts";
import { decodeUpright } from "./decode.ts";
import { assertRawImage, type RawImage } from "./image.ts";
import { centerCrop } from "./ops/center-crop.ts";
import { normalizeRgbx, normalizeToTensor, type Tensor, type TensorLayout } from "./ops/normalize.ts";
import { resizeRgbxWindow } from "./ops/resize.ts";
import { opaqueRgbaView, packRgbx, unpackRgb } from "./ops/rgbx.ts";
import { shrinkDenominator } from "./ops/shrink-on-load.ts";
import { targetSize } from "./ops/target-size.ts";
import type { DecodeLimits } from "./format/decode-limits.ts";
import { toRGB } from "./ops/to-rgb.ts";

export interface PreprocessOptions {
  /** "NCHW" (default; ONNX models) or "NHWC" (tfjs). */
  layout?: TensorLayout;
  /** Per-decode-path limits (the edge's table), checked from the header on top of `config.maxPixels`. */
  limits?: DecodeLimits;
}

export interface PreprocessResult {
  data: Float32Array;
  /** [1, 3, H, W] for NCHW, [1, H, W, 3] for NHWC. */
  dims: [number, number, number, number];
  /**
   * The image after EXIF orientation, before resizing: its full size, and the JPEG/WebP shrink-on-load reduction
   * it was decoded at (1 = full size; 2, 4, 8 = decoded at 1/2, 1/4, 1/8: in the DCT domain for JPEG, by
   * libwebp's scaled decode for WebP).
   */
  source: { format: string; width: number; height: number; scale: number };
  /** What the decoder tolerated (stray bytes before a marker, a missing EOI, ...); empty for a clean file. */
  warnings: string[];
  /**
   * Milliseconds spent decoding and in the pixel operations, from performance.now(). On deployed
   * Cloudflare Workers the clock advances only on I/O (a Spectre mitigation), so there both read 0; in
   * workerd run locally (wrangler dev, Miniflare) they are real, in whole milliseconds
   * (test/shared/parity.test.ts checks that).
   */
  timing: { decodeMs: number; preprocessMs: number };
}

/**
 * The pixel half of the recipe for callers that already hold decoded, upright pixels (the trainer caches
 * them): to RGB on `background` -> resize to targetSize(config.resize) -> center crop (padding with
 * `background` where the image is smaller) -> normalize -> tensor layout. `config` is validated first.
 */
export function preprocessImage(
  image: RawImage,
  config: PreprocessConfig,
  opts: PreprocessOptions = {},
  /** The size the target is computed from when `image` was decoded at a reduced scale (its full size). */
  fullSize?: { width: number; height: number },
): Omit<PreprocessResult, "source" | "timing" | "warnings"> & { timing: { preprocessMs: number } } {
  const t0 = performance.now();
  const cfg = validatePreprocessConfig(config);
  const layout = opts.layout ?? "NCHW";
  assertRawImage(image, "preprocessImage");
  const rgbx = opaqueRgbaView(image) ?? packRgbx(toRGB(image, cfg.background));
  const size = targetSize(fullSize?.width ?? rgbx.width, fullSize?.height ?? rgbx.height, cfg.resize);
  const [cropHeight, cropWidth] = cfg.crop ?? [size.height, size.width];
  let tensor: Tensor;
  if (cropWidth <= size.width && cropHeight <= size.height) {
    // resize and center crop in one pass: only the kept window is computed (same offsets as centerCrop)
    const window = { x: Math.floor((size.width - cropWidth) / 2), y: Math.floor((size.height - cropHeight) / 2), width: cropWidth, height: cropHeight };
    tensor = normalizeRgbx(resizeRgbxWindow(rgbx, size.width, size.height, window), cfg.mean, cfg.std, layout);
  } else {
    // the crop is larger than the resized image on some side: pad with the background
    const resized = unpackRgb(resizeRgbxWindow(rgbx, size.width, size.height, { x: 0, y: 0, ...size }));
    tensor = normalizeToTensor(centerCrop(resized, cropWidth, cropHeight, cfg.background), cfg.mean, cfg.std, layout);
  }
  return { data: tensor.data, dims: tensor.dims, timing: { preprocessMs: performance.now() - t0 } };
}

/**
 * Bytes to model input, the one function the worker and the trainer call. Applies `config` in a fixed order:
 * sniff -> header -> maxPixels -> decode -> EXIF orient -> to RGB -> resize -> center crop -> normalize -> layout.
 * A JPEG or WebP is decoded at the largest 1/2, 1/4 or 1/8 reduction that still covers the resize target
 * (shrinkDenominator: shrink-on-load), and resized from there to the target computed from its full size.
 */
export async function preprocess(bytes: Uint8Array, config: PreprocessConfig, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  const cfg = validatePreprocessConfig(config);
  const t0 = performance.now();
  const decoded = await decodeUpright(bytes, { maxPixels: cfg.maxPixels, ...(opts.limits ? { limits: opts.limits } : {}) }, "rgba", (w, h) => shrinkDenominator(w, h, cfg.resize));
  const { image, fullWidth, fullHeight, scale } = decoded;
  const t1 = performance.now();
  const out = preprocessImage(image, cfg, opts, { width: fullWidth, height: fullHeight });
  return {
    data: out.data,
    dims: out.dims,
    source: { format: image.format, width: fullWidth, height: fullHeight, scale },
    warnings: image.warnings ?? [],
    timing: { decodeMs: t1 - t0, preprocessMs: out.timing.preprocessMs },
  };
}
