/**
 * Calibration and agreement checks for int8 export, on real images preprocessed exactly as the edge
 * will (shared's `preprocess` with the model's serving config).
 */
import { readFile } from "node:fs/promises";
import { preprocess, type PreprocessConfig } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { scanImageFolder } from "../data/imagenette.ts";
import { quantisableTensors, RangeObserver, withCalibrationOutputs, type CalibrationMethod, type Range } from "./quantize.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";

export interface LabelledTensor {
  data: Float32Array;
  dims: number[];
  label: number;
}

/** `perClass` images of each class from `<root>/<split>/<wnid>/`, as NCHW tensors (deterministic subset). */
export async function loadImageTensors(root: string, split: "train" | "val", perClass: number, config: PreprocessConfig): Promise<LabelledTensor[]> {
  await initCodecs();
  const folder = await scanImageFolder(root, { limit: perClass, validLimit: perClass });
  const items = split === "train" ? folder.train : folder.valid;
  const out: LabelledTensor[] = [];
  for (const item of items) {
    const r = await preprocess(new Uint8Array(await readFile(item.path)), config);
    out.push({ data: r.data, dims: [...r.dims], label: item.label });
  }
  return out;
}

/** Activation ranges of the fp32 graph over the calibration tensors. */
export async function calibrationRanges(fp32: Uint8Array, inputs: LabelledTensor[], method: CalibrationMethod): Promise<Map<string, Range>> {
  const ort = await import("onnxruntime-node");
  const cal = withCalibrationOutputs(fp32);
  const session = await ort.InferenceSession.create(cal.onnx, { intraOpNumThreads: 1 });
  const names = quantisableTensors(fromBinary(ModelProtoSchema, fp32));
  const observers = new Map(names.map((n) => [n, new RangeObserver()]));
  // The graph's own input name: `input` for our exports, whatever torch chose for imported graphs.
  const inputName = session.inputNames[0]!;
  try {
    for (const x of inputs) {
      const out = await session.run({ [inputName]: new ort.Tensor("float32", x.data, x.dims) });
      for (const n of names) observers.get(n)!.observe(n === inputName ? x.data : (out[n]!.data as Float32Array));
    }
  } finally {
    await session.release();
  }
  return new Map([...observers].map(([n, o]) => [n, o.range(method)]));
}

export interface Agreement {
  images: number;
  fp32Accuracy: number;
  int8Accuracy: number;
  /** Fraction of images where int8 and fp32 pick the same top-1 class. */
  top1Agreement: number;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

export async function compareTop1(fp32: Uint8Array, int8: Uint8Array, images: LabelledTensor[]): Promise<Agreement> {
  const ort = await import("onnxruntime-node");
  const a = await ort.InferenceSession.create(fp32, { intraOpNumThreads: 1 });
  const b = await ort.InferenceSession.create(int8, { intraOpNumThreads: 1 });
  let same = 0;
  let okA = 0;
  let okB = 0;
  try {
    for (const x of images) {
      const t = new ort.Tensor("float32", x.data, x.dims);
      const pa = argmax((await a.run({ [a.inputNames[0]!]: t }))[a.outputNames[0]!]!.data as Float32Array);
      const pb = argmax((await b.run({ [b.inputNames[0]!]: t }))[b.outputNames[0]!]!.data as Float32Array);
      if (pa === pb) same++;
      if (pa === x.label) okA++;
      if (pb === x.label) okB++;
    }
  } finally {
    await a.release();
    await b.release();
  }
  const n = Math.max(1, images.length);
  return { images: images.length, fp32Accuracy: okA / n, int8Accuracy: okB / n, top1Agreement: same / n };
}
