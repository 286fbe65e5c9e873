import { sizeForAspect, type PreprocessConfig } from "./config.ts";
import type { ModelManifest } from "./manifest.ts";
import { targetSize } from "./ops/target-size.ts";

/**
 * What the worker feeds a model, as one pure function of the manifest and the request, so the worker, the
 * trainer's `calibrate` and `eval` all compute it the same way.
 * - A model whose input has a fixed H x W gets its manifest's `preprocess` as written (resize + crop to it).
 * - `default`: the manifest's `preprocess` as written, with `maxPixels` lowered to the worker's cap. For an
 *   FCN export that is "shortest edge to S, both sides rounded to the nearest multiple of the stride, no
 *   crop", S being the calibrated size of the photo's nearest aspect when the manifest has `sizeByAspect` and the
 *   image size is known, else `resize.size`; an aspect ratio whose tensor would exceed `maxTensorPixels` at S is scaled down just enough to
 *   fit, as for `native`. A legacy manifest (no `stride`, no `resize.align`) gets what the worker did before those fields
 *   existed: shortest edge to its size, aspect kept, no rounding, and its `crop` is not applied; a tensor over
 *   `maxTensorPixels` is scaled down to fit as well, but not below LEGACY_MIN_EDGE.
 * - `native`: the whole image at its own resolution (sides rounded to the stride when the manifest has one);
 *   an image whose tensor would exceed `maxTensorPixels` is scaled down, aspect kept, just enough that the
 *   rounded tensor fits (scale first, then round).
 */
export type ServingSize = "default" | "native";

export interface ServingOptions {
  /** Default "default". */
  size?: ServingSize;
  /** The worker's MAX_PIXELS (decoded image); the lower of this and the manifest's applies. */
  maxPixels?: number;
  /** The decoded (upright) image size; needed for `native` to fit `maxTensorPixels`. */
  image?: { width: number; height: number };
  /** The worker's MAX_TENSOR_PIXELS (tensor H*W). */
  maxTensorPixels?: number;
  /** Serve `default` at this short side instead of the manifest's (what `trainer calibrate` sweeps). */
  shortSide?: number;
}

/**
 * The smallest short side a legacy manifest's (no stride) `default` tensor is scaled down to in order to fit
 * MAX_TENSOR_PIXELS: 32 px, the total stride of every chapter-14 net (one cell of the final map; aligned
 * manifests stop at one stride the same way). An image that fits only below it is refused.
 */
export const LEGACY_MIN_EDGE = 32;

/** The short side `size=default` serves at: the manifest's resize size (the shorter of [h, w]); null for "none". */
export function servingEdge(pp: PreprocessConfig): number | null {
  const s = pp.resize.size;
  if (Array.isArray(s)) return Math.min(s[0], s[1]);
  return pp.resize.mode === "none" || !(s > 0) ? null : s;
}

export function servingConfig(manifest: Pick<ModelManifest, "preprocess" | "stride" | "inputs">, opts: ServingOptions = {}): PreprocessConfig {
  const pp = manifest.preprocess;
  const maxPixels = Math.min(pp.maxPixels, opts.maxPixels ?? Infinity);
  // A graph with a fixed H x W (an imported 224x224 classifier) takes only that size: its manifest's own
  // resize + centre crop, whatever `size` asks for.
  if (fixedInputSize(manifest)) return { ...pp, maxPixels };
  const align = pp.resize.align ?? manifest.stride;
  const aligned = align === undefined ? {} : { align };
  const edge = opts.shortSide ?? servingEdge(pp);
  if (opts.size === "native" || edge === null) {
    const { image, maxTensorPixels = Infinity } = opts;
    if (image) {
      const t = targetSize(image.width, image.height, { mode: "none", size: 1, ...aligned });
      if (t.width * t.height > maxTensorPixels) {
        return { ...pp, resize: { mode: "shortest-edge", size: nativeEdgeWithin(image.width, image.height, maxTensorPixels, align), ...aligned }, crop: null, maxPixels };
      }
    }
    // `size` is ignored for "none" but must validate as a positive integer.
    return { ...pp, resize: { mode: "none", size: edge ?? 1, ...aligned }, crop: null, maxPixels };
  }
  if (align === undefined) {
    // A legacy manifest is fitted under the cap too, down to LEGACY_MIN_EDGE (one cell of a ch. 14 net);
    // an image that needs less than that keeps its size and is refused by the caller (413).
    const fit = edgeWithinCap(edge, opts);
    return { ...pp, resize: { mode: "shortest-edge", size: fit >= Math.min(edge, LEGACY_MIN_EDGE) ? fit : edge }, crop: null, maxPixels };
  }
  if (pp.resize.mode === "exact") return { ...pp, maxPixels };
  const { sizeByAspect, ...written } = pp.resize;
  const side = opts.shortSide ?? (sizeByAspect && opts.image ? sizeForAspect(sizeByAspect, opts.image.width, opts.image.height) : undefined);
  const resize = side === undefined ? written : { mode: "shortest-edge" as const, size: side };
  if (pp.crop !== null) return { ...pp, resize, maxPixels };
  // An aspect ratio whose tensor at this short side is over the cap (a 16:9 photo for an imported model served
  // at 224: 384x224 > the worker's MAX_TENSOR_PIXELS) is scaled down just enough to fit, as `native` is, rather than refused.
  if (resize.mode === "shortest-edge" && typeof resize.size === "number") {
    const fit = edgeWithinCap(resize.size, opts, align);
    if (fit !== resize.size) return { ...pp, resize: { mode: "shortest-edge", size: fit, align }, maxPixels };
  }
  return { ...pp, resize: { ...resize, align }, maxPixels };
}

/** The short side `size=default` serves a width x height photo at (before the tensor cap), as servingConfig picks it: its aspect's calibrated size, else `resize.size`. */
export function defaultEdgeFor(pp: PreprocessConfig, width: number, height: number): number | null {
  const table = pp.resize.sizeByAspect;
  return table ? sizeForAspect(table, width, height) : servingEdge(pp);
}

/**
 * `edge` when the request's image resized to it (aspect kept, sides rounded to `align` when given) fits
 * `maxTensorPixels` or no image is known; else the largest shorter edge that fits (nativeEdgeWithin).
 */
function edgeWithinCap(edge: number, opts: ServingOptions, align?: number): number {
  const { image, maxTensorPixels = Infinity } = opts;
  if (!image) return edge;
  const t = targetSize(image.width, image.height, { mode: "shortest-edge", size: edge, ...(align === undefined ? {} : { align }) });
  return t.width * t.height > maxTensorPixels ? Math.min(edge, nativeEdgeWithin(image.width, image.height, maxTensorPixels, align)) : edge;
}

/** [H, W] when the model's input has fixed spatial dims (NCHW), else null (fully convolutional). */
export function fixedInputSize(manifest: Pick<ModelManifest, "inputs">): [number, number] | null {
  const dims = manifest.inputs[0]?.dims ?? [];
  const h = dims[2];
  const w = dims[3];
  return typeof h === "number" && typeof w === "number" ? [h, w] : null;
}

/**
 * The largest shortest edge whose aspect-kept resize of a width x height image, its sides rounded to `align`
 * when given, has at most `maxTensorPixels` pixels (1 when none fits: the caller refuses the image then).
 */
export function nativeEdgeWithin(width: number, height: number, maxTensorPixels: number, align?: number): number {
  let s = Math.max(1, Math.floor(Math.min(width, height) * Math.sqrt(maxTensorPixels / (width * height))));
  for (;;) {
    const t = targetSize(width, height, { mode: "shortest-edge", size: s, ...(align === undefined ? {} : { align }) });
    if (t.width * t.height <= maxTensorPixels || s === 1) return s;
    s--;
  }
}
