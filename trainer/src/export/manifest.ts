import {
  DEFAULT_PREPROCESS,
  IMAGENETTE_CLASSES,
  stripLocalPaths,
  validateManifest,
  type ClassLabel,
  type ModelManifest,
  type PreprocessConfig,
  type TensorSpec,
} from "@resnet-edge/shared";
import { sha256Hex } from "../hash.ts";

export { sha256Hex };

export interface ManifestInput {
  name: string;
  version: string;
  architecture: ModelManifest["architecture"];
  onnx: Uint8Array;
  modelFile?: string;
  preprocess?: PreprocessConfig;
  /** The net's total stride (see ModelManifest.stride). */
  stride?: number;
  classes?: readonly ClassLabel[];
  /** The graph's input and output as they are (default: our exports' `input` [N,3,H,W] and `logits` [N,classes]). */
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
  variants?: Record<string, { file: string; onnx: Uint8Array }>;
  training?: Record<string, unknown>;
  metrics?: Record<string, number>;
  createdAt?: string;
}

/** Describe ONNX bytes as a validated manifest (sha256 and sizes computed here, never by hand). */
export function makeManifest(m: ManifestInput): ModelManifest {
  const classes = [...(m.classes ?? IMAGENETTE_CLASSES)];
  const variants = m.variants
    ? Object.fromEntries(Object.entries(m.variants).map(([k, v]) => [k, { file: v.file, sha256: sha256Hex(v.onnx), bytes: v.onnx.byteLength }]))
    : undefined;
  return validateManifest({
    schemaVersion: 1,
    name: m.name,
    version: m.version,
    architecture: m.architecture,
    model: { file: m.modelFile ?? "model.onnx", sha256: sha256Hex(m.onnx), bytes: m.onnx.byteLength },
    ...(variants ? { variants } : {}),
    inputs: m.inputs ?? [{ name: "input", dims: ["N", 3, "H", "W"], dtype: "float32" }],
    outputs: m.outputs ?? [{ name: "logits", dims: ["N", classes.length], dtype: "float32" }],
    preprocess: m.preprocess ?? DEFAULT_PREPROCESS,
    ...(m.stride !== undefined ? { stride: m.stride } : {}),
    classes,
    // No paths of the training machine in a file that ships (data folder, run folder): last segments only.
    ...(m.training ? { training: stripLocalPaths(m.training) } : {}),
    ...(m.metrics ? { metrics: m.metrics } : {}),
    createdAt: m.createdAt ?? new Date().toISOString(),
  });
}
