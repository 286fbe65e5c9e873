// Reading model artifacts from R2, in the layout `trainer publish` writes: shared/src/model-layout.ts.
import {
  fileKey,
  isValidModelName,
  manifestKey,
  MODEL_NAME_RE,
  MODELS_PREFIX,
  modelNameOfPrefix,
  pointerKey,
  validateManifest,
  type ModelFile,
  type ModelManifest,
} from "@resnet-edge/shared";

export type ModelLoadErrorCode =
  | "model_not_found" // no pointer object for this name
  | "pointer_invalid" // active.json is not {"version": "..."}
  | "manifest_missing"
  | "manifest_invalid"
  | "model_missing"
  | "checksum_mismatch" // bytes in R2 do not match the manifest's size or sha256
  | "session_failed" // onnxruntime could not load the bytes
  | "storage_error"; // R2 itself failed

/** Why a model version could not be loaded. The message names the object and what to do. */
export class ModelLoadError extends Error {
  override readonly name = "ModelLoadError";
  constructor(
    readonly code: ModelLoadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Pointer {
  version: string;
  /** When the pointer object was written; a re-publish of the same version changes it. */
  uploaded: number;
}

/** The part of an R2Bucket binding the store uses (R2Bucket satisfies it; keeps this file runtime-neutral). */
export interface ModelBucket {
  get(key: string): Promise<BucketObject | null>;
  list(options: { prefix: string; delimiter: string; cursor?: string }): Promise<{ delimitedPrefixes: string[]; truncated: boolean; cursor?: string }>;
}
export interface BucketObject {
  uploaded: Date;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export { isValidModelName };

async function get(bucket: ModelBucket, key: string): Promise<BucketObject | null> {
  try {
    return await bucket.get(key);
  } catch (e) {
    throw new ModelLoadError("storage_error", `reading ${key} from R2 failed: ${(e as Error).message}; check the MODELS bucket binding`);
  }
}

/** The active version of a model, or null when the model has no pointer. */
export async function readPointer(bucket: ModelBucket, name: string): Promise<Pointer | null> {
  const key = pointerKey(name);
  const obj = await get(bucket, key);
  if (!obj) return null;
  const text = await obj.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ModelLoadError("pointer_invalid", `${key} is not JSON; write {"version": "<version>"} to it`);
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (typeof version !== "string" || !MODEL_NAME_RE.test(version)) {
    throw new ModelLoadError("pointer_invalid", `${key} must be {"version": "<version>"} with a lowercase version name, got ${text.slice(0, 200)}`);
  }
  return { version, uploaded: obj.uploaded.getTime() };
}

export async function readManifest(bucket: ModelBucket, name: string, version: string): Promise<ModelManifest> {
  const key = manifestKey(name, version);
  const obj = await get(bucket, key);
  if (!obj) throw new ModelLoadError("manifest_missing", `${key} is missing; upload the manifest written by \`trainer export\` before pointing active.json at ${version}`);
  let manifest: ModelManifest;
  try {
    manifest = validateManifest(JSON.parse(await obj.text()));
  } catch (e) {
    throw new ModelLoadError("manifest_invalid", `${key} is not a valid manifest: ${(e as Error).message}`);
  }
  if (manifest.name !== name || manifest.version !== version) {
    throw new ModelLoadError("manifest_invalid", `${key} declares ${manifest.name}/${manifest.version}; it must match its path ${name}/${version}`);
  }
  return manifest;
}

/** sha256 of the bytes as lowercase hex (Web Crypto): the worker's one helper (model files, feedback keys). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The ONNX bytes named by `file`, verified against its size and sha256. */
export async function readModelFile(bucket: ModelBucket, name: string, version: string, file: ModelFile): Promise<Uint8Array> {
  const key = fileKey(name, version, file.file);
  const obj = await get(bucket, key);
  if (!obj) throw new ModelLoadError("model_missing", `${key} is missing; upload it before publishing ${version}`);
  const bytes = new Uint8Array(await obj.arrayBuffer());
  if (bytes.byteLength !== file.bytes) {
    throw new ModelLoadError("checksum_mismatch", `${key} is ${bytes.byteLength} bytes but the manifest says ${file.bytes}; re-upload the file`);
  }
  const digest = await sha256Hex(bytes);
  if (digest !== file.sha256) {
    throw new ModelLoadError("checksum_mismatch", `${key} has sha256 ${digest} but the manifest says ${file.sha256}; re-upload the file or the manifest`);
  }
  return bytes;
}

/** Names of all models that have a folder in the bucket. */
export async function listModelNames(bucket: ModelBucket): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: MODELS_PREFIX, delimiter: "/", ...(cursor ? { cursor } : {}) });
    for (const p of page.delimitedPrefixes) {
      const name = modelNameOfPrefix(p);
      if (name !== null) names.push(name);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return names.sort();
}
