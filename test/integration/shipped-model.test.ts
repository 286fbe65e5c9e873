// The model `npm start` serves: models/<DEFAULT_MODEL>/ in the repo (int8 ResNet-18 trained on Imagenette).
// Checks that the shipped files are what the manifest says, that the real worker in workerd serves them
// through the same path as `npm start` (trainer publish -> R2 -> DEFAULT_MODEL) with onnxruntime-node's
// scores, and, with the team's Imagenette, that the model really classifies: accuracy on a val slice
// next to the figure its manifest records, and a correct answer for real photos sent to the worker.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { IMAGENETTE_CLASSES, preprocess, validateManifest, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../trainer/src/export/manifest.ts";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { hasImagenette, IMAGENETTE_DIR, needs, repoRoot } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeJpeg } from "../edge/helpers/images.ts";
import { logitsFromScores, maxAbsDiff, centered, referenceFor } from "../edge/helpers/reference.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";
import { REFERENCE_PER_CLASS, referencePath, referenceSlice } from "../fixtures/write-fp32-reference.ts";

const vars = wranglerVars();
const NAME = vars.DEFAULT_MODEL!;
const DIR = join(repoRoot, "models", NAME);
const manifest: ModelManifest = validateManifest(JSON.parse(readFileSync(join(DIR, "manifest.json"), "utf8")));
const onnx = new Uint8Array(readFileSync(join(DIR, manifest.model.file)));

/** The last `perClass` val images of each class (by name): the slice the fp32 reference is recorded on. */
function valSlice(perClass: number): { bytes: Uint8Array; label: number; wnid: string; path: string }[] {
  return referenceSlice(IMAGENETTE_DIR, manifest.classes.map((c) => c.wnid), perClass).map((item) => ({
    ...item,
    bytes: new Uint8Array(readFileSync(join(IMAGENETTE_DIR, item.path))),
    wnid: manifest.classes[item.label]!.wnid,
  }));
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

describe(`the shipped default model (models/${NAME})`, () => {
  it("is the int8 file its manifest names, small enough for git, with the Imagenette classes and its training record", () => {
    expect(readdirSync(DIR).sort()).toEqual(["manifest.json", manifest.model.file].sort());
    expect(manifest.name).toBe(NAME);
    expect(manifest.model.file).toBe("model.int8.onnx");
    expect(sha256Hex(onnx)).toBe(manifest.model.sha256);
    expect(onnx.byteLength).toBe(manifest.model.bytes);
    expect(onnx.byteLength).toBeLessThan(16e6);
    expect(manifest.classes.map((c) => c.wnid)).toEqual(IMAGENETTE_CLASSES.map((c) => c.wnid));
    expect(manifest.architecture.name).toBe("resnet18");
    // The fp32 weights it was quantized from, and how it was trained: the README's command and figures.
    const fp32 = manifest.training?.fp32 as { sha256: string; bytes: number };
    expect(fp32.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fp32.bytes / onnx.byteLength).toBeGreaterThan(3.5);
    expect(Array.isArray(manifest.training?.epochs)).toBe(true);
    expect(manifest.metrics?.valAccuracy).toBeGreaterThan(0);
    expect(manifest.metrics?.sliceImages).toBeGreaterThanOrEqual(3925);
  });

  describe("served by the real worker", () => {
    let w: WorkerHandle;
    beforeAll(async () => {
      // The deployed [vars] as they are: DEFAULT_MODEL, the memory limits, MODEL_VARIANT.
      w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, MODEL_POLL_SECONDS: "0" } });
      const target = bucketTarget((await w.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2");
      await publishModel(target, { modelDir: DIR });
    }, 120_000);
    afterAll(() => w?.dispose());

    it("is ready and answers with onnxruntime-node's scores for every class", { timeout: 120_000 }, async () => {
      const ready = await w.fetch("/readyz");
      expect(ready.status, await ready.clone().text()).toBe(200);
      const img = await makeJpeg(333, 250);
      const res = await w.fetch(`/v1/classify?top_k=${manifest.classes.length}`, { method: "POST", body: img as BodyInit, headers: { "content-type": "image/jpeg" } });
      const body = (await res.json()) as { model: { name: string; version: string }; predictions: { wnid: string; score: number }[] };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.model).toEqual({ name: NAME, version: manifest.version });
      const ref = await referenceFor(onnx, manifest, img, "default", Number(vars.MAX_PIXELS_JPEG_BASELINE), Number(vars.MAX_TENSOR_PIXELS));
      expect(maxAbsDiff(logitsFromScores(body.predictions, manifest), centered(ref.logits))).toBeLessThan(1e-3);
    });

    it.skipIf(!hasImagenette)(`names the class of real val photos of every class ${hasImagenette ? "" : needs("imagenette")}`, { timeout: 120_000 }, async () => {
      const photos = valSlice(1);
      let right = 0;
      for (const p of photos) {
        const res = await w.fetch("/v1/classify?top_k=1", { method: "POST", body: p.bytes as BodyInit, headers: { "content-type": "image/jpeg" } });
        const body = (await res.json()) as { predictions: { wnid: string }[] };
        expect(res.status, JSON.stringify(body)).toBe(200);
        if (body.predictions[0]!.wnid === p.wnid) right++;
      }
      // 10 photos, one per class; the model is right on ~4 in 5 val images, so 6 or fewer is a regression.
      expect(right).toBeGreaterThanOrEqual(7);
    });
  });

  it.skipIf(!hasImagenette)(
    `classifies a 300-image val slice about as well as its manifest says it does on the full split ${hasImagenette ? "" : needs("imagenette")}`,
    { timeout: 240_000 },
    async () => {
      await initCodecs();
      const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
      let right = 0;
      const slice = valSlice(30);
      for (const p of slice) {
        const pre = await preprocess(p.bytes, manifest.preprocess);
        const out = (await session.run({ input: new ort.Tensor("float32", pre.data, [...pre.dims]) })).logits!.data as Float32Array;
        if (argmax(out) === p.label) right++;
      }
      await session.release();
      const accuracy = right / slice.length;
      const recorded = manifest.metrics!.int8SliceAccuracy!;
      // Binomial standard error on 300 images at ~0.8 is ~2.3 pp: 3 of them is the band.
      expect(Math.abs(accuracy - recorded), `slice ${accuracy.toFixed(3)} vs manifest ${recorded.toFixed(3)}`).toBeLessThan(0.07);
    },
  );
});

// The fp32 file is 45 MB and stays out of git. Its top-1 decisions on a fixed 500-image val slice are
// recorded in test/fixtures (write-fp32-reference.ts, from the fp32 export of the same checkpoint), so
// every run checks that the shipped int8 model makes the fp32 model's decisions.
describe.skipIf(!hasImagenette)(`int8 vs fp32 ${hasImagenette ? "" : needs("imagenette")}`, () => {
  it("the int8 model's top-1 agrees with the fp32 model's on at least 98% of a 500-image val slice", { timeout: 600_000 }, async () => {
    const ref = JSON.parse(readFileSync(referencePath(NAME), "utf8")) as {
      fp32Sha256: string;
      images: { path: string; label: number; top1: number; margin: number }[];
    };
    expect(ref.fp32Sha256).toBe((manifest.training!.fp32 as { sha256: string }).sha256);
    await initCodecs();
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
    const slice = valSlice(REFERENCE_PER_CLASS);
    expect(slice.map((i) => i.path)).toEqual(ref.images.map((i) => i.path));
    const disagree: string[] = [];
    for (const [k, item] of ref.images.entries()) {
      const pre = await preprocess(slice[k]!.bytes, manifest.preprocess);
      const logits = (await session.run({ input: new ort.Tensor("float32", pre.data, [...pre.dims]) })).logits!.data as Float32Array;
      if (argmax(logits) !== item.top1) disagree.push(`${item.path} (fp32 margin ${item.margin})`);
    }
    await session.release();
    const agreement = 1 - disagree.length / ref.images.length;
    expect(agreement, `disagreements: ${disagree.join(", ")}`).toBeGreaterThanOrEqual(0.98);
  });
});
