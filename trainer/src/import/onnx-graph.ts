/**
 * What `trainer import` needs to know about a foreign ONNX classifier, read from the protobuf alone:
 * its one image input (NCHW float, names as they are), its one output, the opset, and the stride (the
 * product of the strided convs and pools along the longest path) when the graph is convolutional.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType, type ModelProto, type ValueInfoProto } from "onnx-buf";
import { DataError } from "../data/errors.ts";

export type Dim = number | string;

export interface GraphSummary {
  input: { name: string; dims: Dim[] };
  output: { name: string; dims: Dim[] };
  /** The default-domain (ai.onnx) opset the graph imports. */
  opset: number;
  /** [H, W] when the graph takes one size only; null when H and W are symbolic (fully convolutional). */
  fixedSize: [number, number] | null;
  /** Total downsampling from input to the last spatial tensor, or null when no strided op was found. */
  stride: number | null;
  opTypes: string[];
  producer: string;
}

function dimsOf(v: ValueInfoProto, what: string): { elem: number; dims: Dim[] } {
  const t = v.type?.value;
  if (v.type?.value.case !== "tensorType" || !t) throw new DataError(`the graph's ${what} ${JSON.stringify(v.name)} is not a tensor: import takes an image classifier with one float tensor input`);
  const tensor = t.value as { elemType: number; shape?: { dim: { value: { case?: string; value?: unknown } }[] } };
  const dims = (tensor.shape?.dim ?? []).map((d, i): Dim => {
    if (d.value.case === "dimValue") return Number(d.value.value as bigint);
    if (d.value.case === "dimParam" && d.value.value) return String(d.value.value);
    return `${what}_dim${i}`;
  });
  return { elem: tensor.elemType, dims };
}

/** The longest-path product of spatial strides (Conv, MaxPool, AveragePool) over the graph. */
function graphStride(model: ModelProto, input: string): number | null {
  const strideOf = new Map<string, number>([[input, 1]]);
  let max = 1;
  for (const n of model.graph!.node) {
    let s = 0;
    for (const i of n.input) s = Math.max(s, strideOf.get(i) ?? 0);
    if (s === 0) continue; // not downstream of the image (weights, shapes)
    if (n.opType === "Conv" || n.opType === "MaxPool" || n.opType === "AveragePool") {
      const st = n.attribute.find((a) => a.name === "strides")?.ints.map(Number) ?? [1, 1];
      s *= Math.max(...st);
    }
    if (n.opType === "GlobalAveragePool" || n.opType === "GlobalMaxPool" || n.opType === "Flatten" || n.opType === "Gemm" || n.opType === "MatMul") continue;
    for (const o of n.output) strideOf.set(o, s);
    max = Math.max(max, s);
  }
  return max > 1 ? max : null;
}

export function readGraph(onnx: Uint8Array, source = "the model"): GraphSummary {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, onnx);
  } catch (e) {
    throw new DataError(`${source} is not an ONNX model (${(e as Error).message}): pass the .onnx file torch.onnx.export wrote`);
  }
  const g = model.graph;
  if (!g || g.node.length === 0) throw new DataError(`${source} has no graph: pass the .onnx file torch.onnx.export wrote`);
  const initializers = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    throw new DataError(`${source} has ${inputs.length} inputs (${inputs.map((i) => i.name).join(", ")}); import takes an image classifier with exactly one input [N, 3, H, W]`);
  }
  if (g.output.length !== 1) {
    throw new DataError(`${source} has ${g.output.length} outputs (${g.output.map((o) => o.name).join(", ")}); import takes one output, the logits [N, classes]: export only the logits`);
  }
  const inV = inputs[0]!;
  const input = dimsOf(inV, "input");
  if (input.elem !== TensorProto_DataType.FLOAT) {
    throw new DataError(`input ${JSON.stringify(inV.name)} is ${TensorProto_DataType[input.elem] ?? input.elem}, not float32: the worker feeds normalized float32 pixels; export the model with a float input`);
  }
  if (input.dims.length !== 4) throw new DataError(`input ${JSON.stringify(inV.name)} has shape [${input.dims}]; import takes a 4-D image tensor [N, 3, H, W]`);
  const [n, c, h, w] = input.dims as [Dim, Dim, Dim, Dim];
  if (c !== 3) {
    // NHWC (TensorFlow's layout) is refused, not transposed: the shared preprocessing makes NCHW, and a
    // Transpose in front of a foreign graph is better added where the graph is made.
    if (w === 3) throw new DataError(`input ${JSON.stringify(inV.name)} is NHWC [${input.dims}]; the worker feeds NCHW [N, 3, H, W]: re-export channels-first (tf2onnx --inputs-as-nchw ${inV.name}, or torch's default)`);
    throw new DataError(`input ${JSON.stringify(inV.name)} has shape [${input.dims}]; import takes RGB images as [N, 3, H, W]`);
  }
  if (typeof n === "number" && n !== 1) throw new DataError(`input ${JSON.stringify(inV.name)} has a fixed batch of ${n}; the worker runs one image at a time: export with batch 1 or a dynamic batch axis`);
  if (typeof h !== typeof w) throw new DataError(`input ${JSON.stringify(inV.name)} has shape [${input.dims}]: H and W must both be fixed or both symbolic (dynamic_axes {2: "height", 3: "width"})`);
  const output = dimsOf(g.output[0]!, "output");
  if (output.elem !== TensorProto_DataType.FLOAT) throw new DataError(`output ${JSON.stringify(g.output[0]!.name)} is not float32: import takes a graph whose output is the float logits [N, classes]`);
  const opset = Number(model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0n);
  return {
    input: { name: inV.name, dims: input.dims },
    output: { name: g.output[0]!.name, dims: output.dims },
    opset,
    fixedSize: typeof h === "number" && typeof w === "number" ? [h, w] : null,
    stride: graphStride(model, inV.name),
    opTypes: [...new Set(g.node.map((x) => x.opType))].sort(),
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
  };
}
