import type { PreprocessConfig } from "../config.ts";
import { targetSize } from "./target-size.ts";

/** The DCT-domain reductions libjpeg offers (scale_num = 1, scale_denom = 1, 2, 4 or 8). */
export type JpegScale = 1 | 2 | 4 | 8;

/**
 * Shrink-on-load: the largest reduction 1/2, 1/4 or 1/8 at which a JPEG of `width`x`height` (as displayed,
 * after EXIF orientation) still decodes to at least the size `resize` makes of it, on both sides; 1 when
 * none does (or when `resize` keeps the full size). libjpeg's output side at 1/d is ceil(side / d). Pure,
 * so the trainer and the worker pick the same scale and see the same pixels.
 */
export function jpegDecodeScale(width: number, height: number, resize: PreprocessConfig["resize"]): JpegScale {
  if (resize.mode === "none") return 1;
  const need = targetSize(width, height, resize);
  for (const d of [8, 4, 2] as const) {
    if (Math.ceil(width / d) >= need.width && Math.ceil(height / d) >= need.height) return d;
  }
  return 1;
}
