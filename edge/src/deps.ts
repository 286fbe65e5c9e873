import type { PreprocessFn } from "./classify.ts";
import type { Limits } from "./limits.ts";
import type { Models } from "./models/registry.ts";

/** Everything the routes use. The worker builds the real ones once per isolate; tests inject fakes. */
export interface AppDeps {
  models: Models;
  preprocess: PreprocessFn;
  limits: Limits;
  /** Memory figures for /readyz (the ORT wasm heap never shrinks, so its size is worth watching). */
  memory?: () => { wasmHeapBytes: number | null };
}
