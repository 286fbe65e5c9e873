// The trainer's export, published into a real R2 binding, served by the real worker in workerd: its
// logits equal onnxruntime-node's on the same tensor (max abs diff < 1e-4), at odd sizes in both size
// modes. This is the chain a trained model takes: checkpoint -> trainer export -> publish -> classify.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { readFileSync } from "node:fs";
import { validateManifest, type ModelManifest } from "@resnet-edge/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { saveCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import { seededRandom } from "../../trainer/src/model/init.ts";
import { archSpec, createModel, walkLayers } from "../../trainer/src/model/index.ts";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeJpeg } from "../edge/helpers/images.ts";
import { logitsFromScores, maxAbsDiff, referenceFor, centered } from "../edge/helpers/reference.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";

const WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"];
const vars: Record<string, string> = { ...wranglerVars(), MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "exported", MODEL_VARIANT: "" };

describe("an exported model served by the worker", () => {
  let w: WorkerHandle;
  let onnx: Uint8Array;
  let manifest: ModelManifest;

  beforeAll(async () => {
    await initBackend("wasm");
    const dir = mkdtempSync(join(tmpdir(), "export-serve-"));
    const model = createModel(archSpec("resblock", { nOut: 10 }), { seed: 3 });
    const rand = seededRandom(8);
    for (const node of walkLayers(model.root)) {
      if (node.kind !== "batchnorm") continue;
      const n = node.gamma.size;
      node.gamma.assign(tf.tensor1d(Array.from({ length: n }, () => 0.3 + rand())));
      node.runningMean.assign(tf.tensor1d(Array.from({ length: n }, () => rand() * 0.2 - 0.1)));
    }
    await saveCheckpoint(join(dir, "run", "checkpoint.bin"), {
      model,
      classes: WNIDS,
      config: null,
      progress: { stage: 0, epoch: 1, nEpochs: 1, pos: 1, done: true },
      metrics: [],
    });
    model.dispose();
    await exportRun({ checkpoint: join(dir, "run"), out: join(dir, "model"), name: "exported", version: "v1" });
    onnx = new Uint8Array(readFileSync(join(dir, "model", "model.onnx")));
    manifest = validateManifest(JSON.parse(readFileSync(join(dir, "model", "manifest.json"), "utf8")));

    w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars });
    const bucket = (await w.mf.getR2Bucket("MODELS")) as unknown as BucketLike;
    await publishModel(bucketTarget(bucket, "miniflare r2"), { modelDir: join(dir, "model") });
  });
  afterAll(() => w?.dispose());

  for (const [width, height] of [[97, 203], [320, 240]] as const) {
    for (const size of ["default", "native"] as const) {
      it(`${width}x${height} size=${size}: worker logits equal onnxruntime-node's`, async () => {
        const jpeg = await makeJpeg(width, height, width + height);
        const res = await w.fetch(`/v1/classify?top_k=10&size=${size}`, { method: "POST", body: jpeg as BodyInit, headers: { "content-type": "image/jpeg" } });
        const body = (await res.json()) as { model: unknown; predictions: { wnid: string; score: number }[]; input: { tensor: { height: number; width: number } } };
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body.model).toEqual({ name: "exported", version: "v1" });
        const ref = await referenceFor(onnx, manifest, jpeg, size, Number(vars.MAX_PIXELS_JPEG_BASELINE), Number(vars.MAX_TENSOR_PIXELS));
        expect([body.input.tensor.height, body.input.tensor.width]).toEqual([ref.dims[2], ref.dims[3]]);
        const got = logitsFromScores(body.predictions, manifest);
        const want = centered(ref.logits);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
        expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-2); // logits really differ per class
      });
    }
  }
});
