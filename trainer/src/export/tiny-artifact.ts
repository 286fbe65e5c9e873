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
export function tinyModelArtifact(opts: { name?: string; version?: string; seed?: number; classes?: readonly ClassLabel[]; spatial?: [number, number] } = {}): ModelArtifact {
  const classes = opts.classes ?? IMAGENETTE_CLASSES;
  const onnx = buildTinyFcnOnnx({ classes: classes.length, seed: opts.seed ?? 1234, ...(opts.spatial ? { spatial: opts.spatial } : {}) });
  // A fixed-size variant is served as torchvision's recipe: shortest edge to 8/7 of the size, centre crop.
  const fixed = opts.spatial;
  const manifest = makeManifest({
    name: opts.name ?? "tiny-fcn",
    version: opts.version ?? "v1",
    architecture: { name: "tiny-fcn", widths: [8, 16, 32] },
    onnx,
    classes,
    ...(fixed ? { inputs: [{ name: "input", dims: ["N", 3, fixed[0], fixed[1]], dtype: "float32" as const }] } : {}),
    preprocess: {
      resize: { mode: "shortest-edge", size: fixed ? Math.round((Math.min(...fixed) * 8) / 7) : 128 },
      crop: fixed ?? null,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      maxPixels: 60_000_000,
      background: [255, 255, 255],
    },
    training: { note: "untrained fixture with seeded random weights; not a real classifier" },
    createdAt: "2026-01-01T00:00:00.000Z",
  });
  return { onnx, manifest };
}
