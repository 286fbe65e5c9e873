// Fidelity of JPEG shrink-on-load: for Imagenette val images upscaled to ~12 MP (3464x3464, sharp
// lanczos3, baseline q90 4:2:0; bench/jpeg/inputs.ts), the shipped model's input tensor two ways:
//   scaled: preprocess() as served (libjpeg decodes at 1/2, 1/4 or 1/8, then the triangle resize)
//   full:   the same file decoded at full size, then the same resize (what the decoder did before)
// Reports the mean and max abs difference of the tensors (in 0..255 pixel levels), and the model's top-1
// on each path: agreement between them and accuracy against the labels. Accuracy, not time: fine on a
// loaded machine.
//   npx tsx bench/jpeg/fidelity.ts [--per-class N] [--side 3464]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { preprocess, preprocessImage, validateManifest } from "../../shared/src/index.ts";
import { decodeUpright } from "../../shared/src/decode.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { IMAGENETTE_DIR, repoRoot } from "../../test/helpers/data.ts";
import { bigJpeg } from "./inputs.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const perClass = arg("--per-class", 5);
const side = arg("--side", 3464);
const name = "resnet18-imagenette";
const manifest = validateManifest(JSON.parse(readFileSync(join(repoRoot, "models", name, "manifest.json"), "utf8")));
const model = manifest.model.file;
await initCodecs();
const session = await ort.InferenceSession.create(join(repoRoot, "models", name, model), { intraOpNumThreads: 1 });
const top1 = async (data: Float32Array, dims: readonly number[]): Promise<number> => {
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", data, [...dims]) });
  const logits = out[session.outputNames[0]!]!.data as Float32Array;
  return logits.indexOf(Math.max(...logits));
};

const pp = manifest.preprocess;
const levels = 255 * Math.max(...pp.std); // tensor units -> pixel levels (upper bound over channels)
let n = 0;
let agree = 0;
let rightScaled = 0;
let rightFull = 0;
let sumAbs = 0;
let count = 0;
let maxAbs = 0;
const scales = new Map<number, number>();
for (const [label, { wnid }] of manifest.classes.entries()) {
  const files = readdirSync(join(IMAGENETTE_DIR, "val", wnid)).sort().slice(0, perClass);
  for (const f of files) {
    const photo = new Uint8Array(readFileSync(join(IMAGENETTE_DIR, "val", wnid, f)));
    const big = await bigJpeg(photo, side, side, { progressive: false, subsampling: "4:2:0" });
    const scaled = await preprocess(big.bytes, pp);
    const full = await decodeUpright(big.bytes, { maxPixels: 100_000_000 }, "rgba", 1);
    const fullTensor = preprocessImage(full.image, pp, {}, { width: full.fullWidth, height: full.fullHeight });
    scales.set(scaled.source.scale, (scales.get(scaled.source.scale) ?? 0) + 1);
    for (let i = 0; i < scaled.data.length; i++) {
      const d = Math.abs(scaled.data[i]! - fullTensor.data[i]!);
      sumAbs += d;
      if (d > maxAbs) maxAbs = d;
    }
    count += scaled.data.length;
    const a = await top1(scaled.data, scaled.dims);
    const b = await top1(fullTensor.data, fullTensor.dims);
    n++;
    if (a === b) agree++;
    if (a === label) rightScaled++;
    if (b === label) rightFull++;
  }
  console.log(`${wnid}: ${n} images so far, agreement ${agree}/${n}`);
}
const pct = (k: number): string => `${((100 * k) / n).toFixed(1)}%`;
console.log(`\n${n} val images (first ${perClass} per class) upscaled to ${side}x${side}, model ${name} (${model}), recipe ${JSON.stringify(pp.resize)} crop ${JSON.stringify(pp.crop)}`);
console.log(`decoded at: ${[...scales].map(([s, k]) => `1/${s} x${k}`).join(", ")}`);
console.log(`tensor |scaled - full|: mean ${(sumAbs / count).toFixed(4)} (${((sumAbs / count) * levels).toFixed(2)} levels), max ${maxAbs.toFixed(4)} (${(maxAbs * levels).toFixed(1)} levels)`);
console.log(`top-1 agreement scaled vs full: ${agree}/${n} = ${pct(agree)}; accuracy scaled ${pct(rightScaled)}, full ${pct(rightFull)}`);
