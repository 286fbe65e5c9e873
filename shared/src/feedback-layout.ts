import type { ImageFormat } from "./image.ts";

/**
 * Where feedback images live in R2, the contract between the worker (POST /v1/feedback writes it) and
 * `trainer feedback pull` (reads it): feedback/<class>/<sha256 of the bytes>.<jpg|png|webp>. The class follows
 * the class-id rule (vocab.ts), so the key is also a valid path segment and manifest wnid.
 */
export const FEEDBACK_PREFIX = "feedback/";
export const FEEDBACK_KEY_RE = /^feedback\/([A-Za-z0-9_-]{1,64})\/([0-9a-f]{64})\.(jpg|png|webp)$/;

const EXT: Partial<Record<ImageFormat, "jpg" | "png" | "webp">> = { jpeg: "jpg", png: "png", webp: "webp" };

export function feedbackKey(label: string, sha256: string, format: ImageFormat): string {
  const ext = EXT[format];
  if (!ext) throw new Error(`feedbackKey: feedback stores JPEG, PNG or WebP only, got ${format}`);
  const key = `${FEEDBACK_PREFIX}${label}/${sha256}.${ext}`;
  if (!FEEDBACK_KEY_RE.test(key)) throw new Error(`feedbackKey: ${JSON.stringify(label)} / ${sha256} do not form a valid key`);
  return key;
}

export function parseFeedbackKey(key: string): { label: string; sha256: string; ext: "jpg" | "png" | "webp" } | null {
  const m = FEEDBACK_KEY_RE.exec(key);
  return m ? { label: m[1]!, sha256: m[2]!, ext: m[3] as "jpg" | "png" | "webp" } : null;
}
