import { createHash } from "node:crypto";

/** sha256 of the bytes as lowercase hex: the trainer's one helper (manifests, publish, feedback pull). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
