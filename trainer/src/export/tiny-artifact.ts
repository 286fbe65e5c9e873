import { IMAGENETTE_CLASSES, type ClassLabel, type ModelManifest } from "@resnet-edge/shared";
import { buildTinyFcnOnnx } from "../onnx/tiny-fcn.ts";
import { makeManifest } from "./manifest.ts";

export interface ModelArtifact {
  onnx: Uint8Array;
  manifest: ModelManifest;
}

/**
 * The tiny fully convolutional model as a servable artifact (ONNX bytes + manifest). Its weights are
 * random but deterministic per seed, so tests can tell versions apart by their logits.
 */
export function tinyModelArtifact(opts: { name?: string; version?: string; seed?: number; classes?: readonly ClassLabel[] } = {}): ModelArtifact {
  const classes = opts.classes ?? IMAGENETTE_CLASSES;
  const onnx = buildTinyFcnOnnx({ classes: classes.length, seed: opts.seed ?? 1234 });
  const manifest = makeManifest({
    name: opts.name ?? "tiny-fcn",
    version: opts.version ?? "v1",
    architecture: { name: "tiny-fcn", widths: [8, 16, 32] },
    onnx,
    classes,
    preprocess: {
      resize: { mode: "shortest-edge", size: 128 },
      crop: null,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      maxPixels: 40_000_000,
      background: [255, 255, 255],
    },
    training: { note: "untrained fixture with seeded random weights; not a real classifier" },
    createdAt: "2026-01-01T00:00:00.000Z",
  });
  return { onnx, manifest };
}
