import { ConfigError } from "@resnet-edge/shared/errors";
import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "accuracy as served vs input size; writes the best serving size (and each aspect's) into the manifest: trainer calibrate --model models/<name> --data <dir>",
  flags: {
    model: { kind: "string", value: "DIR", help: "the export folder (manifest.json + ONNX); the int8 file is measured when there is one" },
    data: { kind: "string", value: "DIR", help: "dataset with val/<wnid>/ (default: the one the manifest was trained on)" },
    perClass: { kind: "int", min: 1, max: 100000, value: "N", help: "val images per class (default 50)" },
    sizes: { kind: "string", value: "LIST", help: "short sides, e.g. 56,64,72,80,88,96,112,128,160 (the default)" },
    aspects: { kind: "string", value: "LIST", help: "width:height crops, e.g. 9:16,3:4,1:1,4:3,16:9 (the default)" },
    plot: { kind: "string", value: "FILE", help: "PNG of the curve (default <model>/size-curve.png)" },
    threads: { kind: "int", min: 1, max: 64, value: "N", help: "onnxruntime threads (default 1)" },
    dryRun: { kind: "switch", help: "print the curve, leave manifest.json as it is" },
    oneSize: { kind: "switch", help: "serve every aspect at the one best-mean size (default: each measured aspect at its own best size, resize.sizeByAspect)" },
  },
  async run({ values }, io) {
    if (!values.model) throw new UsageError("trainer calibrate needs --model <folder written by trainer export>");
    const sizes = values.sizes?.split(",").map((x) => Number(x));
    if (sizes && sizes.some((x) => !Number.isInteger(x) || x < 8 || x > 1024)) {
      throw new ConfigError("--sizes", `expects short sides 8..1024 separated by commas, e.g. 56,64,96, got ${JSON.stringify(values.sizes)}`);
    }
    const { runCalibrate } = await import("../calibrate/run-calibrate.ts");
    const { parseAspect } = await import("../calibrate/size-curve.ts");
    await runCalibrate({
      model: values.model,
      perClass: values.perClass ?? 50,
      threads: values.threads ?? 1,
      ...(values.data ? { data: values.data } : {}),
      ...(sizes ? { shortSides: sizes } : {}),
      ...(values.aspects ? { aspects: values.aspects.split(",").map(parseAspect) } : {}),
      ...(values.plot ? { plot: values.plot } : {}),
      dryRun: values.dryRun === true,
      oneSize: values.oneSize === true,
      io,
    });
  },
});
