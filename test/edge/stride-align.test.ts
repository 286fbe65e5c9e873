// Issue 11 item 1 at the worker: classifyImage with a manifest that carries `stride` rounds both tensor
// sides to it (size=default and size=native), refuses extreme strips from the header, and a legacy
// manifest keeps the old shapes. Real shared preprocessing and real PNG/JPEG bodies; the session only
// records the tensor shape it is given.
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { classifyImage, type ClassifyOptions } from "../../edge/src/classify.ts";
import { ApiError } from "../../edge/src/http/errors.ts";
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

const opts = (size: ClassifyOptions["size"]): ClassifyOptions => ({ topK: 3, size, maxPixels: 2_400_000, maxTensorPixels: 240_000 });

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
