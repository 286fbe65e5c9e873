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
  /**
   * Test-time augmentation views to compute besides the main tensor, from the same decoded pixels (see
   * TTA_VIEWS). Each has the main tensor's shape; the result lists them in `views`.
   */
  views?: readonly TtaView[];
}

/**
 * fastai's `learn.tta()` views, made deterministic: "center" is the main tensor; "flip" mirrors it left to
 * right; "shift-tl" / "shift-br" resize the image `shiftOf(...)` pixels larger on both sides and take the
 * tensor-sized window at the top-left / bottom-right instead of the centre (a small zoom and shift).
 */
export type TtaView = "center" | "flip" | "shift-tl" | "shift-br";
export const TTA_VIEWS: readonly TtaView[] = ["center", "flip", "shift-tl", "shift-br"];

/** The shift of the shifted views: 1/8 of the tensor's shorter side, at least 2 pixels. */
export function shiftOf(width: number, height: number): number {
  return Math.max(2, Math.round(Math.min(width, height) / 8));
}

export interface ViewTensor {
  view: TtaView;
  data: Float32Array;
  dims: [number, number, number, number];
}

export interface PreprocessResult {
  data: Float32Array;
  /** [1, 3, H, W] for NCHW, [1, H, W, 3] for NHWC. */
  dims: [number, number, number, number];
  /** The `views` asked for, in order (absent when none were). */
  views?: ViewTensor[];
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
  return applyPixels(image, validatePreprocessConfig(config), opts, t0, fullSize);
}

/** preprocessImage's body for a config its caller has already validated (validation happens once per call chain). */
function applyPixels(
  image: RawImage,
  cfg: PreprocessConfig,
  opts: PreprocessOptions,
  t0: number,
  fullSize?: { width: number; height: number },
): Omit<PreprocessResult, "source" | "timing" | "warnings"> & { timing: { preprocessMs: number } } {
  const layout = opts.layout ?? "NCHW";
  assertRawImage(image, "preprocessImage");
  const rgbx = opaqueRgbaView(image) ?? packRgbx(toRGB(image, cfg.background));
  // The resize target comes from the full size even when the decoder shrank the image on load, so the
  // tensor's shape never depends on the reduction.
  const size = targetSize(fullSize?.width ?? rgbx.width, fullSize?.height ?? rgbx.height, cfg.resize);
  const main = tensorOf(rgbx, size, cfg, layout);
  const views = opts.views?.map((view): ViewTensor => {
    if (view === "center") return { view, data: main.data, dims: main.dims };
    if (view === "flip") return { view, data: flipTensor(main, layout), dims: main.dims };
    const t = shiftedTensor(rgbx, size, cfg, layout, view) ?? main;
    return { view, data: t.data, dims: t.dims };
  });
  return { data: main.data, dims: main.dims, ...(views ? { views } : {}), timing: { preprocessMs: performance.now() - t0 } };
}

function tensorOf(rgbx: ReturnType<typeof packRgbx>, size: { width: number; height: number }, cfg: PreprocessConfig, layout: TensorLayout): Tensor {
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
  return tensor;
}

/** The tensor-sized window of the image resized `shiftOf` pixels larger, at a corner; null when a crop pads (no room). */
function shiftedTensor(rgbx: ReturnType<typeof packRgbx>, size: { width: number; height: number }, cfg: PreprocessConfig, layout: TensorLayout, view: "shift-tl" | "shift-br"): Tensor | null {
  const [h, w] = cfg.crop ?? [size.height, size.width];
  if (w > size.width || h > size.height) return null;
  const d = shiftOf(w, h);
  const big = { width: size.width + d, height: size.height + d };
  const x = view === "shift-tl" ? 0 : big.width - w;
  const y = view === "shift-tl" ? 0 : big.height - h;
  return normalizeRgbx(resizeRgbxWindow(rgbx, big.width, big.height, { x, y, width: w, height: h }), cfg.mean, cfg.std, layout);
}

/** A [1, C, H, W] or [1, H, W, C] tensor mirrored left to right. */
function flipTensor(t: Tensor, layout: TensorLayout): Float32Array {
  const out = new Float32Array(t.data.length);
  if (layout === "NCHW") {
    const [, c, h, w] = t.dims;
    for (let p = 0; p < c * h; p++) for (let x = 0; x < w; x++) out[p * w + x] = t.data[p * w + (w - 1 - x)]!;
  } else {
    const [, h, w, c] = t.dims;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = t.data[(y * w + (w - 1 - x)) * c + k]!;
  }
  return out;
}

/**
 * Bytes to model input, the one function the worker and the trainer call. Applies `config` in a fixed order:
 * sniff -> header -> maxPixels -> decode -> EXIF orient -> to RGB -> resize -> center crop -> normalize -> layout.
 */
export async function preprocess(bytes: Uint8Array, config: PreprocessConfig, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  const cfg = validatePreprocessConfig(config);
  const t0 = performance.now();
  const decoded = await decodeUpright(bytes, { maxPixels: cfg.maxPixels, ...(opts.limits ? { limits: opts.limits } : {}) }, "rgba", (w, h) => shrinkDenominator(w, h, cfg.resize));
  const { image, fullWidth, fullHeight, scale } = decoded;
  const t1 = performance.now();
  const out = applyPixels(image, cfg, opts, t1, { width: fullWidth, height: fullHeight });
  return {
    data: out.data,
    dims: out.dims,
    ...(out.views ? { views: out.views } : {}),
    source: { format: image.format, width: fullWidth, height: fullHeight, scale },
    warnings: image.warnings ?? [],
    timing: { decodeMs: t1 - t0, preprocessMs: out.timing.preprocessMs },
  };
}
