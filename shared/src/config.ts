import { ConfigError } from "./errors.ts";

/**
 * How an image becomes a tensor. Saved next to every model (in its manifest) and applied by one
 * function, `preprocess`, in a fixed order (details in shared/src/index.ts):
 *   maxPixels check (from the header) -> decode -> EXIF orient -> to RGB (alpha composited on `background`)
 *   -> resize (targetSize) -> center crop (pads with `background` if larger) -> normalize (x/255 - mean) / std
 *   -> HWC to NCHW float32
 */
export type ResizeMode = "shortest-edge" | "longest-edge" | "exact" | "none";

export interface PreprocessConfig {
  resize: {
    mode: ResizeMode;
    /** Target edge length in pixels (shortest/longest edge), or `[height, width]` for `exact`. Ignored for `none`. */
    size: number | [number, number];
    /**
     * Round both tensor sides to the nearest multiple of this (at least one multiple) after the aspect-kept
     * resize: the total stride of a fully convolutional net, so the last feature map has no cell centred on
     * the padding past the border (issue 11). Absent: sides are not rounded. Not allowed with `exact`.
     */
    align?: number;
    /**
     * Serving sizes per aspect ratio (width / height, ascending), written by `trainer calibrate`: `size=default`
     * serves a photo at the `size` of the entry whose aspect is nearest its own on a log scale (a model trained at
     * one size is most accurate at a different short side for a square than for a 16:9 photo). `size` stays the
     * answer when the photo's size is unknown, and for readers that predate this field. Only with
     * shortest-edge and `align` (a fully convolutional export).
     */
    sizeByAspect?: AspectSize[];
  };
  /** Center crop to `[height, width]` after resizing, or null for no crop. */
  crop: [number, number] | null;
  /** Per-channel RGB mean and std on the 0..1 scale (ImageNet by default). */
  mean: [number, number, number];
  std: [number, number, number];
  /** Images whose decoded width*height exceed this are refused from the header, before decoding. */
  maxPixels: number;
  /** RGB (0..255) that transparent pixels are composited onto, and the fill where a crop pads. Default white. */
  background: [number, number, number];
}

/** One calibrated serving size: photos whose width / height is nearest `aspect` are served at short side `size`. */
export interface AspectSize {
  aspect: number;
  size: number;
}

/** The widest aspect ratio (and its inverse) a `sizeByAspect` entry may name. */
export const MAX_CALIBRATED_ASPECT = 16;

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const DEFAULT_PREPROCESS: PreprocessConfig = {
  resize: { mode: "shortest-edge", size: 224 },
  crop: null,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  maxPixels: 60_000_000,
  background: [255, 255, 255],
};

const RESIZE_MODES: readonly ResizeMode[] = ["shortest-edge", "longest-edge", "exact", "none"];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function positiveInt(x: unknown, path: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) {
    throw new ConfigError(path, `must be a positive integer, got ${JSON.stringify(x)}`);
  }
  return x;
}

function tuple3(x: unknown, path: string, check: (v: number, p: string) => void): [number, number, number] {
  if (!Array.isArray(x) || x.length !== 3) {
    throw new ConfigError(path, `must be an array of 3 numbers, got ${JSON.stringify(x)}`);
  }
  x.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ConfigError(`${path}[${i}]`, `must be a finite number, got ${JSON.stringify(v)}`);
    }
    check(v, `${path}[${i}]`);
  });
  return [x[0], x[1], x[2]];
}

function hw(x: unknown, path: string): [number, number] {
  if (!Array.isArray(x) || x.length !== 2) {
    throw new ConfigError(path, `must be [height, width], got ${JSON.stringify(x)}`);
  }
  return [positiveInt(x[0], `${path}[0]`), positiveInt(x[1], `${path}[1]`)];
}

function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(path ? `${path}.${key}` : key, `unknown key (allowed: ${allowed.join(", ")})`);
    }
  }
}

/** Validate untrusted JSON into a PreprocessConfig. Throws ConfigError naming the field. */
export function validatePreprocessConfig(x: unknown, path = "preprocess"): PreprocessConfig {
  if (!isObject(x)) throw new ConfigError(path, "must be an object");
  rejectUnknownKeys(x, ["resize", "crop", "mean", "std", "maxPixels", "background"], path);

  const resize = x.resize;
  if (!isObject(resize)) throw new ConfigError(`${path}.resize`, "must be an object { mode, size }");
  rejectUnknownKeys(resize, ["mode", "size", "align", "sizeByAspect"], `${path}.resize`);
  const mode = resize.mode;
  if (typeof mode !== "string" || !RESIZE_MODES.includes(mode as ResizeMode)) {
    throw new ConfigError(`${path}.resize.mode`, `must be one of ${RESIZE_MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  }
  let size: number | [number, number];
  if (mode === "exact") {
    size = Array.isArray(resize.size) ? hw(resize.size, `${path}.resize.size`) : positiveInt(resize.size, `${path}.resize.size`);
  } else if (mode === "none") {
    size = resize.size === undefined ? 0 : positiveInt(resize.size, `${path}.resize.size`);
  } else {
    size = positiveInt(resize.size, `${path}.resize.size`);
  }

  const align = resize.align === undefined ? undefined : positiveInt(resize.align, `${path}.resize.align`);
  if (align !== undefined && mode === "exact") {
    throw new ConfigError(`${path}.resize.align`, "cannot be combined with mode \"exact\" (the size is already fixed): drop align or use shortest-edge");
  }

  const sizeByAspect = resize.sizeByAspect === undefined ? undefined : aspectSizes(resize.sizeByAspect, `${path}.resize.sizeByAspect`);
  if (sizeByAspect && (mode !== "shortest-edge" || align === undefined)) {
    throw new ConfigError(`${path}.resize.sizeByAspect`, "needs mode \"shortest-edge\" and align (a fully convolutional export): drop sizeByAspect or set both");
  }

  const crop = x.crop === null || x.crop === undefined ? null : hw(x.crop, `${path}.crop`);
  const mean = tuple3(x.mean, `${path}.mean`, () => {});
  const std = tuple3(x.std, `${path}.std`, (v, p) => {
    if (v <= 0) throw new ConfigError(p, `must be > 0, got ${v}`);
  });
  const maxPixels = positiveInt(x.maxPixels, `${path}.maxPixels`);
  const background =
    x.background === undefined
      ? DEFAULT_PREPROCESS.background
      : tuple3(x.background, `${path}.background`, (v, p) => {
          if (!Number.isInteger(v) || v < 0 || v > 255) throw new ConfigError(p, `must be an integer 0..255, got ${v}`);
        });
  return { resize: { mode: mode as ResizeMode, size, ...(align !== undefined ? { align } : {}), ...(sizeByAspect ? { sizeByAspect } : {}) }, crop, mean, std, maxPixels, background };
}

function aspectSizes(x: unknown, path: string): AspectSize[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > 64) throw new ConfigError(path, "must be a non-empty array (at most 64) of { aspect, size }");
  const out = x.map((e, i): AspectSize => {
    const p = `${path}[${i}]`;
    if (!isObject(e)) throw new ConfigError(p, "must be an object { aspect, size }");
    rejectUnknownKeys(e, ["aspect", "size"], p);
    const a = e.aspect;
    if (typeof a !== "number" || !Number.isFinite(a) || a < 1 / MAX_CALIBRATED_ASPECT || a > MAX_CALIBRATED_ASPECT) {
      throw new ConfigError(`${p}.aspect`, `must be a width / height ratio between 1/${MAX_CALIBRATED_ASPECT} and ${MAX_CALIBRATED_ASPECT}, got ${JSON.stringify(a)}`);
    }
    return { aspect: a, size: positiveInt(e.size, `${p}.size`) };
  });
  out.forEach((e, i) => {
    if (i > 0 && !(e.aspect > out[i - 1]!.aspect)) throw new ConfigError(`${path}[${i}].aspect`, "aspects must be strictly ascending");
  });
  return out;
}

/** The calibrated size for a width x height photo: the entry whose aspect is nearest on a log scale (the lower one on a tie). */
export function sizeForAspect(table: readonly AspectSize[], width: number, height: number): number {
  const r = Math.log(width / height);
  let best = table[0]!;
  for (const e of table) if (Math.abs(Math.log(e.aspect) - r) < Math.abs(Math.log(best.aspect) - r) - 1e-12) best = e;
  return best.size;
}
