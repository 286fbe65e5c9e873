import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { poolStats } from "../../trainer/src/backend/simd-kernels.ts";
import { bnSplitPolicy } from "../../trainer/src/backend/batch-norm-kernels.ts";
import { setFilterGradientStrategy, splitPolicy, winograd43Pays } from "../../trainer/src/backend/wasm-kernels.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { Adam } from "../../trainer/src/learner/optimizer.ts";
import { setFusedAdam } from "../../trainer/src/backend/fused-kernels.ts";
import { BN_SHAPES, checkBatchNormKernels, checkInferenceBatchNorm } from "./batch-norm-kernels-cases.ts";

// Our SIMD kernels split across worker threads on the threaded build's shared memory (its own file:
// the wasm backend is created once per process, this one with 2 threads), against the cpu backend.

beforeAll(async () => {
  await ensureGradients();
  await initBackend("cpu");
  const lines: string[] = [];
  await initBackend("wasm", { threads: 2, log: (l) => lines.push(l) });
  expect(lines.at(-1)).toBe("backend: wasm (2 threads)");
  splitPolicy.minMacsPerThread = 0; // split even these small shapes
  splitPolicy.minPoolElementsPerThread = 0;
  bnSplitPolicy.minElementsPerThread = 0;
});

function values(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", seed).dataSync() as Float32Array);
}

async function grads(backend: string, xShape: [number, number, number, number], k: number, co: number, stride: number, pad: "same" | "valid" | number) {
  await tf.setBackend(backend);
  const wShape: [number, number, number, number] = [k, k, xShape[3], co];
  return tf.tidy(() => {
    const x = tf.tensor4d(values(xShape, 3), xShape);
    const w = tf.tensor4d(values(wShape, 4), wShape);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
    const y = f(x, w);
    const r = tf.reshape(tf.sin(tf.range(0, y.size)), y.shape); // fixed, non-uniform upstream gradient
    return [...tf.grads((a, b) => tf.sum(tf.mul(f(a, b), r)))([x, w]), y].map((t) => t.dataSync() as Float32Array);
  });
}

const CASES: Array<{ x: [number, number, number, number]; k: number; co: number; stride: number; pad: "same" | "valid" | number }> = [
  { x: [2, 9, 9, 6], k: 3, co: 11, stride: 2, pad: 1 }, // shares of 8 and 3 output channels
  { x: [2, 9, 11, 12], k: 3, co: 20, stride: 1, pad: 1 },
  { x: [3, 10, 10, 8], k: 3, co: 24, stride: 1, pad: "same" },
  { x: [1, 7, 7, 5], k: 1, co: 4, stride: 1, pad: "valid" }, // one tile: not split
  { x: [4, 16, 16, 16], k: 3, co: 64, stride: 2, pad: 1 },
  { x: [2, 8, 8, 12], k: 3, co: 20, stride: 1, pad: 1 }, // an 8x8 map: Winograd F(4x4, 3x3), its tiles split
];

describe("SIMD forward convolution and filter gradient on 2 threads vs the cpu backend", () => {
  for (const c of CASES) {
    for (const strategy of ["simd", "simd-kernel", "simd-strided"] as const) it(`${strategy}: x ${c.x.join("x")}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride}, pad ${c.pad}`, async () => {
      const cpu = await grads("cpu", c.x, c.k, c.co, c.stride, c.pad);
      setFilterGradientStrategy(strategy);
      const before = poolStats.splitCalls;
      const wasm = await grads("wasm", c.x, c.k, c.co, c.stride, c.pad);
      ["dx", "dw", "y"].forEach((what, k) => {
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < cpu[k]!.length; i++) {
          diff = Math.max(diff, Math.abs(cpu[k]![i]! - wasm[k]![i]!));
          scale = Math.max(scale, Math.abs(cpu[k]![i]!));
        }
        // F(4x4, 3x3) (8x8 and larger maps, 3x3 stride 1) rounds more: 2e-4 of the largest value for y and dx
        const f43 = c.k === 3 && c.stride === 1 && winograd43Pays(c.x[1], c.x[2]) && what !== "dw";
        expect(diff, what).toBeLessThan((f43 ? 2e-4 : 1e-5) * Math.max(1, scale));
      });
      // with more than 8 output channels the filter gradient and the forward convolution are split (a
      // 3x3 stride-1 one as Winograd: its filter transform by channels, its tiles by rows)
      if (c.co > 8) expect(poolStats.splitCalls - before, "calls split across the 2 threads").toBeGreaterThanOrEqual(c.k === 3 && c.stride === 1 ? 3 : 2);
      else expect(poolStats.splitCalls - before).toBeLessThanOrEqual(1); // only dx's convolution (Ci channels) may be
    });
  }
});

describe("fused BatchNorm kernels on 2 threads vs tfjs ops on the cpu backend", () => {
  for (const shape of BN_SHAPES) {
    it(shape.join("x"), async () => {
      const before = poolStats.splitCalls;
      await checkBatchNormKernels(shape);
      // every pass split by rows: the moments' two, the gradient sums' one, the two affine maps
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      expect(poolStats.splitCalls - before).toBe(rows > 1 ? 5 : 0);
    });
    it(`inference tf.batchNorm ${shape.join("x")}: one pass split by rows`, async () => {
      const before = poolStats.splitCalls;
      await checkInferenceBatchNorm(shape);
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      expect(poolStats.splitCalls - before).toBe(rows > 1 ? 3 : 0); // three variants of the check
    });
  }
});

describe("SIMD MaxPoolGrad on 2 threads (split by images) vs the cpu backend", () => {
  for (const [shape, ties] of [[[3, 9, 9, 8], false], [[2, 8, 8, 64], true], [[1, 7, 7, 5], false]] as const) {
    it(`${shape.join("x")}, 3x3 stride 2 pad 1${ties ? ", ties" : ""}`, async () => {
      const xv = values([...shape], 7).map((v) => (ties ? Math.max(0, Math.round(v)) : v));
      const grad = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const x = tf.tensor4d(xv, [...shape] as [number, number, number, number]);
          const y = tf.maxPool(x, 3, 2, 1);
          const r = tf.reshape(tf.sin(tf.range(0, y.size)), y.shape);
          return tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, 1), r)))(x).dataSync() as Float32Array;
        });
      };
      const cpu = await grad("cpu");
      const before = poolStats.splitCalls;
      const wasm = await grad("wasm");
      expect(poolStats.splitCalls - before).toBe(shape[0] > 1 ? 1 : 0);
      let diff = 0;
      for (let i = 0; i < cpu.length; i++) diff = Math.max(diff, Math.abs(cpu[i]! - wasm[i]!));
      expect(diff).toBeLessThan(1e-6 * 4);
    });
  }
});

describe("SIMD AvgPoolGrad on 2 threads (split by images): the adjoint of the forward pass", () => {
  for (const shape of [[3, 9, 7, 8], [2, 8, 8, 64]] as const) {
    it(`${shape.join("x")}, 2x2 stride 2 'same'`, async () => {
      await tf.setBackend("wasm");
      const xv = values([...shape], 5);
      const before = poolStats.splitCalls;
      const [lhs, rhs] = tf.tidy(() => {
        const x = tf.tensor4d(xv, [...shape] as [number, number, number, number]);
        const y = tf.avgPool(x, 2, 2, "same");
        const r = tf.reshape(tf.sin(tf.range(0, y.size)), y.shape);
        const g = tf.grad((a) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, 2, 2, "same"), r)))(x);
        return [tf.sum(tf.mul(y, r)).dataSync()[0]!, tf.sum(tf.mul(x, g)).dataSync()[0]!];
      });
      expect(poolStats.splitCalls - before).toBe(1);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    });
  }
});

describe("fused Adam step on 2 threads (split by elements) vs tfjs ops", () => {
  it("three steps on a 3x3x64x129 weight and a 129 bias equal the ops' result", async () => {
    await tf.setBackend("wasm");
    const shapes = [[3, 3, 64, 129], [129]];
    const run = (fused: boolean) => {
      setFusedAdam(fused);
      const params = shapes.map((shape, i) => ({ name: `p${i}`, kind: i === 0 ? "conv-weight" as const : "bias" as const, group: "body" as const,
        variable: tf.variable(tf.tensor(values(shape, 30 + i), shape), true, `adam-${fused}-${i}`) }));
      const opt = new Adam(params, { wd: 0.1, lr: 0.01 });
      for (let step = 0; step < 3; step++) {
        const grads = Object.fromEntries(params.map((p, i) => [p.variable.name, tf.tensor(values(shapes[i]!, 40 + 10 * step + i), shapes[i]!)]));
        opt.step(grads);
        tf.dispose(Object.values(grads));
      }
      const out = params.map((p) => p.variable.dataSync().slice() as Float32Array);
      opt.dispose();
      params.forEach((p) => p.variable.dispose());
      return out;
    };
    const before = poolStats.splitCalls;
    const fused = run(true);
    expect(poolStats.splitCalls - before, "the weight's steps split across the threads").toBeGreaterThanOrEqual(3);
    const ops = run(false);
    setFusedAdam(true);
    fused.forEach((f, k) => {
      let diff = 0;
      for (let i = 0; i < f.length; i++) diff = Math.max(diff, Math.abs(f[i]! - ops[k]![i]!));
      expect(diff).toBeLessThan(1e-6);
    });
  });
});
