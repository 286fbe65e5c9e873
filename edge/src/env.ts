/** The worker's bindings: one R2 bucket with the models, plus string vars from wrangler.toml. */
export interface Env {
  MODELS: R2Bucket;
  DEFAULT_MODEL?: string;
  MAX_BODY_BYTES?: string;
  MAX_PIXELS?: string;
  MAX_BATCH?: string;
  MODEL_POLL_SECONDS?: string;
}
