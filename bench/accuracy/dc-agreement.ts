// Does the DC-only decoder change what the shipped model answers? Val images upscaled to ~12 MP and saved as
// progressive 4:2:0 JPEGs (sharp, quality 90: the case whose chroma the DC-only decoder approximates), each
// classified twice through shared's serving preprocess at size=default (decoded at 1/8) with the shipped int8
// model on onnxruntime-node: once from libjpeg-turbo's 1/8 decode (the path before), once from the DC-only
// decoder (the path now). Reports top-1 agreement, each path's accuracy, and the largest logit difference.
// An accuracy check, not a timing: fine on a busy machine (~2 s per image on 2 cores).
//   npx tsx bench/accuracy/dc-agreement.ts [--per-class 10] [--data ../shared/data/imagenette] [--subsampling 4:2:0]
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { preprocess, preprocessImage, servingConfig, validateManifest } from "../../shared/src/index.ts";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { decodeWithLibjpeg } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { repoRoot } from "../../test/helpers/data.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";

const { values } = parseArgs({ options: { "per-class": { type: "string" }, data: { type: "string" }, subsampling: { type: "string" }, pixels: { type: "string" } } });
const perClass = Number(values["per-class"] ?? 10);
const data = resolve(values.data ?? join(repoRoot, "../shared/data/imagenette"));
const subsampling = (values.subsampling ?? "4:2:0") as "4:2:0" | "4:4:4";
const target = Number(values.pixels ?? 12e6);

await initCodecs();
const dir = join(repoRoot, "models/resnet18-imagenette");
const manifest = validateManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
const file = manifest.variants?.int8?.file ?? manifest.model.file;
const session = await ort.InferenceSession.create(join(dir, file), { intraOpNumThreads: 1 });
const split = await scanImageFolder(data, { limit: 1, validLimit: perClass });
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);
const logits = async (x: { data: Float32Array; dims: readonly number[] }) => (await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", x.data, [...x.dims]) }))[session.outputNames[0]!]!.data as Float32Array;

let agree = 0;
let correctBefore = 0;
let correctNow = 0;
let maxLogitDiff = 0;
const disagreements: string[] = [];
for (const [i, item] of split.valid.entries()) {
  const meta = await sharp(item.path).metadata();
  const scale = Math.sqrt(target / (meta.width! * meta.height!));
  const width = Math.round(meta.width! * scale);
  const height = Math.round(meta.height! * scale);
  const bytes = new Uint8Array(await sharp(item.path).resize(width, height, { fit: "fill" }).jpeg({ quality: 90, progressive: true, chromaSubsampling: subsampling }).toBuffer());
  const config = servingConfig(manifest, { size: "default", image: { width, height }, maxTensorPixels: 76_800 });
  const now = await preprocess(bytes, config);
  if (now.source.scale !== 8) throw new Error(`${item.path}: decoded at 1/${now.source.scale}, not 1/8`);
  const old = decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom: 8, channels: 4, maxScans: 500, memoryLimit: 256 << 20 }).image;
  const before = preprocessImage(old, config, {}, { width, height });
  const [a, b] = [await logits(before), await logits(now)];
  for (let k = 0; k < a.length; k++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(a[k]! - b[k]!));
  const [pa, pb] = [argmax(a), argmax(b)];
  if (pa === pb) agree++;
  else disagreements.push(`${item.path}: libjpeg ${manifest.classes[pa]!.wnid}, DC-only ${manifest.classes[pb]!.wnid}, label ${split.classes[item.label]}`);
  if (pa === item.label) correctBefore++;
  if (pb === item.label) correctNow++;
  if ((i + 1) % 20 === 0) console.error(`  ${i + 1}/${split.valid.length}`);
}
const n = split.valid.length;
const pct = (v: number) => `${((100 * v) / n).toFixed(1)}%`;
console.log(`${manifest.name}@${manifest.version} (${file}), ${n} val images upscaled to ~${(target / 1e6).toFixed(0)} MP, progressive ${subsampling} q90, size=default (decoded at 1/8)`);
console.log(`top-1 agreement libjpeg vs DC-only: ${agree}/${n} (${pct(agree)}); accuracy libjpeg ${pct(correctBefore)}, DC-only ${pct(correctNow)}; max |logit difference| ${maxLogitDiff.toFixed(4)}`);
for (const d of disagreements) console.log(`  differs: ${d}`);
