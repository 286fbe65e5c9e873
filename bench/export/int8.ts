// fp32 vs int8: file size, accuracy on the full Imagenette val split, top-1 agreement, and
// onnxruntime-node latency, for one exported model folder (manifest.json with an int8 variant).
//
//   npx tsx bench/export/int8.ts --model <dir written by trainer export --int8> [--data ../shared/data/imagenette] [--limit N]
//
// Images go through shared's preprocess with the manifest's own config, exactly as served.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { preprocess, validateManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";

const { values } = parseArgs({
  options: { model: { type: "string" }, data: { type: "string" }, limit: { type: "string" }, threads: { type: "string" } },
});
if (!values.model) {
  console.error("usage: npx tsx bench/export/int8.ts --model <exported dir> [--data <imagenette dir>] [--limit N per class]");
  process.exit(1);
}
const dir = resolve(values.model);
const data = resolve(values.data ?? "../shared/data/imagenette");
const manifest = validateManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
const int8File = manifest.variants?.int8;
if (!int8File) {
  console.error(`${dir}/manifest.json has no int8 variant: export with --int8`);
  process.exit(1);
}
const threads = Number(values.threads ?? 1);
await initCodecs();
const split = await scanImageFolder(data, values.limit ? { limit: Number(values.limit), validLimit: Number(values.limit) } : {});
const wnids = manifest.classes.map((c) => c.wnid);
if (split.classes.join() !== wnids.join()) throw new Error(`dataset classes ${split.classes} differ from the model's ${wnids}`);

const sessions = {
  fp32: await ort.InferenceSession.create(join(dir, manifest.model.file), { intraOpNumThreads: threads }),
  int8: await ort.InferenceSession.create(join(dir, int8File.file), { intraOpNumThreads: threads }),
};
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);
const correct = { fp32: 0, int8: 0 };
const ms = { fp32: [] as number[], int8: [] as number[] };
let agree = 0;
for (const [i, item] of split.valid.entries()) {
  const x = await preprocess(new Uint8Array(await readFile(item.path)), manifest.preprocess);
  const t = new ort.Tensor("float32", x.data, [...x.dims]);
  const pred: Record<string, number> = {};
  for (const k of ["fp32", "int8"] as const) {
    const t0 = performance.now();
    const out = await sessions[k].run({ input: t });
    ms[k].push(performance.now() - t0);
    pred[k] = argmax(out.logits!.data as Float32Array);
    if (pred[k] === item.label) correct[k]++;
  }
  if (pred.fp32 === pred.int8) agree++;
  if ((i + 1) % 500 === 0) console.error(`  ${i + 1}/${split.valid.length}`);
}
const n = split.valid.length;
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))]!;
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
console.log(`model ${manifest.name}@${manifest.version} (${manifest.architecture.name}), ${n} val images, input ${JSON.stringify(manifest.preprocess.resize)} crop ${JSON.stringify(manifest.preprocess.crop)}, onnxruntime-node ${threads} thread(s)`);
console.log("| file | bytes | val accuracy | latency median ms | p95 ms |");
console.log("|---|---|---|---|---|");
console.log(`| ${manifest.model.file} (fp32) | ${manifest.model.bytes.toLocaleString("en")} | ${pct(correct.fp32 / n)} | ${q(ms.fp32, 0.5).toFixed(2)} | ${q(ms.fp32, 0.95).toFixed(2)} |`);
console.log(`| ${int8File.file} (int8) | ${int8File.bytes.toLocaleString("en")} | ${pct(correct.int8 / n)} | ${q(ms.int8, 0.5).toFixed(2)} | ${q(ms.int8, 0.95).toFixed(2)} |`);
console.log(`size ratio ${(manifest.model.bytes / int8File.bytes).toFixed(2)}x; accuracy drop ${((correct.fp32 - correct.int8) / n * 100).toFixed(2)} pp; top-1 agreement ${pct(agree / n)}`);
