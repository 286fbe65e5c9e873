// Put model versions into a real R2 bucket (Miniflare's) in the layout the worker reads
// (shared/src/model-layout.ts), and flip the active pointer, the way a publish step would: objects
// first, pointer last.
import { fileKey, manifestKey, pointerBody, pointerKey, type ModelManifest } from "@resnet-edge/shared";
import type { ModelArtifact } from "../../../trainer/src/export/tiny-artifact.ts";

/** The R2Bucket methods used here (Miniflare's getR2Bucket() returns a full one). */
export interface WritableBucket {
  put(key: string, value: Uint8Array | string): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

export async function uploadVersion(bucket: WritableBucket, artifact: ModelArtifact, opts: { onnx?: Uint8Array; manifest?: ModelManifest } = {}): Promise<void> {
  const m = opts.manifest ?? artifact.manifest;
  await bucket.put(fileKey(m.name, m.version, m.model.file), opts.onnx ?? artifact.onnx);
  await bucket.put(manifestKey(m.name, m.version), JSON.stringify(m));
}

export async function activate(bucket: WritableBucket, name: string, version: string): Promise<void> {
  await bucket.put(pointerKey(name), pointerBody(version));
}

export async function publish(bucket: WritableBucket, artifact: ModelArtifact): Promise<void> {
  await uploadVersion(bucket, artifact);
  await activate(bucket, artifact.manifest.name, artifact.manifest.version);
}
