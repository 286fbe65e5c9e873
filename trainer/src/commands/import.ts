import { defineCommand, UsageError } from "./flags.ts";

export default defineCommand({
  summary:
    "a foreign ONNX classifier -> model.onnx + manifest.json: trainer import --onnx model.onnx --classes classes.txt|classes.json --out models/<name> [--int8 --calibration <images>]",
  flags: {
    onnx: { kind: "string", value: "FILE", help: "the .onnx file (one NCHW float input [N, 3, H, W], one output [N, classes]; e.g. torch.onnx.export)" },
    classes: { kind: "string", value: "FILE", help: "class labels in output order: classes.txt (one per line) or classes.json" },
    out: { kind: "string", value: "DIR", help: "folder for model.onnx, model.int8.onnx and manifest.json" },
    name: { kind: "string", value: "NAME", help: "model name in the manifest (default: the --out folder's name)" },
    version: { kind: "string", value: "V", help: "model version in the manifest (default: a timestamp)" },
    preprocess: { kind: "string", value: "imagenet|JSON", help: "serving preprocessing: imagenet (default) or a PreprocessConfig as JSON text or a .json file" },
    int8: { kind: "switch", help: "also write model.int8.onnx (static QDQ int8, calibrated on --calibration)" },
    calibration: { kind: "string", value: "DIR", help: "folder of JPEG/PNG images (searched recursively) for int8 calibration and the agreement check" },
    calibrationImages: { kind: "int", min: 1, max: 10000, value: "N", help: "images to calibrate on (default 64); the others measure int8/fp32 agreement" },
    agreementImages: { kind: "int", min: 1, max: 100000, value: "N", help: "images for the int8/fp32 agreement check (default 200)" },
  },
  async run({ values }, io) {
    const { onnx, classes, out } = values;
    if (!onnx || !classes || !out) throw new UsageError("trainer import needs --onnx <model.onnx>, --classes <classes.txt|classes.json> and --out <folder>");
    const { importModel } = await import("../import/import-model.ts");
    const res = await importModel({
      onnx,
      classes,
      out,
      ...(values.name ? { name: values.name } : {}),
      ...(values.version ? { version: values.version } : {}),
      ...(values.preprocess ? { preprocess: values.preprocess } : {}),
      int8: values.int8 === true,
      ...(values.calibration ? { calibration: values.calibration } : {}),
      ...(values.calibrationImages ? { calibrationImages: values.calibrationImages } : {}),
      ...(values.agreementImages ? { agreementImages: values.agreementImages } : {}),
      log: io.log,
    });
    io.write(`imported ${res.manifest.name}@${res.manifest.version}: ${res.files.join(", ")}`);
  },
});
