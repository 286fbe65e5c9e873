/**
 * Where `trainer feedback pull` reads the feedback set from. The worker stores it in R2 under
 * feedback/<class>/<sha256>.<jpg|png|webp> (edge/src/feedback/store.ts). wrangler 4.86 has no command that
 * lists R2 objects, so there are two ways to enumerate it:
 * - `bucketSource`: an R2 bucket object with list/get: Miniflare's view of the local state that
 *   `wrangler dev` / `npm start` / `wrangler r2 object --local` share (local-bucket.ts), or a binding;
 * - `workerSource`: a running worker's authenticated GET /v1/feedback listing and GET /v1/feedback/<key>
 *   download, which works for the deployed worker (remote) and for `wrangler dev` alike.
 */
import { FEEDBACK_PREFIX } from "@resnet-edge/shared";
import { DataError } from "../data/errors.ts";

export interface FeedbackObject {
  key: string;
  /** Size in bytes, when the listing says. */
  bytes?: number;
}

export interface FeedbackSource {
  readonly description: string;
  /** Every key under feedback/, in pages. */
  list(): AsyncIterable<FeedbackObject>;
  get(key: string): Promise<Uint8Array | null>;
}

/** The R2Bucket methods used (Workers' R2Bucket and Miniflare's getR2Bucket() satisfy it). */
export interface ListableBucket {
  list(options: { prefix: string; cursor?: string }): Promise<{ objects: { key: string; size: number }[]; truncated: boolean; cursor?: string }>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

export function bucketSource(bucket: ListableBucket, description = "r2 bucket"): FeedbackSource {
  return {
    description,
    async *list() {
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix: FEEDBACK_PREFIX, ...(cursor ? { cursor } : {}) });
        for (const o of page.objects) yield { key: o.key, bytes: o.size };
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    },
    async get(key) {
      const o = await bucket.get(key);
      return o ? new Uint8Array(await o.arrayBuffer()) : null;
    },
  };
}

export interface WorkerSourceOptions {
  /** The worker's origin, e.g. http://localhost:8787 or https://resnet-edge.<account>.workers.dev */
  url: string;
  /** The FEEDBACK_TOKEN secret. */
  token: string;
  /** Injected in tests (e.g. Miniflare's dispatchFetch); default: global fetch. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export function workerSource(opts: WorkerSourceOptions): FeedbackSource {
  const base = opts.url.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? ((u: string, i: RequestInit) => fetch(u, i));
  const call = async (path: string): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { headers: { authorization: `Bearer ${opts.token}` } });
    } catch (e) {
      throw new DataError(`cannot reach the worker at ${base} (${(e as Error).message}): is it running (npm start / wrangler dev) and is --worker right?`);
    }
    if (res.status === 401 || res.status === 503) {
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new DataError(`the worker at ${base} refused: ${body?.error?.message ?? res.statusText}; set FEEDBACK_TOKEN in your environment to the worker's secret`);
    }
    return res;
  };
  return {
    description: `worker ${base}`,
    async *list() {
      let cursor: string | null = null;
      do {
        const res = await call(`/v1/feedback${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
        if (!res.ok) throw new DataError(`listing feedback at ${base} failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
        const page = (await res.json()) as { objects: { key: string; bytes: number }[]; cursor: string | null };
        for (const o of page.objects) yield { key: o.key, bytes: o.bytes };
        cursor = page.cursor;
      } while (cursor);
    },
    async get(key) {
      const res = await call(`/v1/${key}`);
      if (res.status === 404) return null;
      if (!res.ok) throw new DataError(`downloading ${key} from ${base} failed: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
