// One JSON request to a worker, failing loudly (with the body) when the answer is not JSON: every
// response of the API, errors included, must be JSON.
import type { WorkerHandle } from "../../helpers/workerd.ts";

export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
  /** The body as sent, for checks on the raw text (no stack traces, ...). */
  text: string;
}

export async function callJson(h: Pick<WorkerHandle, "fetch">, path: string, init: RequestInit = {}): Promise<JsonResponse> {
  const res = await h.fetch(path, init);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path}: ${res.status} non-JSON body: ${text.slice(0, 300)}`);
  }
  return { status: res.status, body, headers: res.headers, text };
}
