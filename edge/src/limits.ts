// Limits and settings from wrangler.toml [vars], with defaults. Parsed once per isolate.
// The defaults keep ORT's wasm heap inside the 128 MB isolate; see wrangler.toml and BENCHMARKS.md.
import type { DecodePath } from "@resnet-edge/shared";

export interface Limits {
  /** Largest request body accepted, in bytes (raw image, or the whole multipart batch). */
  maxBodyBytes: number;
  /** Largest decoded image (width*height) accepted, checked from the header before decoding. */
  maxPixels: number;
  /**
   * Largest PNG / 16-bit PNG / lossy WebP / lossless WebP (width*height), checked from the header. Each
   * decoder path costs a different number of bytes per pixel (bench/edge/decoder-peak.ts, edge/README.md).
   */
  maxPngPixels: number;
  maxPng16Pixels: number;
  maxWebpPixels: number;
  maxWebpLosslessPixels: number;
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
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 2_400_000,
  maxPngPixels: 2_500_000,
  maxPng16Pixels: 1_000_000,
  maxWebpPixels: 40_000_000,
  maxWebpLosslessPixels: 9_000_000,
  maxTensorPixels: 240_000,
  modelVariant: "int8",
  maxBatch: 8,
  pollSeconds: 10,
  defaultModel: "resnet18-imagenette",
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

export function parseLimits(vars: Record<string, unknown>): Limits {
  const defaultModel = vars.DEFAULT_MODEL;
  return {
    maxBodyBytes: intVar(vars, "MAX_BODY_BYTES", DEFAULT_LIMITS.maxBodyBytes, 1),
    maxPixels: intVar(vars, "MAX_PIXELS", DEFAULT_LIMITS.maxPixels, 1),
    maxPngPixels: intVar(vars, "MAX_PIXELS_PNG", DEFAULT_LIMITS.maxPngPixels, 1),
    maxPng16Pixels: intVar(vars, "MAX_PIXELS_PNG16", DEFAULT_LIMITS.maxPng16Pixels, 1),
    maxWebpPixels: intVar(vars, "MAX_PIXELS_WEBP", DEFAULT_LIMITS.maxWebpPixels, 1),
    maxWebpLosslessPixels: intVar(vars, "MAX_PIXELS_WEBP_LOSSLESS", DEFAULT_LIMITS.maxWebpLosslessPixels, 1),
    maxTensorPixels: intVar(vars, "MAX_TENSOR_PIXELS", DEFAULT_LIMITS.maxTensorPixels, 1),
    modelVariant: typeof vars.MODEL_VARIANT === "string" ? vars.MODEL_VARIANT : DEFAULT_LIMITS.modelVariant,
    maxBatch: intVar(vars, "MAX_BATCH", DEFAULT_LIMITS.maxBatch, 1),
    pollSeconds: intVar(vars, "MODEL_POLL_SECONDS", DEFAULT_LIMITS.pollSeconds, 0),
    defaultModel: typeof defaultModel === "string" && defaultModel !== "" ? defaultModel : DEFAULT_LIMITS.defaultModel,
  };
}

/** The pixel limit for a decoder path, and the var that sets it (named in the 413 message). */
export function pixelLimitFor(limits: Limits, path: DecodePath): { pixels: number; name: string } {
  switch (path) {
    case "png":
      return { pixels: limits.maxPngPixels, name: "MAX_PIXELS_PNG" };
    case "png16":
      return { pixels: limits.maxPng16Pixels, name: "MAX_PIXELS_PNG16" };
    case "webp":
      return { pixels: limits.maxWebpPixels, name: "MAX_PIXELS_WEBP" };
    case "webp-lossless":
      return { pixels: limits.maxWebpLosslessPixels, name: "MAX_PIXELS_WEBP_LOSSLESS" };
    default:
      return { pixels: limits.maxPixels, name: "MAX_PIXELS" };
  }
}
