import { BACKENDS } from "../config.ts";
import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary: "checkpoint -> model.onnx + manifest.json: trainer export --checkpoint runs/<name> --out models/<name> [--int8]",
  flags: {
    checkpoint: { kind: "string", value: "RUN", help: "run folder or checkpoint.bin to export" },
    out: { kind: "string", value: "DIR", help: "folder for model.onnx, model.int8.onnx and manifest.json" },
    name: { kind: "string", value: "NAME", help: "model name in the manifest (default: the run folder's name)" },
    version: { kind: "string", value: "V", help: "model version in the manifest (default: a timestamp)" },
    opset: { kind: "int", min: 17, max: 23, value: "N", help: "ONNX opset (default 19)" },
    int8: { kind: "switch", help: "also write model.int8.onnx (static int8, calibrated on training images)" },
    int8Only: { kind: "switch", help: "write the int8 model as the manifest's model, no fp32 file (small enough for git)" },
    calibrationData: { kind: "string", value: "DIR", help: "Imagenette-layout folder for int8 calibration (default: the checkpoint's --data)" },
    calibrationPerClass: { kind: "int", min: 1, max: 1000, value: "N", help: "calibration images per class (default 30)" },
    agreementPerClass: { kind: "int", min: 1, max: 100000, value: "N", help: "validation images per class for the fp32/int8 agreement check (default 20)" },
    calibration: { kind: "choice", choices: ["minmax", "percentile"], help: "int8 activation ranges (default minmax)" },
    backend: { kind: "choice", choices: BACKENDS, help: "compute backend for the tfjs side (default auto)" },
  },
  async run({ values }, io) {
    const { checkpoint, out } = values;
    if (!checkpoint || !out) throw new UsageError("trainer export needs --checkpoint <run folder or checkpoint.bin> and --out <folder>");
    const { initBackend } = await import("../backend/init-backend.ts");
    await initBackend(values.backend ?? "auto", { log: io.log });
    const { exportRun } = await import("../export/export-run.ts");
    const res = await exportRun({
      checkpoint,
      out,
      ...(values.name ? { name: values.name } : {}),
      ...(values.version ? { version: values.version } : {}),
      ...(values.opset ? { opset: values.opset } : {}),
      int8: values.int8 === true,
      int8Only: values.int8Only === true,
      ...(values.agreementPerClass ? { agreementPerClass: values.agreementPerClass } : {}),
      ...(values.calibrationData ? { calibrationData: values.calibrationData } : {}),
      ...(values.calibrationPerClass ? { calibrationPerClass: values.calibrationPerClass } : {}),
      ...(values.calibration ? { calibration: values.calibration } : {}),
      log: io.log,
    });
    io.write(`exported ${res.manifest.name}@${res.manifest.version}: ${res.files.join(", ")}`);
  },
});
