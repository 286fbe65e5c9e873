// Run a checked v2 inference request on a loaded model, and the protocol's metadata for a manifest.
// Batch elements run one after another (the worker's sessions pin the batch dim to 1, and images of a
// fully convolutional model may differ in size); the outputs are stacked on the batch dim.
import { holdDecoderInstances, type DecodeLimits, type ModelManifest, type TensorSpec } from "@resnet-edge/shared";
import { imageTensor, type PreprocessFn } from "../classify.ts";
import { PIXEL_LIMIT_VARS } from "../limits.ts";
import type { LoadedModel } from "../models/registry.ts";
import type { InferRequest } from "./request.ts";

export interface MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ResponseOutput {
  name: string;
  datatype: "FP32" | "BYTES";
  shape: number[];
  data: number[] | string[];
  parameters?: Record<string, string | number | boolean>;
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: ResponseOutput[];
}

export interface ImageLimits {
  /** MAX_PIXELS_* per decode path and MAX_JPEG_COEFFICIENT_BYTES (edge/src/limits.ts). */
  decode: DecodeLimits;
  maxTensorPixels: number;
}

/** A manifest tensor as protocol metadata: float32 is FP32, symbolic dims are -1. */
export function metadataTensor(t: TensorSpec): MetadataTensor {
  return { name: t.name, datatype: "FP32", shape: t.dims.map((d) => (typeof d === "number" ? d : -1)) };
}

export function modelMetadata(manifest: ModelManifest): { name: string; versions: string[]; platform: string; inputs: MetadataTensor[]; outputs: MetadataTensor[] } {
  return {
    name: manifest.name,
    versions: [manifest.version],
    platform: "onnx_onnxv1",
    inputs: manifest.inputs.map(metadataTensor),
    outputs: manifest.outputs.map(metadataTensor),
  };
}

/** The logits of each batch element, in order. */
async function runElements(model: LoadedModel, req: InferRequest, preprocess: PreprocessFn, limits: ImageLimits): Promise<{ data: Float32Array; dims: readonly number[] }[]> {
  const results: { data: Float32Array; dims: readonly number[] }[] = [];
  if (req.input.kind === "tensor") {
    const [n, c, h, w] = req.input.shape as [number, number, number, number];
    const per = c * h * w;
    for (let i = 0; i < n; i++) results.push(await model.session.run(req.input.data.subarray(i * per, (i + 1) * per), [1, c, h, w]));
    return results;
  }
  const { images } = req.input;
  // One decoder instance per codec for all the images (shared/src/codecs/instance-hold.ts).
  return holdDecoderInstances(async () => {
    for (const bytes of images) {
      // The same header checks and preprocessing as /v1/classify at its default size.
      const pre = await imageTensor(model.manifest, bytes, { size: "default", decodeLimits: limits.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: limits.maxTensorPixels }, preprocess);
      results.push(await model.session.run(pre.data, pre.dims));
    }
    return results;
  });
}

/** Triton's classification extension: "<value>:<index>:<label>", highest value first. */
function classification(logits: Float32Array, manifest: ModelManifest, k: number): string[] {
  return [...logits]
    .map((v, i) => ({ v, i }))
    .sort((a, b) => b.v - a.v || a.i - b.i)
    .slice(0, k)
    .map(({ v, i }) => `${v}:${i}:${manifest.classes[i]!.label}`);
}

export async function runInference(model: LoadedModel, req: InferRequest, preprocess: PreprocessFn, limits: ImageLimits): Promise<InferResponse> {
  const results = await runElements(model, req, preprocess, limits);
  const spec = model.manifest.outputs[0]!;
  const classes = model.manifest.classes.length;
  for (const r of results) {
    if (r.data.length !== classes) {
      throw new Error(`model ${model.name}/${model.version} produced ${r.data.length} values per element but lists ${classes} classes`);
    }
  }
  const n = results.length;
  const requested = req.outputs.length > 0 ? req.outputs : [{ name: spec.name, classification: null }];
  const outputs: ResponseOutput[] = requested.map((o) => {
    if (o.classification !== null) {
      const k = o.classification;
      return { name: o.name, datatype: "BYTES", shape: [n, k], data: results.flatMap((r) => classification(r.data, model.manifest, k)) };
    }
    const data: number[] = [];
    for (const r of results) for (const v of r.data) data.push(v);
    return { name: o.name, datatype: "FP32", shape: [n, classes], data };
  });
  return { model_name: model.name, model_version: model.version, ...(req.id !== undefined ? { id: req.id } : {}), outputs };
}
