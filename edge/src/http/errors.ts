// Every error leaves the worker as JSON {error: {code, message}} with the right status; nothing else
// (no stack, no HTML). Handlers throw ApiError; `toApiError` maps the typed errors of the other layers.
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError, ImageError, type ImageErrorCode } from "@resnet-edge/shared";
import { LimitsError } from "../limits.ts";
import { ModelUnavailableError } from "../models/registry.ts";

export const SUPPORTED_FORMATS = ["image/jpeg", "image/png", "image/webp"] as const;

/** Longest piece of client input an error message repeats (a query value, a name, a path). */
export const ECHO_CHARS = 64;

/**
 * Client input quoted for an error message, cut to ECHO_CHARS so an 8 KB parameter cannot make an
 * 8 KB error body: `"abc"`, or `"abcd…" (8192 characters)` when cut.
 */
export function echo(input: string): string {
  if (input.length <= ECHO_CHARS) return JSON.stringify(input);
  return `${JSON.stringify(`${input.slice(0, ECHO_CHARS)}…`)} (${input.length} characters)`;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(status, { message });
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }

  override getResponse(): Response {
    return Response.json(this.body(), { status: this.status });
  }
}

const IMAGE_STATUS: Record<ImageErrorCode, ContentfulStatusCode> = {
  empty_input: 400,
  corrupt_image: 400,
  image_too_large: 413,
  unsupported_format: 415,
  unsupported_variant: 415,
};

function imageMessage(e: ImageError): string {
  if (e.code === "unsupported_format" || e.code === "unsupported_variant") {
    return /image\/jpeg|JPEG/.test(e.message) ? e.message : `${e.message} (supported: ${SUPPORTED_FORMATS.join(", ")})`;
  }
  return e.message;
}

/** Map any thrown value to an ApiError, or undefined when it is a bug (becomes a logged 500). */
export function toApiError(e: unknown): ApiError | undefined {
  if (e instanceof ApiError) return e;
  if (e instanceof ImageError) return new ApiError(IMAGE_STATUS[e.code] ?? 400, e.code, imageMessage(e));
  if (e instanceof ModelUnavailableError) return new ApiError(e.status, e.code, e.message);
  if (e instanceof ConfigError) return new ApiError(503, "model_config_invalid", `the model's preprocessing config is invalid: ${e.message}; fix the manifest and republish`);
  if (e instanceof LimitsError) return new ApiError(500, "worker_config_invalid", e.message);
  if (e instanceof HTTPException) {
    return new ApiError(e.status as ContentfulStatusCode, e.status === 404 ? "not_found" : `http_${e.status}`, e.message || "request failed");
  }
  return undefined;
}

/**
 * Any thrown value as a status and JSON body: typed errors as their own, anything else a logged 500
 * without internals. The app's onError and each failed entry of a batch use it.
 */
export function errorStatusBody(e: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  const api = toApiError(e);
  if (api) return { status: api.status as ContentfulStatusCode, body: api.body() };
  console.error("unhandled error:", e instanceof Error ? (e.stack ?? e.message) : e);
  return {
    status: 500,
    body: { error: { code: "internal_error", message: "the worker failed unexpectedly; the error is logged. Retry, and report it if it persists" } },
  };
}

/** The app's onError: typed errors as their JSON (with their headers), anything else a logged 500. */
export function errorResponse(e: unknown): Response {
  const api = toApiError(e);
  if (api) return api.getResponse();
  const { status, body } = errorStatusBody(e);
  return Response.json(body, { status });
}
