import { validatePreprocessConfig, type PreprocessConfig } from "./config.ts";
import { decodeUpright } from "./decode.ts";
import { assertRawImage, type RawImage } from "./image.ts";
import { centerCrop } from "./ops/center-crop.ts";
import { normalizeRgbx, normalizeToTensor, type Tensor, type TensorLayout } from "./ops/normalize.ts";
import { resizeRgbxWindow } from "./ops/resize.ts";
import { opaqueRgbaView, packRgbx, unpackRgb } from "./ops/rgbx.ts";
import { targetSize } from "./ops/target-size.ts";
import { toRGB } from "./ops/to-rgb.ts";

export interface PreprocessOptions {
  /** "NCHW" (default; ONNX models) or "NHWC" (tfjs). */
  layout?: TensorLayout;
}

export interface PreprocessResult {
  data: Float32Array;
  /** [1, 3, H, W] for NCHW, [1, H, W, 3] for NHWC. */
  dims: [number, number, number, number];
  /** The decoded image after EXIF orientation, before resizing. */
  source: { format: string; width: number; height: number };
  /**
   * Milliseconds spent decoding and in the pixel operations, from performance.now(). Inside workerd the
   * clock does not advance during CPU work (a Workers security measure), so there both read 0.
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
): Omit<PreprocessResult, "source" | "timing"> & { timing: { preprocessMs: number } } {
  return preprocessPixels(image, config, opts, image);
}

/**
 * preprocessImage, with the resize target computed from `fullSize`: the size the file stores, which is
 * larger than `image` when the decoder shrank it on load. The target, crop and tensor are then the same
 * whatever the decoder's reduction was.
 */
function preprocessPixels(
  image: RawImage,
  config: PreprocessConfig,
  opts: PreprocessOptions,
  fullSize: { width: number; height: number },
): Omit<PreprocessResult, "source" | "timing"> & { timing: { preprocessMs: number } } {
  const t0 = performance.now();
  const cfg = validatePreprocessConfig(config);
  const layout = opts.layout ?? "NCHW";
  assertRawImage(image, "preprocessImage");
  const rgbx = opaqueRgbaView(image) ?? packRgbx(toRGB(image, cfg.background));
  const size = targetSize(fullSize.width, fullSize.height, cfg.resize);
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
 */
export async function preprocess(bytes: Uint8Array, config: PreprocessConfig, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  const cfg = validatePreprocessConfig(config);
  const t0 = performance.now();
  const image = await decodeUpright(bytes, { maxPixels: cfg.maxPixels, shrinkFor: cfg.resize }, "rgba");
  const t1 = performance.now();
  const full = image.fullSize ?? image;
  const out = preprocessPixels(image, cfg, opts, full);
  return {
    data: out.data,
    dims: out.dims,
    source: { format: image.format, width: full.width, height: full.height },
    timing: { decodeMs: t1 - t0, preprocessMs: out.timing.preprocessMs },
  };
}
