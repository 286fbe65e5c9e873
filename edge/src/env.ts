import type { AppDeps } from "./deps.ts";
import type { FeedbackBucket } from "./feedback/store.ts";
import type { ModelBucket } from "./models/store.ts";

/** The worker's bindings: one R2 bucket with the models, plus string vars from wrangler.toml. */
export interface Env {
  /** The R2 bucket binding (an R2Bucket; typed by the subsets the worker uses: model reads, feedback writes). */
  MODELS: ModelBucket & FeedbackBucket;
  /** Worker secret for the feedback routes (`wrangler secret put FEEDBACK_TOKEN`); unset: feedback is off (503). */
  FEEDBACK_TOKEN?: string;
  DEFAULT_MODEL?: string;
  MAX_BODY_BYTES?: string;
  MAX_PIXELS_JPEG_BASELINE?: string;
  MAX_PIXELS_JPEG_PROGRESSIVE?: string;
  MAX_PIXELS_JPEG_CMYK?: string;
  MAX_PIXELS_PNG?: string;
  MAX_PIXELS_PNG16?: string;
  MAX_PIXELS_WEBP?: string;
  MAX_PIXELS_WEBP_LOSSLESS?: string;
  MAX_JPEG_COEFFICIENT_BYTES?: string;
  MAX_TENSOR_PIXELS?: string;
  MODEL_VARIANT?: string;
  MAX_BATCH?: string;
  MODEL_POLL_SECONDS?: string;
  MAX_SESSIONS?: string;
}

/** The Hono environment every route is typed with: the bindings, and the per-isolate dependencies. */
export interface AppEnv {
  Bindings: Env;
  Variables: { deps: AppDeps };
}
