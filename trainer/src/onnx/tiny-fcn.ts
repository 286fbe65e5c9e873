/**
 * A small, deterministic, fully convolutional classifier written straight to ONNX. Tests and the
 * local dev server use it until a trained model is published: it has the same interface as the
 * trainer's exports (input `input` [N,3,H,W] with symbolic N/H/W, output `logits` [N,classes]) and
 * the same shape family (stride-2 convs, global average pool, linear head), so it takes any image size.
 */
import { seededRandom } from "../model/init.ts";
import { GraphBuilder } from "./graph-builder.ts";

export interface TinyFcnOptions {
  classes?: number;
  /** Channel widths of the stride-2 conv stages. */
  widths?: number[];
  seed?: number;
  opset?: number;
  /** Fixed [H, W] for the input (a fixed-size classifier, as imported graphs may be); default symbolic. */
  spatial?: [number, number];
}

function heUniform(rand: () => number, count: number, fanIn: number): Float32Array {
  const bound = Math.sqrt(6 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rand() * 2 - 1) * bound;
  return out;
}

export function buildTinyFcnOnnx(opts: TinyFcnOptions = {}): Uint8Array {
  const classes = opts.classes ?? 10;
  const widths = opts.widths ?? [8, 16, 32];
  const rand = seededRandom(opts.seed ?? 1234);
  const g = new GraphBuilder("tiny_fcn");
  let x = g.input("input", ["N", 3, ...(opts.spatial ?? ["H", "W"])]);
  let inC = 3;
  widths.forEach((outC, i) => {
    const w = g.initializer(`body.${i}.conv.weight`, [outC, inC, 3, 3], heUniform(rand, outC * inC * 9, inC * 9));
    const b = g.initializer(`body.${i}.conv.bias`, [outC], heUniform(rand, outC, inC * 9).map((v) => v * 0.1));
    const [c] = g.node("Conv", [x, w, b], [`body.${i}.conv`], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    x = g.node("Relu", [c!], [`body.${i}.relu`])[0]!;
    inC = outC;
  });
  const [pooled] = g.node("GlobalAveragePool", [x], ["head.pool"]);
  const [flat] = g.node("Flatten", [pooled!], ["head.flatten"], { axis: 1 });
  const w = g.initializer("head.linear.weight", [classes, inC], heUniform(rand, classes * inC, inC));
  const b = g.initializer("head.linear.bias", [classes], new Float32Array(classes).map(() => (rand() - 0.5) * 0.2));
  g.node("Gemm", [flat!, w, b], ["logits"], { transB: 1 }, "head.linear");
  g.output("logits", ["N", classes]);
  return g.build({ opset: opts.opset ?? 19, docString: "resnet-edge tiny fully convolutional fixture" });
}
