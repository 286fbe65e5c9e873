// Query parameters of every route. A bad value is a 422 naming the parameter and what is allowed; client
// text is echoed through `echo` (cut short), never whole.
import { TTA_VIEWS } from "@resnet-edge/shared";
import { isValidModelName } from "../models/store.ts";
import { ApiError, echo } from "./errors.ts";

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

function invalid(param: string, message: string): ApiError {
  return new ApiError(422, "invalid_query", `query parameter ${param}: ${message}`);
}

/** Refuse parameters outside `allowed` and any parameter given more than once. */
export function checkQueryKeys(url: URL, allowed: readonly string[]): void {
  for (const key of url.searchParams.keys()) {
    if (!allowed.includes(key)) throw invalid(echo(key), `unknown parameter (allowed: ${allowed.join(", ")})`);
  }
  for (const key of allowed) {
    if (url.searchParams.getAll(key).length > 1) throw invalid(key, "given more than once");
  }
}

/** The decimal digits a client sent, without leading zeros (so `007` and `7` are the same number). */
const DIGITS = /^\d+$/;
const stripZeros = (digits: string) => digits.replace(/^0+(?=\d)/, "");

const CLASSIFY_KEYS = ["top_k", "model", "size", "tta"];

export function parseClassifyQuery(url: URL, defaultModel: string): ClassifyQuery {
  checkQueryKeys(url, CLASSIFY_KEYS);
  const rawTopK = url.searchParams.get("top_k");
  let topK: number | undefined;
  if (rawTopK !== null) {
    if (!DIGITS.test(rawTopK) || Number(rawTopK) < 1) throw invalid("top_k", `must be a positive integer, got ${echo(rawTopK)}`);
    // Past 15 digits a Number no longer spells what the client sent (1e+23 for 1 and 23 zeros), and no
    // model has that many classes: refuse here, quoting the text.
    if (stripZeros(rawTopK).length > 15) throw invalid("top_k", `must be at most the model's class count, got ${echo(rawTopK)}`);
    topK = Number(rawTopK);
  }
  const model = url.searchParams.get("model") ?? defaultModel;
  if (!isValidModelName(model)) throw invalid("model", `${echo(model)} is not a model name (lowercase letters, digits, '.', '_', '-'); GET /v1/models lists them`);
  const rawSize = url.searchParams.get("size");
  if (rawSize !== null && rawSize !== "native" && rawSize !== "default") {
    throw invalid("size", `must be "native" (whole image at its own resolution, scaled down only to fit MAX_TENSOR_PIXELS) or "default" (shortest edge scaled to the training size), got ${echo(rawSize)}`);
  }
  const rawTta = url.searchParams.get("tta");
  if (rawTta !== null && !["0", "1", "true", "false"].includes(rawTta)) {
    throw invalid("tta", `must be 1 (average ${TTA_VIEWS.length} views: ${TTA_VIEWS.join(", ")}; ${TTA_VIEWS.length} model runs) or 0, got ${echo(rawTta)}`);
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

/** POST /v1/feedback: `?label=` (optional here: a multipart body may carry the label instead). */
export function parseFeedbackQuery(url: URL): { label: string | null } {
  checkQueryKeys(url, ["label"]);
  return { label: url.searchParams.get("label") };
}

/** GET /v1/feedback: `?cursor=` from the previous page, `?limit=` 1..1000. */
export function parseFeedbackListQuery(url: URL): { cursor?: string; limit?: number } {
  checkQueryKeys(url, ["cursor", "limit"]);
  const rawLimit = url.searchParams.get("limit");
  if (rawLimit !== null && !(DIGITS.test(rawLimit) && Number(rawLimit) >= 1 && Number(rawLimit) <= 1000)) {
    throw invalid("limit", `must be an integer 1..1000, got ${echo(rawLimit)}`);
  }
  const cursor = url.searchParams.get("cursor");
  return { ...(cursor ? { cursor } : {}), ...(rawLimit ? { limit: Number(rawLimit) } : {}) };
}
