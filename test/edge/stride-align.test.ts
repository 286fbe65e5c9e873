// Issue 11 item 1 at the worker: classifyImage with a manifest that carries `stride` rounds both tensor
// sides to it (size=default and size=native), refuses extreme strips from the header, and a legacy
// manifest keeps the old shapes. Real shared preprocessing and real PNG/JPEG bodies; the session only
// records the tensor shape it is given.
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { classifyImage, type ClassifyOptions } from "../../edge/src/classify.ts";
import { ApiError } from "../../edge/src/http/errors.ts";
import { uniformDecodeLimits } from "../../edge/src/limits.ts";
import type { LoadedModel } from "../../edge/src/models/registry.ts";
import { tinyModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { makeJpeg, makePng } from "./helpers/images.ts";

const legacy = tinyModelArtifact({ name: "tiny-fcn", version: "v1" }).manifest; // trained at 128, no stride
const aligned: ModelManifest = {
  ...legacy,
  stride: 32,
  preprocess: { ...legacy.preprocess, resize: { mode: "shortest-edge", size: 128, align: 32 }, crop: null },
};

function loaded(manifest: ModelManifest, shapes: number[][]): LoadedModel {
  const session = {
    run: async (_data: Float32Array, dims: readonly number[]) => {
      shapes.push([...dims]);
      return { data: new Float32Array(10), dims: [1, 10] };
    },
    release: async () => {},
  };
  return { name: manifest.name, version: manifest.version, file: manifest.model.file, manifest, session, loadedAt: "", timing: { readMs: 0, sessionMs: 0, bytes: 0 } };
}

const opts = (size: ClassifyOptions["size"]): ClassifyOptions => ({ topK: 3, size, decodeLimits: uniformDecodeLimits(2_400_000), maxTensorPixels: 240_000 });

beforeAll(async () => {
  await initCodecs();
});

describe("stride-aligned serving", () => {
  it.each([
    // [w, h, size, aligned tensor [h, w], legacy tensor [h, w]]
    [97, 203, "default", [256, 128], [268, 128]],
    [320, 240, "default", [128, 160], [128, 171]],
    [97, 203, "native", [192, 96], [203, 97]],
    [65, 65, "native", [64, 64], [65, 65]],
  ] as const)("%i x %i at size=%s: aligned %o, legacy %o", async (w, h, size, want, old) => {
    const body = await makeJpeg(w, h);
    const shapes: number[][] = [];
    const r = await classifyImage(loaded(aligned, shapes), body, opts(size), preprocess);
    expect(r.input.tensor).toEqual({ height: want[0], width: want[1] });
    expect(shapes).toEqual([[1, 3, want[0], want[1]]]);
    const l = await classifyImage(loaded(legacy, []), body, opts(size), preprocess);
    expect(l.input.tensor).toEqual({ height: old[0], width: old[1] });
  });

  it("never rounds a native tensor past MAX_TENSOR_PIXELS: 600x400 (exactly the cap) is scaled, then rounded", async () => {
    const r = await classifyImage(loaded(aligned, []), makePng(600, 400), opts("native"), preprocess);
    expect(r.input.tensor).toEqual({ height: 384, width: 608 });
    expect(r.input.tensor.height * r.input.tensor.width).toBeLessThanOrEqual(240_000);
  });

  it.each(["default", "native"] as const)("1x10000 at size=%s is refused from the header with 413 image_too_large", async (size) => {
    const err = await classifyImage(loaded(aligned, []), makePng(1, 10_000), opts(size), preprocess).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(413);
    expect((err as ApiError).message).toMatch(/MAX_TENSOR_PIXELS/);
  });
});

describe("per-aspect serving sizes (resize.sizeByAspect)", () => {
  const byAspect: ModelManifest = {
    ...aligned,
    preprocess: {
      ...aligned.preprocess,
      resize: { mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [{ aspect: 9 / 16, size: 88 }, { aspect: 1, size: 112 }, { aspect: 16 / 9, size: 88 }] },
    },
  };
  it.each([
    // [w, h, tensor [h, w]]: a square at 112 (128x128), 16:9 and 9:16 at 88, 4:3 nearest the square (112)
    [224, 224, [128, 128]],
    [320, 180, [96, 160]],
    [180, 320, [160, 96]],
    [320, 240, [96 + 32, 160]],
  ] as const)("%i x %i at size=default: tensor %o", async (w, h, want) => {
    const shapes: number[][] = [];
    const r = await classifyImage(loaded(byAspect, shapes), await makeJpeg(w, h), opts("default"), preprocess);
    expect(r.input.tensor).toEqual({ height: want[0], width: want[1] });
    expect(shapes).toEqual([[1, 3, want[0], want[1]]]);
  });
});

describe("?tta=1 (classifyImage with tta)", () => {
  it("runs the model once per view and returns the mean of the views' softmax", async () => {
    const body = await makeJpeg(97, 203);
    const runs: { dims: number[]; logits: Float32Array }[] = [];
    const model = loaded(aligned, []);
    // logits depend on the tensor, so each view gets its own answer
    model.session.run = async (data: Float32Array, dims: readonly number[]) => {
      const logits = Float32Array.from({ length: 10 }, (_, i) => data[(i * 997) % data.length]! * 3);
      runs.push({ dims: [...dims], logits });
      return { data: logits, dims: [1, 10] };
    };
    const r = await classifyImage(model, body, { ...opts("default"), topK: 10, tta: true }, preprocess);
    expect(r.tta).toEqual({ views: ["center", "flip", "shift-tl", "shift-br"], modelRuns: 4 });
    expect(runs.map((x) => x.dims)).toEqual(Array(4).fill([1, 3, 256, 128]));
    const soft = (l: Float32Array) => {
      const m = Math.max(...l);
      const e = [...l].map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const mean = Array.from({ length: 10 }, (_, i) => runs.reduce((a, x) => a + soft(x.logits)[i]!, 0) / 4);
    for (const p of r.predictions) expect(p.score).toBeCloseTo(mean[aligned.classes.findIndex((c) => c.wnid === p.wnid)]!, 10);
    expect(r.predictions.reduce((a, p) => a + p.score, 0)).toBeCloseTo(1, 10);
    // without tta: one run, no tta field
    runs.length = 0;
    const plain = await classifyImage(model, body, opts("default"), preprocess);
    expect(runs).toHaveLength(1);
    expect(plain.tta).toBeUndefined();
  });
});
