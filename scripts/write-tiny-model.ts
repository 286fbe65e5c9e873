// Write the tiny fully convolutional fixture model as a publishable folder (model.onnx + manifest.json).
// Used by `npm start` to seed the local R2 bucket until a trained model is exported.
//   tsx scripts/write-tiny-model.ts <out-dir> [name] [version]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tinyModelArtifact } from "../trainer/src/export/tiny-artifact.ts";

const [outDir, name = "tiny-fcn", version = "v1"] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: tsx scripts/write-tiny-model.ts <out-dir> [name] [version]");
  process.exit(1);
}
const { onnx, manifest } = tinyModelArtifact({ name, version });
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, manifest.model.file), onnx);
writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2));
console.log(`wrote ${name}/${version} (${onnx.byteLength} bytes) to ${outDir}`);
