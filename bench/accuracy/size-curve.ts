// Accuracy as served against input size, before and after stride alignment (issue 11): the model file the
// worker serves, val images through shared's serving recipe, short sides x aspect crops. Accuracy, not
// timing: it can run on a loaded machine.
//
//   npx tsx bench/accuracy/size-curve.ts --model models/resnet18-imagenette [--data ../shared/data/imagenette] \
//       [--per-class 30] [--sizes 56,64,...] [--aspects 9:16,3:4,1:1,4:3,16:9] [--servings unaligned,served,photo] [--threads N] [--json out.json]
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_ASPECTS, DEFAULT_SHORT_SIDES, formatCurve, parseAspect, sizeCurve } from "../../trainer/src/calibrate/size-curve.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    data: { type: "string" },
    "per-class": { type: "string" },
    sizes: { type: "string" },
    aspects: { type: "string" },
    json: { type: "string" },
    threads: { type: "string" },
    servings: { type: "string" },
  },
});
if (!values.model) {
  console.error("usage: npx tsx bench/accuracy/size-curve.ts --model <export folder> [--data <imagenette>] [--per-class N] [--sizes 56,64] [--aspects 3:4,16:9] [--servings unaligned,served,photo] [--threads N] [--json file]");
  process.exit(1);
}
const perClass = Number(values["per-class"] ?? 30);
const t0 = Date.now();
const r = await sizeCurve({
  model: resolve(values.model),
  data: resolve(values.data ?? "../shared/data/imagenette"),
  perClass,
  shortSides: values.sizes ? values.sizes.split(",").map(Number) : DEFAULT_SHORT_SIDES,
  aspects: (values.aspects ? values.aspects.split(",") : DEFAULT_ASPECTS).map(parseAspect),
  servings: (values.servings ?? "unaligned,served").split(",") as ("unaligned" | "served" | "photo")[],
  threads: Number(values.threads ?? 1),
  onProgress: (done, total) => {
    if (done % 50 === 0 || done === total) process.stderr.write(`${done}/${total} images (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  },
});
console.log(`${r.manifest.name} ${r.manifest.version} (${r.file}), stride ${r.manifest.stride ?? "none"}, ${r.images} val images, ${new Date().toISOString()}\n`);
for (const c of r.curves) {
  const titles = {
    served: "after: both sides rounded to the stride (as served now)",
    unaligned: "before: aspect kept, no rounding (the worker before issue 11)",
    photo: `photos of short side S served at size=default (${r.manifest.preprocess.resize.sizeByAspect ? r.manifest.preprocess.resize.sizeByAspect.map((e) => `${e.size}`).join("/") + " px by aspect" : `${r.manifest.preprocess.resize.size} px`})`,
  };
  console.log(formatCurve(c.calibration, titles[c.serving]));
  const best = Math.max(...c.calibration.points.flatMap((p) => p.top1));
  const inRange = c.calibration.points.filter((p) => p.shortSide >= 56 && p.shortSide <= 128);
  const worst = Math.min(...inRange.flatMap((p) => p.top1));
  console.log(`best cell ${(best * 100).toFixed(1)}%, worst cell at short sides 56..128 ${(worst * 100).toFixed(1)}% (gap ${((best - worst) * 100).toFixed(1)} points)\n`);
}
if (values.json) await writeFile(values.json, `${JSON.stringify(r.curves, null, 2)}\n`);
