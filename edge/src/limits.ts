// Limits and settings from wrangler.toml [vars], with defaults. Parsed once per isolate.
// The defaults keep ORT's wasm heap inside the 128 MB isolate; see wrangler.toml and BENCHMARKS.md.

export interface Limits {
  /** Largest request body accepted, in bytes (raw image, or the whole multipart batch). */
  maxBodyBytes: number;
  /** Largest decoded image (width*height) accepted, checked from the header before decoding. */
  maxPixels: number;
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
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 2_400_000,
  maxTensorPixels: 240_000,
  modelVariant: "int8",
  maxBatch: 8,
  pollSeconds: 10,
  defaultModel: "resnet18-imagenette",
  maxSessions: 1,
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
    maxTensorPixels: intVar(vars, "MAX_TENSOR_PIXELS", DEFAULT_LIMITS.maxTensorPixels, 1),
    modelVariant: typeof vars.MODEL_VARIANT === "string" ? vars.MODEL_VARIANT : DEFAULT_LIMITS.modelVariant,
    maxBatch: intVar(vars, "MAX_BATCH", DEFAULT_LIMITS.maxBatch, 1),
    pollSeconds: intVar(vars, "MODEL_POLL_SECONDS", DEFAULT_LIMITS.pollSeconds, 0),
    defaultModel: typeof defaultModel === "string" && defaultModel !== "" ? defaultModel : DEFAULT_LIMITS.defaultModel,
    maxSessions: intVar(vars, "MAX_SESSIONS", DEFAULT_LIMITS.maxSessions, 1),
  };
}
