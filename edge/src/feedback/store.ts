// Feedback images in R2, next to the models (same MODELS bucket), under one prefix (shared's
// feedback-layout.ts):   feedback/<class>/<sha256 of the bytes>.<jpg|png|webp>
// with custom metadata {label, sha256, format, width, height, receivedAt, contentType}. The key is a
// function of (class, bytes), so sending the same image with the same class again changes nothing.
// `trainer feedback pull` turns this layout into train/<class>/<sha256>.<ext> for fine-tuning.
import { FEEDBACK_PREFIX, feedbackKey, parseFeedbackKey, type ImageFormat } from "@resnet-edge/shared";
import { sha256Hex } from "../models/store.ts";

export interface FeedbackMetadata {
  label: string;
  sha256: string;
  format: string;
  width: string;
  height: string;
  receivedAt: string;
  /** The Content-Type the client sent (the stored object's type is the sniffed format's). */
  contentType: string;
}

/** The R2Bucket methods feedback uses (a Workers R2Bucket and Miniflare's satisfy it). */
export interface FeedbackBucket {
  head(key: string): Promise<{ key: string } | null>;
  put(key: string, value: Uint8Array, options: { httpMetadata: { contentType: string }; customMetadata: Record<string, string> }): Promise<unknown>;
  get(key: string): Promise<{ body: ReadableStream; httpMetadata?: { contentType?: string }; size: number } | null>;
  list(options: { prefix: string; cursor?: string; limit?: number; include?: ("customMetadata" | "httpMetadata")[] }): Promise<{
    objects: { key: string; size: number; uploaded: Date; customMetadata?: Record<string, string> }[];
    truncated: boolean;
    cursor?: string;
  }>;
}

const CONTENT_TYPE: Record<string, string> = { jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

export interface StoreResult {
  stored: boolean;
  key: string;
  sha256: string;
}

/** Store once per (label, bytes); a repeat finds the object and writes nothing. */
export async function storeFeedback(
  bucket: FeedbackBucket,
  bytes: Uint8Array,
  meta: { label: string; format: string; width: number; height: number; contentType: string; now?: Date },
): Promise<StoreResult> {
  const sha256 = await sha256Hex(bytes);
  const key = feedbackKey(meta.label, sha256, meta.format as ImageFormat); // decodeImage types its format as a string
  if (await bucket.head(key)) return { stored: false, key, sha256 };
  const customMetadata: FeedbackMetadata = {
    label: meta.label,
    sha256,
    format: meta.format,
    width: String(meta.width),
    height: String(meta.height),
    receivedAt: (meta.now ?? new Date()).toISOString(),
    contentType: meta.contentType.slice(0, 200),
  };
  await bucket.put(key, bytes, { httpMetadata: { contentType: CONTENT_TYPE[meta.format] ?? "application/octet-stream" }, customMetadata: { ...customMetadata } });
  return { stored: true, key, sha256 };
}

export interface FeedbackEntry {
  key: string;
  label: string;
  sha256: string;
  bytes: number;
  uploaded: string;
  receivedAt: string | null;
}

/** One page of stored feedback, oldest key order (R2 lists lexicographically). */
export async function listFeedback(bucket: FeedbackBucket, opts: { cursor?: string; limit?: number } = {}): Promise<{ objects: FeedbackEntry[]; cursor: string | null }> {
  const page = await bucket.list({
    prefix: FEEDBACK_PREFIX,
    include: ["customMetadata"],
    ...(opts.cursor ? { cursor: opts.cursor } : {}),
    ...(opts.limit ? { limit: opts.limit } : {}),
  });
  const objects: FeedbackEntry[] = [];
  for (const o of page.objects) {
    const k = parseFeedbackKey(o.key);
    if (!k) continue; // not a feedback image (e.g. a note someone put there)
    objects.push({ key: o.key, label: k.label, sha256: k.sha256, bytes: o.size, uploaded: o.uploaded.toISOString(), receivedAt: o.customMetadata?.receivedAt ?? null });
  }
  return { objects, cursor: page.truncated && page.cursor ? page.cursor : null };
}
