import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../trainer/src/onnx/graph-builder.ts";
import { seededRandom } from "../../trainer/src/model/init.ts";
import { buildTinyFcnOnnx } from "../../trainer/src/onnx/tiny-fcn.ts";

/** Naive NCHW conv2d with symmetric padding, the textbook definition, as an independent reference. */
function conv2d(x: Float32Array, [c, h, w]: [number, number, number], wt: Float32Array, bias: Float32Array, outC: number, k: number, stride: number, pad: number) {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(outC * oh * ow);
  for (let o = 0; o < outC; o++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let s = bias[o]!;
        for (let ci = 0; ci < c; ci++)
          for (let ki = 0; ki < k; ki++)
            for (let kj = 0; kj < k; kj++) {
              const y = i * stride - pad + ki;
              const xx = j * stride - pad + kj;
              if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
              s += x[ci * h * w + y * w + xx]! * wt[((o * c + ci) * k + ki) * k + kj]!;
            }
        out[o * oh * ow + i * ow + j] = s;
      }
  return { out, dims: [outC, oh, ow] };
}

describe("ONNX graph writer", () => {
  it("writes a conv graph that onnxruntime runs with the textbook result at odd and even sizes", async () => {
    const rand = seededRandom(7);
    const wt = new Float32Array(4 * 3 * 3 * 3).map(() => rand() - 0.5);
    const bias = new Float32Array(4).map(() => rand() - 0.5);
    const g = new GraphBuilder("conv_only");
    g.input("input", ["N", 3, "H", "W"]);
    g.initializer("w", [4, 3, 3, 3], wt);
    g.initializer("b", [4], bias);
    g.node("Conv", ["input", "w", "b"], ["out"], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    g.output("out", ["N", 4, "H2", "W2"]);
    const session = await ort.InferenceSession.create(g.build());
    for (const [h, w] of [[9, 7], [8, 10], [1, 1]] as const) {
      const x = new Float32Array(3 * h * w).map(() => rand() * 2 - 1);
      const res = await session.run({ input: new ort.Tensor("float32", x, [1, 3, h, w]) });
      const ref = conv2d(x, [3, h, w], wt, bias, 4, 3, 2, 1);
      expect(res.out!.dims).toEqual([1, ...ref.dims]);
      const got = res.out!.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - ref.out[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });

  it("refuses a name defined twice and a data/dims mismatch", () => {
    const g = new GraphBuilder("bad");
    g.input("x", [1]);
    expect(() => g.initializer("x", [1], new Float32Array(1))).toThrow(/defined twice/);
    expect(() => g.initializer("y", [2, 2], new Float32Array(3))).toThrow(/hold 4 values but data has 3/);
  });

  it("tiny fcn fixture takes any input size and is deterministic", async () => {
    const bytes = buildTinyFcnOnnx({ classes: 10 });
    expect(buildTinyFcnOnnx({ classes: 10 })).toEqual(bytes);
    expect(buildTinyFcnOnnx({ classes: 10, seed: 99 })).not.toEqual(bytes);
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(["input"]);
    expect(session.outputNames).toEqual(["logits"]);
    const rand = seededRandom(3);
    const seen: number[][] = [];
    for (const [h, w] of [[97, 203], [32, 32], [5, 3]] as const) {
      const x = new Float32Array(2 * 3 * h * w).map(() => rand() * 2 - 1);
      const res = await session.run({ input: new ort.Tensor("float32", x, [2, 3, h, w]) });
      expect(res.logits!.dims).toEqual([2, 10]);
      const logits = Array.from(res.logits!.data as Float32Array);
      expect(logits.every(Number.isFinite)).toBe(true);
      seen.push(logits);
    }
    // Different inputs give different logits (the weights are not degenerate).
    expect(seen[0]).not.toEqual(seen[1]);
  });
});
