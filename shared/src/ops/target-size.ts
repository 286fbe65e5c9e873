import type { PreprocessConfig } from "../config.ts";

/**
 * The size an image of `width`x`height` is resized to under `resize`:
 * - "shortest-edge" size s: the shorter side becomes s, the other keeps the aspect ratio.
 * - "longest-edge" size s: the longer side becomes s, the other keeps the aspect ratio.
 * - "exact": `[height, width]`, or a square `size`x`size` for a number; aspect ratio is not kept.
 * - "none": unchanged.
 * Rounding: the derived side is Math.round(side * s / edge) (halves round up), and never below 1. A square
 * counts as "shorter" on both sides.
 * Then, with `resize.align` = a, each side becomes alignSide(side, a): the nearest multiple of a, at least a.
 */
export function targetSize(width: number, height: number, resize: PreprocessConfig["resize"]): { width: number; height: number } {
  const t = unalignedSize(width, height, resize);
  const a = resize.align;
  return a === undefined ? t : { width: alignSide(t.width, a), height: alignSide(t.height, a) };
}

/**
 * `side` rounded to the nearest multiple of `stride` (halves round up), and at least one stride. A side of
 * at least stride/2 moves by at most stride/2, i.e. the image is stretched or squeezed by at most half a
 * stride per side; a smaller side is stretched up to one stride.
 */
export function alignSide(side: number, stride: number): number {
  return Math.max(stride, Math.round(side / stride) * stride);
}

function unalignedSize(width: number, height: number, resize: PreprocessConfig["resize"]): { width: number; height: number } {
  const { mode, size } = resize;
  if (mode === "none") return { width, height };
  if (mode === "exact") {
    return typeof size === "number" ? { width: size, height: size } : { width: size[1], height: size[0] };
  }
  const s = typeof size === "number" ? size : Math.min(size[0], size[1]);
  const scaleWidth = mode === "shortest-edge" ? width <= height : width >= height;
  return scaleWidth
    ? { width: s, height: Math.max(1, Math.round((height * s) / width)) }
    : { width: Math.max(1, Math.round((width * s) / height)), height: s };
}
