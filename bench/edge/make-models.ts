// The ONNX files the edge benchmark runs: the project's own ResNet-18 (fastai ch.14: 3-conv stem,
// ResBlocks; random weights, seed 0) through the trainer's exporter, plus its static int8 QDQ version
// calibrated on Imagenette train images preprocessed as the edge serves them.
//   npx tsx bench/edge/make-models.ts [out-dir=.cache/bench-edge] [calibration images per class=3]
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PREPROCESS } from "@resnet-edge/shared";
import { archSpec } from "../../trainer/src/model/arch-table.ts";
import { createModel } from "../../trainer/src/model/create-model.ts";
import { exportOnnx } from "../../trainer/src/export/onnx-export.ts";
import { calibrationRanges, loadImageTensors } from "../../trainer/src/export/calibrate.ts";
import { quantizeQdq } from "../../trainer/src/export/quantize.ts";
import { IMAGENETTE_DIR, hasImagenette } from "../../test/helpers/data.ts";

const outDir = process.argv[2] ?? ".cache/bench-edge";
const perClass = Number(process.argv[3] ?? 3);
mkdirSync(outDir, { recursive: true });
await tf.setBackend("cpu");
const model = createModel(archSpec("resnet18", { nOut: 10 }), { seed: 0 });
const onnx = await exportOnnx(model, { opset: 19 });
model.dispose();
writeFileSync(join(outDir, "resnet18.onnx"), onnx);
console.log(`resnet18.onnx: ${(onnx.byteLength / 1e6).toFixed(1)} MB`);
if (!hasImagenette) {
  console.log(`no int8 model: calibration needs Imagenette at ${IMAGENETTE_DIR}`);
} else {
  const calib = await loadImageTensors(IMAGENETTE_DIR, "train", perClass, { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 224 }, crop: [224, 224] });
  const q = quantizeQdq(onnx, await calibrationRanges(onnx, calib, "percentile"));
  writeFileSync(join(outDir, "resnet18.int8.onnx"), q);
  console.log(`resnet18.int8.onnx: ${(q.byteLength / 1e6).toFixed(1)} MB (calibrated on ${calib.length} images)`);
}
