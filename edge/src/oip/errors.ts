// Errors of the /v2 routes in the protocol's shape: {"error": "<message>"} (inference_rest.md: "A failed
// ... request must be indicated by an HTTP error status (typically 400)"). The statuses: 400 for a
// malformed request or image, 404 for an unknown model, version or route, 413 for our size limits, 503
// when the model cannot be loaded. The /v1 errors (ApiError, ImageError, ...) map onto these, with the
// same messages.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { toApiError } from "../http/errors.ts";

export type OipStatus = 400 | 404 | 413 | 500 | 503;

export class OipError extends Error {
  override readonly name = "OipError";
  constructor(
    readonly status: OipStatus,
    message: string,
  ) {
    super(message);
  }
}

/** The /v1 statuses as the protocol's: 415 (format) and 422 (parameter) are bad requests, 400. */
function protocolStatus(status: number): OipStatus {
  if (status === 404 || status === 413 || status === 503) return status;
  if (status >= 500) return 500;
  return 400;
}

export function oipErrorResponse(e: unknown): Response {
  if (e instanceof OipError) return Response.json({ error: e.message }, { status: e.status });
  const api = toApiError(e);
  if (api) return Response.json({ error: api.message }, { status: protocolStatus(api.status) as ContentfulStatusCode });
  console.error("unhandled error (v2):", e instanceof Error ? (e.stack ?? e.message) : e);
  return Response.json({ error: "the worker failed unexpectedly; the error is logged. Retry, and report it if it persists" }, { status: 500 });
}
