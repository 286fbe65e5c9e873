import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { setFilterGradientStrategy, setSimdAvgPoolGrad, setSimdConv2D, setSimdMaxPoolGrad, setWinograd, winograd43Pays, winogradForwardPays, winogradPays } from "../../trainer/src/backend/wasm-kernels.ts";
import { kernelVariant, relaxedSimdAvailable, setRelaxedSimd } from "../../trainer/src/backend/simd-kernels.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { BN_SHAPES, checkBatchNormKernels, checkInferenceBatchNorm } from "./batch-norm-kernels-cases.ts";
import { BN_EPS, batchNormTrain } from "../../trainer/src/model/ops/batch-norm.ts";
import { conv2dSymmetric } from "../../trainer/src/model/ops/conv.ts";
import { avgPoolCeil, maxPoolSymmetric } from "../../trainer/src/model/ops/pool.ts";

// Our wasm kernels (trainer/src/backend/wasm-kernels.ts) against the cpu backend's, and the model
// ops' padding semantics against plain-JS references of PyTorch's definitions.

beforeAll(async () => {
  await ensureGradients();
  await initBackend("cpu");
  await initBackend("wasm");
});

let seed = 1;
function randn(shape: number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", seed++).dataSync() as Float32Array).slice(0, size);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Runs f on a backend with fresh tensors built from plain arrays; returns plain arrays. */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  outs.forEach((t) => t.dispose());
  return values;
}

type Pad = "same" | "valid" | number;
const CONV_CASES: Array<{ x: [number, number, number, number]; k: number; co: number; stride: number; pad: Pad }> = [
  { x: [2, 9, 7, 3], k: 3, co: 4, stride: 1, pad: "same" },
  { x: [2, 9, 7, 3], k: 3, co: 4, stride: 2, pad: 1 },
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 2, pad: 1 },
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 2, pad: "valid" },
  { x: [2, 11, 6, 5], k: 3, co: 2, stride: 2, pad: "same" },
  { x: [3, 8, 8, 5], k: 1, co: 4, stride: 1, pad: "valid" },
  { x: [2, 11, 6, 5], k: 1, co: 2, stride: 2, pad: "valid" },
  { x: [2, 12, 7, 5], k: 5, co: 3, stride: 2, pad: 2 },
  { x: [2, 13, 10, 4], k: 3, co: 3, stride: 3, pad: 1 },
  { x: [2, 9, 9, 4], k: 2, co: 3, stride: 2, pad: "valid" },
  { x: [4, 4, 4, 16], k: 3, co: 8, stride: 1, pad: 1 },
  // the SIMD filter gradient's tiles (4 input x 8 output channels) with leftovers, batch 1 and odd sizes
  { x: [1, 7, 7, 5], k: 1, co: 9, stride: 2, pad: "valid" },
  { x: [2, 9, 9, 6], k: 3, co: 11, stride: 2, pad: 1 },
  { x: [3, 10, 10, 8], k: 3, co: 16, stride: 1, pad: "same" },
  { x: [2, 6, 5, 12], k: 1, co: 24, stride: 1, pad: "valid" },
  { x: [2, 33, 9, 4], k: 3, co: 8, stride: 1, pad: 1 }, // more rows than one chunk (256 positions)
  { x: [2, 11, 13, 10], k: 3, co: 19, stride: 1, pad: "same" }, // forward: 4-pixel tiles and edge pixels, 8+8+3 channels
  { x: [1, 12, 12, 9], k: 5, co: 10, stride: 2, pad: 2 },
  { x: [2, 6, 20, 16], k: 1, co: 40, stride: 2, pad: "valid" },
  // Winograd's 2x2 tiles: odd maps (a half tile at the bottom and right), 1-pixel maps, channels not a multiple of 4 or 8, no padding
  { x: [3, 5, 7, 7], k: 3, co: 13, stride: 1, pad: 1 },
  { x: [2, 1, 1, 9], k: 3, co: 5, stride: 1, pad: "same" },
  { x: [1, 6, 9, 2], k: 3, co: 17, stride: 1, pad: "valid" },
  { x: [2, 2, 2, 33], k: 3, co: 12, stride: 1, pad: 1 },
  // the forward kernel's edge pixels, 4 images per tile (and 1-3 left over): small maps (every pixel an edge pixel), stride 2, 5x5
  { x: [6, 2, 2, 9], k: 3, co: 11, stride: 1, pad: 1 },
  { x: [7, 4, 3, 6], k: 3, co: 10, stride: 2, pad: "same" },
  { x: [5, 6, 9, 3], k: 5, co: 9, stride: 1, pad: 2 },
  // the 1x1 filter gradient's packed product: channel counts with leftovers of 1 and 3 lanes
  { x: [2, 5, 6, 7], k: 1, co: 13, stride: 1, pad: "valid" },
];

describe("relaxed SIMD (fused multiply-add) for our convolution kernels", () => {
  it("is available on this Node (the loader enables V8's flag) and is the default build", () => {
    expect(relaxedSimdAvailable()).toBe(true);
    expect(kernelVariant()).toBe("relaxed-simd");
    setRelaxedSimd(false);
    expect(kernelVariant()).toBe("simd");
    setRelaxedSimd(undefined);
  });
});

describe("Winograd F(2x2, 3x3) where its tiles pay", () => {
  it("forward: from 4x4 and 5x5 maps on, not on 1x1, 2x2 or 3x3 maps, where the direct kernel skips the padding", () => {
    expect([winogradForwardPays(4, 4), winogradForwardPays(5, 5), winogradForwardPays(6, 6), winogradForwardPays(64, 64), winogradForwardPays(2, 12)]).toEqual([true, true, true, true, true]);
    expect([winogradForwardPays(1, 1), winogradForwardPays(2, 2), winogradForwardPays(3, 3), winogradForwardPays(1, 64), winogradForwardPays(3, 1)]).toEqual([false, false, false, false, false]);
    // unpadded, every tap reads x: a 3x3 output map pays (81 taps against 64)
    expect(winogradForwardPays(3, 3, 0)).toBe(true);
  });
  it("filter gradient: from 2x2 and 5x5 output maps on, not on 1x1, 3x3 or one-pixel-high maps", () => {
    expect([winogradPays(2, 2), winogradPays(4, 4), winogradPays(5, 5), winogradPays(64, 64), winogradPays(7, 9)]).toEqual([true, true, true, true, true]);
    expect([winogradPays(1, 1), winogradPays(3, 3), winogradPays(1, 64), winogradPays(3, 1)]).toEqual([false, false, false, false]);
  });
  it("takes F(4x4, 3x3) from 7x7 maps whose 4x4 tiles waste little, F(2x2, 3x3) below", () => {
    expect([winograd43Pays(8, 8), winograd43Pays(7, 7), winograd43Pays(16, 16), winograd43Pays(32, 24), winograd43Pays(64, 64)]).toEqual([true, true, true, true, true]);
    expect([winograd43Pays(4, 4), winograd43Pays(6, 6), winograd43Pays(9, 9), winograd43Pays(64, 2)]).toEqual([false, false, false, false]);
  });
});

describe("wasm Conv2DBackpropFilter / Conv2DBackpropInput vs the cpu backend", () => {
  for (const c of CONV_CASES) {
    it(`x ${c.x.join("x")}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride}, pad ${c.pad}`, async () => {
      const xv = randn(c.x);
      const wv = randn([c.k, c.k, c.x[3], c.co]);
      const grads = () => {
        const x = tf.tensor4d(xv, c.x);
        const w = tf.tensor4d(wv, [c.k, c.k, c.x[3], c.co]);
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const r = tf.tensor(randnFixed(y.size), y.shape); // a fixed, non-uniform upstream gradient
        return [...tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)))([x, w]), y];
      };
      const [cpuDx, cpuDw, cpuY] = await on("cpu", grads);
      // Our kernels' two builds: fused multiply-add (relaxed SIMD, the default where the engine has it) and separate mul + add.
      for (const relaxed of [true, false]) {
        setRelaxedSimd(relaxed);
        const build = relaxed ? "relaxed-simd" : "simd";
        // the forward convolution: ours (SIMD: direct, and Winograd on every 3x3 stride-1 shape) and XNNPACK's
        for (const [simd, winograd] of [[true, "off"], [true, "force"], [true, "force43"], [false, "off"]] as const) {
          setSimdConv2D(simd);
          setWinograd(winograd);
          const [wasmDx, wasmDw, wasmY] = await on("wasm", grads);
          const what = simd ? `ours (winograd ${winograd}), ${build}` : "xnnpack";
          // F(4x4, 3x3)'s coefficients (up to 8, 1/24) round more: within 2e-4 of the largest value, as measured
          const tol = winograd === "force43" ? 2e-4 : 1e-5;
          expect(maxAbsDiff(cpuY!, wasmY!), what).toBeLessThan(tol * Math.max(1, maxAbs(cpuY!)));
          // the input gradient's convolutions go through the same kernel, and the filter gradient has its own Winograd form
          expect(maxAbsDiff(cpuDx!, wasmDx!), what).toBeLessThan(tol * Math.max(1, maxAbs(cpuDx!)));
          expect(maxAbsDiff(cpuDw!, wasmDw!), what).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpuDw!)));
        }
        setSimdConv2D(true);
        setWinograd("auto");
        // Every formulation of the filter gradient: the default (SIMD kernel, small 1x1 as a matmul), the kernel alone, im2col + matmul, dilated convolution.
        for (const strategy of ["simd", "simd-kernel", "simd-strided", "auto-old", "im2col", "conv"] as const) {
          setFilterGradientStrategy(strategy);
          const [wasmDx, wasmDw] = await on("wasm", grads);
          expect(maxAbsDiff(cpuDx!, wasmDx!), `${strategy}, ${build}`).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpuDx!)));
          expect(maxAbsDiff(cpuDw!, wasmDw!), `${strategy}, ${build}`).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpuDw!)));
        }
        setFilterGradientStrategy("simd");
      }
      setRelaxedSimd(undefined);
    });
  }
});

function randnFixed(size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sin(i * 12.9898) * 2;
  return out;
}

const POOL_CASES: Array<{ x: [number, number, number, number]; k: number; stride: number; pad: Pad }> = [
  { x: [2, 9, 9, 8], k: 3, stride: 2, pad: 1 },
  { x: [1, 8, 8, 5], k: 3, stride: 2, pad: 1 },
  { x: [3, 7, 10, 6], k: 3, stride: 2, pad: "same" },
  { x: [2, 9, 7, 1], k: 2, stride: 2, pad: "valid" },
  { x: [2, 6, 6, 12], k: 3, stride: 1, pad: 1 },
  { x: [1, 5, 5, 16], k: 3, stride: 3, pad: "valid" },
];

// (tfjs-backend-wasm's own MaxPoolGrad is not a reference: it differs from the cpu backend on ties and
// even on some untied odd-sized inputs, e.g. 2x9x7x1 with a 2x2 stride-2 "valid" window.)
describe("wasm MaxPoolGrad (ours) vs the cpu backend, ties included", () => {
  for (const c of POOL_CASES) {
    for (const ties of [false, true]) {
      it(`x ${c.x.join("x")}, ${c.k}x${c.k} stride ${c.stride} pad ${c.pad}${ties ? ", ReLU'd integers (ties)" : ""}`, async () => {
        // ties: many equal values (ReLU zeros, small integers), where the first maximum must win
        const xv = randn(c.x).map((v) => (ties ? Math.max(0, Math.round(v * 1.5)) : v));
        const grad = () => {
          const x = tf.tensor4d(xv, c.x);
          const y = tf.maxPool(x, c.k, c.stride, c.pad);
          const r = tf.tensor(randnFixed(y.size), y.shape);
          return [tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.stride, c.pad), r)))(x)];
        };
        const [cpu] = await on("cpu", grad);
        setSimdMaxPoolGrad(true);
        const [wasm] = await on("wasm", grad);
        // the same cells receive the gradient; overlapping windows add in another order (float rounding)
        expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-6 * Math.max(1, maxAbs(cpu!)));
        expect(wasm!.filter((v) => v !== 0).length).toBe(cpu!.filter((v) => v !== 0).length);
      });
    }
  }
});

describe("wasm AvgPoolGrad (ours): the gradient of the forward pass, windows cut by the edge included", () => {
  // <avgPool(x), r> = <x, avgPoolGrad(r)> for every x and r (the pool is linear): the gradient is the
  // forward pass's adjoint, so it divides by the cells each window averaged. tfjs's own AvgPoolGrad
  // divides by kh * kw and fails this on odd maps; both agree where every window is whole.
  const CASES: Array<{ x: [number, number, number, number]; k: number; s?: number; pad: "same" | "valid" }> = [
    { x: [3, 7, 9, 6], k: 2, pad: "same" }, // the shortcut's pool on an odd map: partial windows at the bottom and right
    { x: [2, 8, 6, 13], k: 2, pad: "same" }, // whole windows, channel leftovers
    { x: [2, 7, 5, 4], k: 2, pad: "valid" }, // a last row and column in no window: zero
    { x: [1, 7, 8, 5], k: 3, pad: "same" }, // 3x3 stride 3: padding on both sides of the rows
    { x: [2, 5, 9, 3], k: 3, s: 4, pad: "same" }, // gaps between the windows (zero), padding before them
    { x: [5, 1, 1, 8], k: 2, pad: "same" }, // one cell per window
  ];
  for (const c of CASES) {
    const s = c.s ?? c.k;
    it(`x ${c.x.join("x")}, ${c.k}x${c.k} stride ${s} pad ${c.pad}`, async () => {
      const xv = randn(c.x);
      const run = () => {
        const x = tf.tensor4d(xv, c.x);
        const y = tf.avgPool(x, c.k, s, c.pad);
        const r = tf.tensor(randnFixed(y.size), y.shape);
        const g = tf.grad((a) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, c.k, s, c.pad), r)))(x);
        return [tf.sum(tf.mul(y, r)), tf.sum(tf.mul(x, g)), g];
      };
      setSimdAvgPoolGrad(true);
      const [lhs, rhs, g] = await on("wasm", run);
      expect(Math.abs(lhs![0]! - rhs![0]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs![0]!)));
      const whole = c.pad === "valid" || (s === c.k && c.x[1] % c.k === 0 && c.x[2] % c.k === 0); // no window cut by the edge
      setSimdAvgPoolGrad(false);
      const [stockLhs, stockRhs, stockG] = await on("wasm", run);
      setSimdAvgPoolGrad(true);
      if (whole) expect(maxAbsDiff(g!, stockG!)).toBeLessThan(1e-6);
      else expect(Math.abs(stockLhs![0]! - stockRhs![0]!)).toBeGreaterThan(1e-3); // tfjs's own is not the adjoint here
    });
  }
});

describe("ReLU's gradient (one wasm kernel) vs the cpu backend's dy * step(x)", () => {
  for (const shape of [[2, 5, 7, 3], [4, 8, 8, 64], [1, 1, 1, 5]]) {
    it(shape.join("x"), async () => {
      // zeros included: the gradient there is 0, as step(0) = 0
      const xv = randn(shape).map((v, i) => (i % 7 === 0 ? 0 : v));
      const grad = () => {
        const x = tf.tensor(xv, shape);
        const r = tf.tensor(randnFixed(x.size), shape);
        return [tf.grad((a) => tf.sum(tf.mul(tf.relu(a), r)))(x)];
      };
      const [cpu] = await on("cpu", grad);
      const [wasm] = await on("wasm", grad);
      expect(maxAbsDiff(cpu!, wasm!)).toBe(0);
      expect(wasm!.filter((v) => v !== 0).length).toBeGreaterThan(0);
    });
  }
});

describe("wasm Identity shares memory safely", () => {
  it("a clone keeps its values after the original is disposed, and the memory is freed with the last reference", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numBytes;
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const y = tf.clone(x); // the Identity kernel
    expect(y.dataId).toBe(x.dataId); // shared, not copied
    const z = tf.add(y, 1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(z.dataSync())).toEqual([2, 3, 4, 5, 6, 7]);
    const backend = tf.backend() as unknown as { dataIdMap: { has(id: object): boolean } };
    const id = y.dataId;
    y.dispose();
    z.dispose();
    expect(backend.dataIdMap.has(id)).toBe(false);
    expect(tf.memory().numBytes).toBe(before);
  });
});

describe("fused BatchNorm kernels (wasm) vs tfjs ops on the cpu backend", () => {
  for (const shape of BN_SHAPES) it(shape.join("x"), () => checkBatchNormKernels(shape));
  for (const shape of BN_SHAPES) it(`inference tf.batchNorm ${shape.join("x")}`, () => checkInferenceBatchNorm(shape));
});

describe("BatchNorm with the hand-written backward", () => {
  it("matches tfjs's stock gradient of moments + batchNorm, and updates running stats like PyTorch", async () => {
    for (const backend of ["cpu", "wasm"]) {
      await tf.setBackend(backend);
      const shape: [number, number, number, number] = [3, 5, 7, 4];
      const xv = randn(shape).map((v, i) => v * 2 + (i % 4)); // per-channel offsets
      const gv = randn([4]);
      const bv = randn([4]);
      const r = tf.tensor4d(randnFixed(3 * 5 * 7 * 4), shape);
      const x = tf.tensor4d(xv, shape);
      const gamma = tf.variable(tf.tensor1d(gv));
      const beta = tf.variable(tf.tensor1d(bv));
      const runningMean = tf.variable(tf.tensor1d([0.5, -0.5, 1, 0]));
      const runningVar = tf.variable(tf.tensor1d([1, 2, 0.5, 1]));
      const state = { gamma, beta, runningMean, runningVar, eps: BN_EPS };

      const ours = tf.grads((a, g, b) => tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, { ...state, gamma: g as tf.Variable, beta: b as tf.Variable }), r)))([x, gamma, beta]);
      const stock = tf.grads((a, g, b) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(a as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, BN_EPS), r));
      })([x, gamma, beta]);
      for (let i = 0; i < 3; i++) {
        const [o, s] = [ours[i]!.dataSync(), stock[i]!.dataSync()];
        expect(maxAbsDiff(o, s), `${backend} grad ${i}`).toBeLessThan(2e-4 * Math.max(1, maxAbs(s)));
      }

      // Running stats: the grads call above ran one training forward (PyTorch: unbiased var, momentum 0.1).
      const n = 3 * 5 * 7;
      for (let ch = 0; ch < 4; ch++) {
        const vals = Array.from(xv).filter((_, i) => i % 4 === ch);
        const mean = vals.reduce((a, b) => a + b, 0) / n;
        const unbiased = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
        const rm0 = [0.5, -0.5, 1, 0][ch]!;
        const rv0 = [1, 2, 0.5, 1][ch]!;
        expect(runningMean.dataSync()[ch]).toBeCloseTo(0.9 * rm0 + 0.1 * mean, 4);
        expect(runningVar.dataSync()[ch]).toBeCloseTo(0.9 * rv0 + 0.1 * unbiased, 4);
      }
      for (const t of [x, gamma, beta, runningMean, runningVar, r, ...ours, ...stock]) t.dispose();
    }
  });

  it("refuses a single value per channel with an actionable message", () => {
    const v = (vals: number[]) => tf.variable(tf.tensor1d(vals));
    const state = { gamma: v([1]), beta: v([0]), runningMean: v([0]), runningVar: v([1]), eps: BN_EPS };
    expect(() => batchNormTrain(tf.ones([1, 1, 1, 1]) as tf.Tensor4D, state)).toThrow(/batch size above 1/);
  });
});

// ---- plain-JS references of PyTorch's pooling definitions (NHWC, one image, one channel suffices)
function maxPoolRef(x: Float32Array, h: number, w: number, k: number, s: number, p: number) {
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((w + 2 * p - k) / s) + 1;
  const out: number[] = [];
  for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let m = -Infinity;
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
      const r = i * s - p + a;
      const c = j * s - p + b;
      if (r >= 0 && r < h && c >= 0 && c < w) m = Math.max(m, x[r * w + c]!);
    }
    out.push(m);
  }
  return { out, shape: [1, ho, wo, 1] };
}

/** nn.AvgPool2d(2, ceil_mode=True): windows clipped to the input, divisor = clipped size. */
function avgPoolCeilRef(x: Float32Array, h: number, w: number) {
  const ho = Math.ceil(h / 2);
  const wo = Math.ceil(w / 2);
  const out: number[] = [];
  for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let sum = 0;
    let count = 0;
    for (let r = 2 * i; r < Math.min(2 * i + 2, h); r++) for (let c = 2 * j; c < Math.min(2 * j + 2, w); c++) {
      sum += x[r * w + c]!;
      count++;
    }
    out.push(sum / count);
  }
  return { out, shape: [1, ho, wo, 1] };
}

describe("padding semantics match PyTorch at odd and even sizes", () => {
  for (const backend of ["cpu", "wasm"]) {
    for (const [h, w] of [[7, 7], [8, 8], [9, 12], [5, 3]] as const) {
      it(`${backend} ${h}x${w}: MaxPool 3/2 pad 1 pads with -inf (numeric and explicit paths)`, async () => {
        await tf.setBackend(backend);
        const xv = randn([h * w]).map((v) => -Math.abs(v) - 1); // all negative: zero padding would win
        const ref = maxPoolRef(xv, h, w, 3, 2, 1);
        for (const numeric of [true, false]) {
          const y = tf.tidy(() => maxPoolSymmetric(tf.tensor4d(xv, [1, h, w, 1]), 3, 2, 1, numeric));
          expect(y.shape).toEqual(ref.shape);
          expect(maxAbsDiff(y.dataSync(), ref.out)).toBeLessThan(1e-6);
          y.dispose();
        }
      });

      it(`${backend} ${h}x${w}: AvgPool(2, ceil_mode) averages only the valid cells of edge windows`, async () => {
        await tf.setBackend(backend);
        const xv = randn([h * w]);
        const ref = avgPoolCeilRef(xv, h, w);
        const y = tf.tidy(() => avgPoolCeil(tf.tensor4d(xv, [1, h, w, 1]), 2, 2));
        expect(y.shape).toEqual(ref.shape);
        expect(maxAbsDiff(y.dataSync(), ref.out)).toBeLessThan(1e-5);
        y.dispose();
      });

      it(`${backend} ${h}x${w}: AvgPool(2 and 3, ceil_mode)'s gradient is its adjoint (each cell gets dy / the cells averaged)`, async () => {
        await tf.setBackend(backend);
        const xv = randn([2, h, w, 3]);
        for (const k of [2, 3]) {
          const [lhs, rhs] = tf.tidy(() => {
            const x = tf.tensor4d(xv, [2, h, w, 3]);
            const y = avgPoolCeil(x, k, k);
            const r = tf.tensor(randnFixed(y.size), y.shape);
            const g = tf.grad((a) => tf.sum(tf.mul(avgPoolCeil(a as tf.Tensor4D, k, k), r)))(x);
            return [tf.sum(tf.mul(y, r)).dataSync()[0]!, tf.sum(tf.mul(x, g)).dataSync()[0]!];
          });
          expect(Math.abs(lhs - rhs), `k ${k}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
        }
      });

      it(`${backend} ${h}x${w}: stride-2 3x3 conv, numeric padding equals tf.pad + valid, output floor((H-1)/2)+1`, async () => {
        await tf.setBackend(backend);
        const xv = randn([2, h, w, 3]);
        const wv = randn([3, 3, 3, 4]);
        const [a, b] = tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, h, w, 3]);
          const k = tf.tensor4d(wv, [3, 3, 3, 4]);
          return [conv2dSymmetric(x, k, 2, 1, true), conv2dSymmetric(x, k, 2, 1, false)];
        });
        expect(a!.shape).toEqual([2, Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1, 4]);
        expect(b!.shape).toEqual(a!.shape);
        expect(maxAbsDiff(a!.dataSync(), b!.dataSync())).toBeLessThan(1e-5);
        a!.dispose();
        b!.dispose();
      });
    }
  }
});
