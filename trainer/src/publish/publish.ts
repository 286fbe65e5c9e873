/**
 * `trainer publish`: upload an exported model folder as a new version and make it the active one, in the
 * R2 layout the worker reads (shared/src/model-layout.ts). Objects go first and the pointer last, so a
 * running worker never follows a pointer to a half-uploaded version; it keeps serving the old session
 * until the new one is ready.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "@resnet-edge/shared/errors";
import { validateManifest, type ModelManifest } from "@resnet-edge/shared/manifest";
import { fileKey, manifestKey, pointerBody, pointerKey } from "@resnet-edge/shared/model-layout";
import { DataError } from "../data/errors.ts";
import { sha256Hex } from "../hash.ts";
import type { ObjectTarget } from "./r2-target.ts";

export interface PublishOptions {
  /** Folder written by `trainer export` (manifest.json + the files it names). */
  modelDir: string;
  /** Publish under this model name (default: the manifest's). */
  name?: string;
  /** Upload without flipping the pointer. */
  activate?: boolean;
  log?: (line: string) => void;
}

export interface PublishResult {
  name: string;
  version: string;
  keys: string[];
  /** False when this exact version was already in the bucket (nothing re-uploaded). */
  uploaded: boolean;
}

const enc = new TextEncoder();

export { pointerKey };

async function readManifest(dir: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, "manifest.json"), "utf8");
  } catch {
    throw new DataError(`${dir} has no manifest.json: pass the folder \`trainer export --out <dir>\` wrote`);
  }
  try {
    return validateManifest(JSON.parse(text));
  } catch (e) {
    if (e instanceof ConfigError) throw new DataError(`${join(dir, "manifest.json")} is invalid: ${e.message}; re-export the model`);
    throw new DataError(`${join(dir, "manifest.json")} is not JSON: re-export the model`);
  }
}

export async function publishModel(target: ObjectTarget, opts: PublishOptions): Promise<PublishResult> {
  const log = opts.log ?? (() => {});
  const original = await readManifest(opts.modelDir);
  const manifest = validateManifest({ ...original, name: opts.name ?? original.name });
  const files = [manifest.model, ...Object.values(manifest.variants ?? {})];
  const bodies = new Map<string, Uint8Array>();
  for (const f of files) {
    const bytes = new Uint8Array(await readFile(join(opts.modelDir, f.file)).catch(() => {
      throw new DataError(`${join(opts.modelDir, f.file)} is missing: the manifest names it; re-export the model`);
    }));
    const sha256 = sha256Hex(bytes);
    if (sha256 !== f.sha256) {
      throw new DataError(`${f.file} does not match its manifest (sha256 ${sha256.slice(0, 12)}… vs ${f.sha256.slice(0, 12)}…): re-export instead of editing files by hand`);
    }
    bodies.set(f.file, bytes);
  }
  const key = (file: string): string => fileKey(manifest.name, manifest.version, file);
  const manifestBytes = enc.encode(`${JSON.stringify(manifest, null, 2)}\n`);
  const existing = await target.get(manifestKey(manifest.name, manifest.version));
  let uploaded = false;
  if (existing) {
    const prior = validateManifest(JSON.parse(new TextDecoder().decode(existing)));
    if (prior.model.sha256 !== manifest.model.sha256) {
      throw new DataError(
        `${manifest.name} version ${manifest.version} is already published with different weights: export with a new --version (published versions are immutable)`,
      );
    }
    log(`${manifest.name}@${manifest.version} is already in ${target.description}; not re-uploading`);
  } else {
    for (const [file, bytes] of bodies) {
      await target.put(key(file), bytes, "application/octet-stream");
      log(`uploaded ${key(file)} (${(bytes.byteLength / 1e6).toFixed(1)} MB)`);
    }
    await target.put(manifestKey(manifest.name, manifest.version), manifestBytes, "application/json");
    uploaded = true;
  }
  const keys = [...[...bodies.keys()].map(key), manifestKey(manifest.name, manifest.version)];
  if (opts.activate ?? true) {
    await target.put(pointerKey(manifest.name), enc.encode(pointerBody(manifest.version)), "application/json");
    keys.push(pointerKey(manifest.name));
    log(`activated ${manifest.name}@${manifest.version} in ${target.description}`);
  }
  return { name: manifest.name, version: manifest.version, keys, uploaded };
}
