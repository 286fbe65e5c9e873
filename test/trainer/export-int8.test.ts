// int8 export: the QDQ layout must be what onnxruntime fuses (QLinearConv/QLinearAdd), the file about
// 4x smaller, and the logits close to fp32 on real images preprocessed the way the edge does.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import * as ort from "onnxruntime-node";
import { validateManifest } from "@resnet-edge/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { loadImageTensors } from "../../trainer/src/export/calibrate.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { sha256Hex } from "../../trainer/src/export/manifest.ts";
import { saveCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import { servingPreprocess } from "../../trainer/src/data/serving-preprocess.ts";
import { archSpec, createModel, walkLayers } from "../../trainer/src/model/index.ts";
import { seededRandom } from "../../trainer/src/model/init.ts";
import * as tf from "@tensorflow/tfjs-core";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";

describe.skipIf(!hasImagenette)(`int8 export (${hasImagenette ? "real Imagenette" : needs("imagenette")})`, () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend("wasm");
    dir = mkdtempSync(join(tmpdir(), "export-int8-"));
    const model = createModel(archSpec("resnet18", { nOut: 10 }), { seed: 9 });
    // Non-zero residual branches (BatchZero gammas become small but non-zero, as after training).
    const rand = seededRandom(4);
    for (const node of walkLayers(model.root)) {
      if (node.kind === "batchnorm") node.gamma.assign(tf.tensor1d(Array.from({ length: node.gamma.size }, () => 0.2 + 0.8 * rand())));
    }
    await saveCheckpoint(join(dir, "run", "checkpoint.bin"), {
      model,
      classes: ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"],
      config: null,
      progress: { stage: 0, epoch: 1, nEpochs: 1, pos: 1, done: true },
      metrics: [],
    });
    model.dispose();
  });

  it("writes model.int8.onnx that onnxruntime fuses into QLinear ops, ~4x smaller, with logits close to fp32", async () => {
    const out = join(dir, "model");
    const res = await exportRun({ checkpoint: join(dir, "run"), out, int8: true, calibrationData: IMAGENETTE_DIR, calibrationPerClass: 3, agreementPerClass: 2 });
    const manifest = validateManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    const fp32 = readFileSync(join(out, "model.onnx"));
    const int8 = readFileSync(join(out, "model.int8.onnx"));
    expect(manifest.variants?.int8?.sha256).toBe(sha256Hex(int8));
    expect(fp32.byteLength / int8.byteLength).toBeGreaterThan(3.5);
    expect(res.int8?.images).toBe(20);
    expect(manifest.metrics?.int8Top1Agreement).toBe(res.int8?.top1Agreement);

    const optimized = join(dir, "optimized.onnx");
    const session = await ort.InferenceSession.create(int8, { optimizedModelFilePath: optimized, graphOptimizationLevel: "extended", logSeverityLevel: 3 });
    const ops = fromBinary(ModelProtoSchema, readFileSync(optimized)).graph!.node.map((n) => n.opType);
    const count = (op: string) => ops.filter((o) => o === op).length;
    expect(count("QLinearConv")).toBe(21); // every conv of resnet18 (3 stem + 16 block + 3 shortcut) but the first
    expect(count("QLinearAdd")).toBe(8); // every residual add
    expect(count("Conv")).toBe(1); // the first conv reads the float image and stays float (QuantizeOptions.floatNodes)
    expect(fromBinary(ModelProtoSchema, readFileSync(optimized)).graph!.node.find((n) => n.opType === "Conv")!.name).toMatch(/stem\.0\.conv/);

    const fpSession = await ort.InferenceSession.create(fp32);
    const images = await loadImageTensors(IMAGENETTE_DIR, "val", 1, servingPreprocess(128));
    for (const x of images.slice(0, 5)) {
      const t = new ort.Tensor("float32", x.data, x.dims);
      const a = (await fpSession.run({ input: t })).logits!.data as Float32Array;
      const b = (await session.run({ input: t })).logits!.data as Float32Array;
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) {
        dot += a[i]! * b[i]!;
        na += a[i]! ** 2;
        nb += b[i]! ** 2;
      }
      expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.99);
    }
  });

  it("--int8-only ships the same int8 bytes as the manifest's model, with no fp32 file, and names the fp32 weights it came from", async () => {
    const opts = { checkpoint: join(dir, "run"), calibrationData: IMAGENETTE_DIR, calibrationPerClass: 2, agreementPerClass: 1, version: "v1" };
    const both = join(dir, "both");
    const slim = join(dir, "slim");
    await exportRun({ ...opts, out: both, int8: true });
    const res = await exportRun({ ...opts, out: slim, int8Only: true });
    expect(readdirSync(slim).sort()).toEqual(["manifest.json", "model.int8.onnx"]);
    const full = validateManifest(JSON.parse(readFileSync(join(both, "manifest.json"), "utf8")));
    const manifest = validateManifest(JSON.parse(readFileSync(join(slim, "manifest.json"), "utf8")));
    expect(manifest.variants).toBeUndefined();
    expect(manifest.model).toEqual({ ...full.variants!.int8!, file: "model.int8.onnx" });
    expect(manifest.model.sha256).toBe(sha256Hex(readFileSync(join(slim, "model.int8.onnx"))));
    expect(manifest.training?.fp32).toEqual(full.model);
    expect(manifest.training?.precision).toBe("int8");
    expect(manifest.metrics?.int8Top1Agreement).toBe(res.int8?.top1Agreement);
    expect(res.files.map((f) => f.slice(slim.length + 1)).sort()).toEqual(["manifest.json", "model.int8.onnx"]);
  });

  it("refuses --int8 without calibration images, saying what to pass", async () => {
    await expect(exportRun({ checkpoint: join(dir, "run"), out: join(dir, "x"), int8: true })).rejects.toThrow(/--int8 needs calibration images: pass --calibration-data/);
    await expect(exportRun({ checkpoint: join(dir, "run"), out: join(dir, "x"), int8Only: true })).rejects.toThrow(/--int8 needs calibration images/);
  });
});
