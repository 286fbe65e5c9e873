/**
 * int8 for an imported graph, with the exporter's quantizer (export/quantize.ts: per-channel int8
 * weights, calibrated uint8 activations, QDQ laid out for onnxruntime's QLinear fusions). What a
 * foreign graph needs first:
 *   - BatchNormalization after a Conv is folded into the Conv's weights and bias. torch.onnx.export folds
 *     it in eval mode already; graphs exported without that fold would otherwise get Q/DQ between Conv and
 *     BatchNormalization, which no runtime fuses.
 *   - Names as they are: the graph's own input and output names (calibrate.ts reads them from the session).
 * Conv, Add, MaxPool, GlobalAveragePool/Flatten run int8; the Gemm/MatMul head and the convs reading the
 * image stay float32, as for our own models.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProtoSchema, TensorProto_DataType, type NodeProto, type TensorProto } from "onnx-buf";
import { calibrationRanges } from "../export/calibrate.ts";
import { quantizeQdq } from "../export/quantize.ts";

/** int8 vs fp32 on images without labels. */
export interface ForeignAgreement {
  images: number;
  /** Fraction of images where int8 and fp32 pick the same top-1 class. */
  top1Agreement: number;
  /** How many different classes fp32 picked: agreement means little when it always picks one. */
  distinctFp32Top1: number;
  /** Mean over images of |int8 - fp32| / |fp32| (L2 norms of the logit vectors). */
  meanRelativeError: number;
}

export interface ForeignInt8Result {
  onnx: Uint8Array;
  agreement: ForeignAgreement;
  calibrationImages: number;
  /** Convs kept in float32 (those reading the image). */
  floatNodes: string[];
  /** BatchNormalization nodes folded into the Conv before them. */
  batchNormFolded: number;
}

function floats(t: TensorProto): Float32Array {
  if (t.dataType !== TensorProto_DataType.FLOAT) throw new Error(`initializer ${t.name} is not float32`);
  if (t.rawData.byteLength > 0) return new Float32Array(t.rawData.buffer.slice(t.rawData.byteOffset, t.rawData.byteOffset + t.rawData.byteLength));
  return Float32Array.from(t.floatData);
}

function floatInit(name: string, dims: bigint[], data: Float32Array<ArrayBuffer>): TensorProto {
  return create(TensorProtoSchema, { name, dims, dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

/** Fold every Conv -> BatchNormalization pair (the Conv's output used only by the BN) into one Conv. */
export function foldBatchNorm(onnx: Uint8Array): { onnx: Uint8Array; folded: number } {
  const model = fromBinary(ModelProtoSchema, onnx);
  const g = model.graph!;
  // The quantizer refers to nodes by name (which convs stay float); give unnamed ones a unique name.
  let named = 0;
  g.node.forEach((n, i) => {
    if (!n.name) {
      n.name = `${n.opType}_${i}.imported`;
      named++;
    }
  });
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  // torch shares identical initializers (e.g. the all-zero conv biases of a randomly initialised net)
  // through Identity nodes, and the quantizer rewrites each conv's weight and bias in place: give every
  // Conv its own copy, read directly.
  let changed = named > 0;
  const identity = new Map<string, string>();
  g.node = g.node.filter((n) => {
    if (n.opType === "Identity" && inits.has(n.input[0]!)) {
      identity.set(n.output[0]!, n.input[0]!);
      changed = true;
      return false;
    }
    return true;
  });
  const claimed = new Set<string>();
  for (const n of g.node) {
    n.input = n.input.map((i) => identity.get(i) ?? i);
    if (n.opType !== "Conv") continue;
    n.input = n.input.map((i, k) => {
      const t = inits.get(i);
      if (k === 0 || !t) return i;
      if (!claimed.has(i)) {
        claimed.add(i);
        return i;
      }
      const copy = create(TensorProtoSchema, { ...t, name: `${i}.${n.name}` });
      inits.set(copy.name, copy);
      changed = true;
      return copy.name;
    });
  }
  if (identity.size > 0) {
    // Graph outputs produced by a removed Identity: not in a classifier's graph, but keep it valid.
    for (const o of g.output) if (identity.has(o.name)) throw new Error(`graph output ${o.name} is an Identity of an initializer; this is not a classifier`);
  }
  const uses = new Map<string, number>();
  for (const n of g.node) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.output) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) producer.set(o, n);
  const drop = new Set<NodeProto>();
  let folded = 0;
  for (const bn of g.node) {
    if (bn.opType !== "BatchNormalization" || bn.output.length !== 1) continue;
    const conv = producer.get(bn.input[0]!);
    if (!conv || conv.opType !== "Conv" || uses.get(conv.output[0]!) !== 1) continue;
    const [, scaleN, biasN, meanN, varN] = bn.input;
    const w = inits.get(conv.input[1]!);
    const params = [scaleN, biasN, meanN, varN].map((n) => inits.get(n!));
    if (!w || params.some((p) => !p)) continue;
    const [gamma, beta, mean, variance] = params.map((p) => floats(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = bn.attribute.find((a) => a.name === "epsilon")?.f ?? 1e-5;
    const wf = floats(w);
    const outC = Number(w.dims[0]);
    const per = wf.length / outC;
    const oldBias = conv.input[2] ? floats(inits.get(conv.input[2])!) : new Float32Array(outC);
    const newW = new Float32Array(wf.length);
    const newB = new Float32Array(outC);
    for (let o = 0; o < outC; o++) {
      const k = gamma[o]! / Math.sqrt(variance[o]! + eps);
      for (let j = 0; j < per; j++) newW[o * per + j] = wf[o * per + j]! * k;
      newB[o] = (oldBias[o]! - mean[o]!) * k + beta[o]!;
    }
    const wName = `${conv.input[1]}.bnfolded`;
    const bName = `${conv.output[0]}.bnfolded_bias`;
    inits.set(wName, floatInit(wName, w.dims, newW));
    inits.set(bName, floatInit(bName, [BigInt(outC)], newB));
    conv.input = [conv.input[0]!, wName, bName];
    conv.output = [bn.output[0]!];
    drop.add(bn);
    folded++;
  }
  if (folded === 0 && !changed) return { onnx, folded };
  g.node = g.node.filter((n) => !drop.has(n));
  // Keep only initializers something still reads.
  const read = new Set(g.node.flatMap((n) => n.input));
  g.initializer = [...inits.values()].filter((t) => read.has(t.name));
  g.input = g.input.filter((i) => !inits.has(i.name) || read.has(i.name));
  return { onnx: toBinary(ModelProtoSchema, model), folded };
}

export async function quantizeForeign(
  fp32: Uint8Array,
  calibration: { data: Float32Array; dims: number[] }[],
  agreementSet: { data: Float32Array; dims: number[] }[],
): Promise<ForeignInt8Result> {
  const { onnx: prepared, folded } = foldBatchNorm(fp32);
  const ranges = await calibrationRanges(prepared, calibration.map((x) => ({ ...x, label: -1 })), "minmax");
  const int8 = quantizeQdq(prepared, ranges);
  const model = fromBinary(ModelProtoSchema, prepared);
  const inputName = model.graph!.input.find((i) => !model.graph!.initializer.some((t) => t.name === i.name))!.name;
  const floatNodes = model.graph!.node.filter((n) => n.opType === "Conv" && n.input[0] === inputName).map((n) => n.name);
  const agreement = await compareLogits(fp32, int8, agreementSet.length > 0 ? agreementSet : calibration);
  return { onnx: int8, agreement, calibrationImages: calibration.length, floatNodes, batchNormFolded: folded };
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

export async function compareLogits(fp32: Uint8Array, int8: Uint8Array, images: { data: Float32Array; dims: number[] }[]): Promise<ForeignAgreement> {
  const ort = await import("onnxruntime-node");
  const a = await ort.InferenceSession.create(fp32, { intraOpNumThreads: 1 });
  const b = await ort.InferenceSession.create(int8, { intraOpNumThreads: 1 });
  let same = 0;
  let rel = 0;
  const classes = new Set<number>();
  try {
    for (const x of images) {
      const t = new ort.Tensor("float32", x.data, x.dims);
      const la = (await a.run({ [a.inputNames[0]!]: t }))[a.outputNames[0]!]!.data as Float32Array;
      const lb = (await b.run({ [b.inputNames[0]!]: t }))[b.outputNames[0]!]!.data as Float32Array;
      const pa = argmax(la);
      classes.add(pa);
      if (pa === argmax(lb)) same++;
      let num = 0;
      let den = 0;
      for (let i = 0; i < la.length; i++) {
        num += (la[i]! - lb[i]!) ** 2;
        den += la[i]! ** 2;
      }
      rel += Math.sqrt(num / Math.max(den, 1e-30));
    }
  } finally {
    await a.release();
    await b.release();
  }
  const n = Math.max(1, images.length);
  return { images: images.length, top1Agreement: same / n, distinctFp32Top1: classes.size, meanRelativeError: rel / n };
}
