// The reference the worker is checked against: onnxruntime-node (native CPU) on the tensor the shared
// preprocessing makes in Node from the same bytes, with the worker's request config.
import * as ort from "onnxruntime-node";
import { preprocess, readImageHeader, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { requestConfig } from "../../../edge/src/classify.ts";
import type { SizeMode } from "../../../edge/src/http/query.ts";

const sessions = new Map<Uint8Array, Promise<ort.InferenceSession>>();

export async function nativeLogits(onnx: Uint8Array, data: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  let s = sessions.get(onnx);
  if (!s) {
    s = ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
    sessions.set(onnx, s);
  }
  const session = await s;
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", data, [...dims]) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

export interface Reference {
  logits: Float32Array;
  dims: readonly number[];
}

/**
 * `maxPixels`: the decode path's cap; `maxTensorPixels`: the worker's MAX_TENSOR_PIXELS, which scales an image
 * whose tensor would exceed it down to fit (as planRequest does, from the header's size).
 */
export async function referenceFor(onnx: Uint8Array, manifest: ModelManifest, bytes: Uint8Array, size: SizeMode, maxPixels: number, maxTensorPixels = Infinity): Promise<Reference> {
  await initCodecs();
  const pre = await preprocess(bytes, requestConfig(manifest, size, maxPixels, readImageHeader(bytes), maxTensorPixels));
  return { logits: await nativeLogits(onnx, pre.data, pre.dims), dims: pre.dims };
}

/** Logits up to the constant softmax discards: x - mean(x). */
export function centered(x: ArrayLike<number>): number[] {
  const a = Array.from(x);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return a.map((v) => v - mean);
}

/**
 * The worker returns softmax scores for all classes with top_k = class count; log(score) recovers the
 * logits up to a constant, so centered(log(score)) must equal centered(logits).
 */
export function logitsFromScores(predictions: { wnid: string; score: number }[], manifest: ModelManifest): number[] {
  const byWnid = new Map(predictions.map((p) => [p.wnid, p.score]));
  return centered(manifest.classes.map((c) => Math.log(byWnid.get(c.wnid)!)));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
