// TTA gain on val (issue 11 item 4): the served model file, shared's serving recipe with the TTA views
// (what /v1/classify?tta=1 runs), softmax averaged. Accuracy, not timing.
//
//   npx tsx bench/accuracy/tta.ts --model models/resnet18-imagenette [--data ../shared/data/imagenette] [--per-class 50] [--aspects 1:1,16:9]
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseAspect } from "../../trainer/src/calibrate/size-curve.ts";
import { ttaEval } from "../../trainer/src/calibrate/tta-eval.ts";

const { values } = parseArgs({ options: { model: { type: "string" }, data: { type: "string" }, "per-class": { type: "string" }, aspects: { type: "string" } } });
if (!values.model) {
  console.error("usage: npx tsx bench/accuracy/tta.ts --model <export folder> [--data <imagenette>] [--per-class N] [--aspects 1:1,16:9]");
  process.exit(1);
}
for (const a of (values.aspects ?? "1:1").split(",")) {
  const r = await ttaEval({ model: resolve(values.model), data: resolve(values.data ?? "../shared/data/imagenette"), perClass: Number(values["per-class"] ?? 50), aspect: parseAspect(a) });
  const base = r.accuracy.center!;
  console.log(`aspect ${a}, ${r.images} val images:`);
  for (const [set, acc] of Object.entries(r.accuracy)) {
    console.log(`  ${set.padEnd(32)} ${(acc * 100).toFixed(1)}%  (${set.split("+").length} model runs, ${((acc - base) * 100 >= 0 ? "+" : "")}${((acc - base) * 100).toFixed(1)} points)`);
  }
}
