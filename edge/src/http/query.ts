// Query parameters of the classify routes. A bad value is a 422 naming the parameter and what is allowed.
import { TTA_VIEWS } from "@resnet-edge/shared";
import { isValidModelName } from "../models/store.ts";
import { ApiError } from "./errors.ts";

export type SizeMode = "default" | "native";

export interface ClassifyQuery {
  /** Undefined: 5, or the class count if smaller. Checked against the model's classes later. */
  topK: number | undefined;
  model: string;
  /** True when the request named the model; false when it fell back to DEFAULT_MODEL. */
  modelNamed: boolean;
  size: SizeMode;
  /** `tta=1`: average the softmax of the TTA views (shared's TTA_VIEWS), one model run each. */
  tta: boolean;
}

const KNOWN = ["top_k", "model", "size", "tta"];

function invalid(param: string, message: string): ApiError {
  return new ApiError(422, "invalid_query", `query parameter ${param}: ${message}`);
}

export function parseClassifyQuery(url: URL, defaultModel: string): ClassifyQuery {
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.includes(key)) throw invalid(key, `unknown parameter (allowed: ${KNOWN.join(", ")})`);
  }
  for (const key of KNOWN) {
    if (url.searchParams.getAll(key).length > 1) throw invalid(key, "given more than once");
  }
  const rawTopK = url.searchParams.get("top_k");
  let topK: number | undefined;
  if (rawTopK !== null) {
    if (!/^\d+$/.test(rawTopK) || Number(rawTopK) < 1) throw invalid("top_k", `must be a positive integer, got ${JSON.stringify(rawTopK)}`);
    topK = Number(rawTopK);
  }
  const model = url.searchParams.get("model") ?? defaultModel;
  if (!isValidModelName(model)) throw invalid("model", `${JSON.stringify(model)} is not a model name (lowercase letters, digits, '.', '_', '-'); GET /v1/models lists them`);
  const rawSize = url.searchParams.get("size");
  if (rawSize !== null && rawSize !== "native" && rawSize !== "default") {
    throw invalid("size", `must be "native" (whole image at its own resolution, scaled down only to fit MAX_TENSOR_PIXELS) or "default" (shortest edge scaled to the training size), got ${JSON.stringify(rawSize)}`);
  }
  const rawTta = url.searchParams.get("tta");
  if (rawTta !== null && !["0", "1", "true", "false"].includes(rawTta)) {
    throw invalid("tta", `must be 1 (average ${TTA_VIEWS.length} views: ${TTA_VIEWS.join(", ")}; ${TTA_VIEWS.length} model runs) or 0, got ${JSON.stringify(rawTta)}`);
  }
  const tta = rawTta === "1" || rawTta === "true";
  return { topK, model, modelNamed: url.searchParams.has("model"), size: (rawSize as SizeMode | null) ?? "default", tta };
}

/** Resolve top_k against the model's class count. */
export function resolveTopK(topK: number | undefined, classCount: number): number {
  if (topK === undefined) return Math.min(5, classCount);
  if (topK > classCount) throw invalid("top_k", `must be at most ${classCount} (the model's class count), got ${topK}`);
  return topK;
}
