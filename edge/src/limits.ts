// Limits and settings from wrangler.toml [vars], with defaults. Parsed once per isolate.
// The defaults keep the isolate (ORT's and the decoders' wasm, the JS heap) near 110 MB after any sequence of
// requests; see edge/README.md "Memory budget", wrangler.toml and BENCHMARKS.md.
import type { DecodeLimits, DecodePath } from "@resnet-edge/shared";
import type { HotSwap } from "./models/registry.ts";

export interface Limits {
  /** Largest request body accepted, in bytes (raw image, or the whole multipart batch). */
  maxBodyBytes: number;
  /**
   * Largest image (width*height) accepted per decode path, checked from the header before decoding, and
   * the largest progressive-JPEG coefficient buffer. Table and measurements: edge/README.md "Image limits per decode path".
   */
  decode: DecodeLimits;
  /** Largest tensor H*W fed to the model (caps `size=native`, and extreme aspect ratios at the default size). */
  maxTensorPixels: number;
  /** Model file to prefer when the manifest lists it under `variants` (e.g. "int8"); "" serves the fp32 model. */
  modelVariant: string;
  /** Most images in one /v1/classify/batch request. */
  maxBatch: number;
  /** Check a model's active pointer in R2 at most this often (0: on every request). */
  pollSeconds: number;
  /** Model served when the request names none. */
  defaultModel: string;
  /** Most models with a live ORT session per isolate (least recently used one is released first). */
  maxSessions: number;
  /** How a new version replaces the serving one: "drain" (release the old session, then create the new) or "overlap". */
  hotSwap: HotSwap;
}

/** The var that sets each path's pixel limit (named in 413 messages). */
export const PIXEL_LIMIT_VARS: Record<DecodePath, string> = {
  "jpeg-baseline": "MAX_PIXELS_JPEG_BASELINE",
  "jpeg-progressive": "MAX_PIXELS_JPEG_PROGRESSIVE",
  "jpeg-cmyk": "MAX_PIXELS_JPEG_CMYK",
  png: "MAX_PIXELS_PNG",
  png16: "MAX_PIXELS_PNG16",
  webp: "MAX_PIXELS_WEBP",
  "webp-lossless": "MAX_PIXELS_WEBP_LOSSLESS",
};

/** The same pixel limit on every path (for tests and for a worker that wants one number). */
export function uniformDecodeLimits(maxPixels: number, maxJpegCoefficientBytes = DEFAULT_DECODE_LIMITS.maxJpegCoefficientBytes): DecodeLimits {
  const maxPixelsByPath = Object.fromEntries(Object.keys(PIXEL_LIMIT_VARS).map((k) => [k, maxPixels])) as Record<DecodePath, number>;
  return { maxPixels: maxPixelsByPath, maxJpegCoefficientBytes };
}

/**
 * Per-path defaults, from the isolate's measured memory (edge/README.md "Memory budget";
 * bench/edge/isolate-memory.ts): after the worst sequence (ORT at 49.4 MiB), the worst accepted request of
 * each path keeps the isolate under ~110 MB (the 12 MP progressive JPEG at the edge, 102.5-108.2 MiB).
 */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxPixels: {
    "jpeg-baseline": 50_000_000,
    "jpeg-progressive": 12_200_000,
    "jpeg-cmyk": 600_000,
    png: 1_310_720,
    png16: 900_000,
    webp: 40_000_000,
    "webp-lossless": 6_000_000,
  },
  maxJpegCoefficientBytes: 35 * 1024 * 1024,
};

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 16 * 1024 * 1024,
  decode: DEFAULT_DECODE_LIMITS,
  maxTensorPixels: 61_440,
  modelVariant: "int8",
  maxBatch: 8,
  pollSeconds: 10,
  defaultModel: "resnet18-imagenette",
  maxSessions: 1,
  hotSwap: "drain",
};

/** Thrown when a var is set to something that is not a valid value; names the var and the fix. */
export class LimitsError extends Error {
  override readonly name = "LimitsError";
}

function intVar(vars: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const raw = vars[key];
  if (raw === undefined || raw === "") return fallback;
  const n = typeof raw === "number" ? raw : Number(String(raw).replaceAll("_", ""));
  if (!Number.isInteger(n) || n < min) {
    throw new LimitsError(`var ${key}=${JSON.stringify(raw)} is not an integer >= ${min}: fix it in wrangler.toml [vars] (default ${fallback})`);
  }
  return n;
}

function hotSwapVar(raw: unknown): HotSwap {
  if (raw === undefined || raw === "") return DEFAULT_LIMITS.hotSwap;
  if (raw === "drain" || raw === "overlap") return raw;
  throw new LimitsError(`var HOT_SWAP=${JSON.stringify(raw)} is not "drain" or "overlap": fix it in wrangler.toml [vars] (default "${DEFAULT_LIMITS.hotSwap}")`);
}

export function parseLimits(vars: Record<string, unknown>): Limits {
  const defaultModel = vars.DEFAULT_MODEL;
  return {
    maxBodyBytes: intVar(vars, "MAX_BODY_BYTES", DEFAULT_LIMITS.maxBodyBytes, 1),
    decode: {
      maxPixels: Object.fromEntries(
        Object.entries(PIXEL_LIMIT_VARS).map(([path, key]) => [path, intVar(vars, key, DEFAULT_DECODE_LIMITS.maxPixels[path as DecodePath], 1)]),
      ) as Record<DecodePath, number>,
      maxJpegCoefficientBytes: intVar(vars, "MAX_JPEG_COEFFICIENT_BYTES", DEFAULT_DECODE_LIMITS.maxJpegCoefficientBytes, 1),
    },
    maxTensorPixels: intVar(vars, "MAX_TENSOR_PIXELS", DEFAULT_LIMITS.maxTensorPixels, 1),
    modelVariant: typeof vars.MODEL_VARIANT === "string" ? vars.MODEL_VARIANT : DEFAULT_LIMITS.modelVariant,
    maxBatch: intVar(vars, "MAX_BATCH", DEFAULT_LIMITS.maxBatch, 1),
    pollSeconds: intVar(vars, "MODEL_POLL_SECONDS", DEFAULT_LIMITS.pollSeconds, 0),
    defaultModel: typeof defaultModel === "string" && defaultModel !== "" ? defaultModel : DEFAULT_LIMITS.defaultModel,
    maxSessions: intVar(vars, "MAX_SESSIONS", DEFAULT_LIMITS.maxSessions, 1),
    hotSwap: hotSwapVar(vars.HOT_SWAP),
  };
}
