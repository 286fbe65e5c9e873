import type { PreprocessConfig } from "../config.ts";
import { targetSize } from "./target-size.ts";

/** The reductions a decoder may apply while decoding: libjpeg's DCT scaling and libwebp's scaled decode, used alike. */
export const SHRINK_DENOMINATORS = [8, 4, 2, 1] as const;
export type ShrinkDenominator = (typeof SHRINK_DENOMINATORS)[number];

/**
 * Shrink-on-load: the largest reduction 1/d (d in 8, 4, 2, 1) such that the image decoded at
 * ceil(width / d) x ceil(height / d) is still at least as large, on both sides, as what `resize` makes of
 * the full image. The decoder then hands the project's one resize (ops/resize.ts) a smaller image; the resize
 * still makes the final step, so the tensor size is the same whatever d is. A pure function of the header
 * size (upright, i.e. after EXIF orientation) and the recipe, so the trainer and the worker choose alike.
 * "none" never shrinks.
 */
export function shrinkDenominator(width: number, height: number, resize: PreprocessConfig["resize"]): ShrinkDenominator {
  if (resize.mode === "none") return 1;
  const need = targetSize(width, height, resize);
  for (const d of SHRINK_DENOMINATORS) {
    if (Math.ceil(width / d) >= need.width && Math.ceil(height / d) >= need.height) return d;
  }
  return 1;
}
