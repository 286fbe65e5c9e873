/**
 * A small, typed writer for ONNX graphs. Messages come from `onnx-buf` (protoc-gen-es output of the
 * official onnx.proto3) and are serialised with @bufbuild/protobuf, so the bytes are standard ONNX
 * protobuf that onnxruntime and `onnx.checker` read.
 *
 * Usage: add graph inputs/outputs (symbolic dims are strings), initializers (float32 weights) and
 * nodes in topological order, then `build()` returns the model bytes.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";

export type Dim = number | string;
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** Element types we write. Int8/uint8 serve QDQ quantisation; int64 serves shape tensors. */
export type ElemType = "float32" | "int8" | "uint8" | "int32" | "int64";

const ELEM: Record<ElemType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  int8: TensorProto_DataType.INT8,
  uint8: TensorProto_DataType.UINT8,
  int32: TensorProto_DataType.INT32,
  int64: TensorProto_DataType.INT64,
};

export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int32Array) return "int32";
  return "int64";
}

function valueInfo(name: string, elem: ElemType, dims: Dim[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(TypeProto_TensorSchema, {
          elemType: ELEM[elem],
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === "string") {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(v) });
  }
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; wrap floats as { float: x }`);
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(v) });
  }
  if (Array.isArray(v)) {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: v.map((x) => BigInt(x)) });
  }
  if ("float" in v) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: v.float });
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: v.floats });
}

function tensor(name: string, dims: number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`initializer ${name}: dims [${dims}] hold ${count} values but data has ${data.length}`);
  // raw_data is little-endian bytes of the values, which is how typed arrays are laid out on every
  // platform Node and workerd run on.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return create(TensorProtoSchema, { name, dims: dims.map((d) => BigInt(d)), dataType: ELEM[elemTypeOf(data)], rawData: raw });
}

export interface BuildOptions {
  /** Default opset for the ai.onnx domain. */
  opset?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Free-form key/value metadata stored in the model (e.g. the manifest's name and version). */
  metadata?: Record<string, string>;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();

  constructor(readonly graphName: string) {}

  input(name: string, dims: Dim[], elem: ElemType = "float32"): string {
    this.inputs.push(valueInfo(name, elem, dims));
    this.claim(name);
    return name;
  }

  output(name: string, dims: Dim[], elem: ElemType = "float32"): string {
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  initializer(name: string, dims: number[], data: TensorData): string {
    this.initializers.push(tensor(name, dims, data));
    this.claim(name);
    return name;
  }

  /** Append a node; returns its output names. Inputs may be "" for omitted optional inputs. */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string[] {
    for (const o of outputs) this.claim(o);
    this.nodes.push(
      create(NodeProtoSchema, {
        opType,
        name: name ?? outputs[0] ?? opType,
        input: inputs,
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outputs;
  }

  /** A name not yet used in this graph, derived from `base`. */
  fresh(base: string): string {
    if (!this.names.has(base)) return base;
    for (let i = 1; ; i++) if (!this.names.has(`${base}_${i}`)) return `${base}_${i}`;
  }

  build(opts: BuildOptions = {}): Uint8Array {
    const opset = opts.opset ?? 19;
    const model = create(ModelProtoSchema, {
      irVersion: BigInt(irVersionFor(opset)),
      producerName: opts.producerName ?? "resnet-edge",
      producerVersion: opts.producerVersion ?? "0.1.0",
      docString: opts.docString ?? "",
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opset) })],
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
      graph: create(GraphProtoSchema, {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return toBinary(ModelProtoSchema, model);
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX graph ${this.graphName}: the name ${name} is defined twice`);
    this.names.add(name);
  }
}

/** The IR version released with each opset (onnx/docs/Versioning.md), so older runtimes accept the file. */
export function irVersionFor(opset: number): number {
  if (opset <= 12) return 7;
  if (opset <= 14) return 7;
  if (opset <= 15) return 8;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}
