import {
  Add,
  backend_util,
  BatchMatMul,
  Concat,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  Fill,
  FusedBatchNorm,
  getKernel,
  Identity,
  MaxPoolGrad,
  AvgPoolGrad,
  registerKernel,
  Reshape,
  Slice,
  Transpose,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { kernelSlots, pointerOf, runSplit } from "./simd-kernels.ts";
import type { AvgPoolGradAttrs, Conv2DAttrs, MaxPoolGradAttrs, Conv2DBackpropFilterAttrs, Conv2DBackpropInputAttrs, KernelBackend, KernelConfig, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";

/**
 * Convolution gradients for tfjs-backend-wasm, expressed as forward convolutions that XNNPACK runs
 * fast (tfjs-backend-wasm has no Conv2DBackpropFilter at all, tfjs#8474, and its
 * Conv2DBackpropInput is a scalar C++ loop).
 *
 * Conv2DBackpropFilter: for y = conv(x, w, stride s, pads) the filter gradient
 *   dw[i, j, c, o] = sum_{n, p, q} x[n, s*p + i - padTop, s*q + j - padLeft, c] * dy[n, p, q, o]
 * is a convolution of x^T = transpose(x, [3, 1, 2, 0]) ([Ci, H, W, N], the batch becomes the
 * channels) with the filter dy^T = transpose(dy, [1, 2, 0, 3]) ([Ho, Wo, N, Co]) at dilation s,
 * stride 1 and padding (padTop, padLeft, then whatever makes the output kh x kw): result
 * [Ci, kh, kw, Co], transposed to [kh, kw, Ci, Co].
 *
 * A 1x1 stride-1 filter gradient is a plain matrix product x^T dy ([Ci, NHW] x [NHW, Co]); the x^T
 * is materialised because the wasm BatchMatMul with transposeA is ~20x slower than without.
 *
 * Conv2DBackpropInput: at stride 1, dx is the "full" convolution of dy with the filter rotated by
 * 180 degrees and its in/out channels swapped ([kh, kw, Co, Ci]), padding kh-1-padTop /
 * kw-1-padLeft. At stride s > 1 the same thing on a zero-dilated dy would spend (s^2-1)/s^2 of its
 * work multiplying zeros, so it is split by output phase instead (sub-pixel decomposition): the
 * rows h = s*u + phase only receive the filter taps i = r, r+s, r+2s... with r = (phase + padTop)
 * mod s, which is an ordinary stride-1 convolution of dy with that sub-filter. The s*s phase
 * results are interleaved back (reshape + concat) and cropped to H x W.
 *
 * Kernels call the registered wasm kernels directly (TensorInfo in, TensorInfo out) and release
 * their intermediates with backend.disposeData, the way tfjs backends compose kernels.
 */

const BACKEND = "wasm";

type Inputs = Record<string, TensorInfo> | TensorInfo[];

function run(name: string, backend: KernelBackend, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
  const kernel = getKernel(name, BACKEND);
  if (!kernel) throw new Error(`bug: wasm kernel ${name} is not registered`);
  // Concat takes its inputs as an array, as tfjs-core's op passes them.
  return kernel.kernelFunc({ inputs: inputs as Record<string, TensorInfo>, backend, attrs }) as TensorInfo;
}

/** Runs the steps, disposing every intermediate but the last result. */
class Scratch {
  private readonly held: TensorInfo[] = [];
  constructor(private readonly backend: KernelBackend) {}
  op(name: string, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
    const out = run(name, this.backend, inputs, attrs);
    this.held.push(out);
    return out;
  }
  /** Tracks an output made outside `op`. */
  adopt(info: TensorInfo): TensorInfo {
    this.held.push(info);
    return info;
  }
  /** Releases everything except `keep`. */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.held) if (t !== keep) this.backend.disposeData(t.dataId);
    return keep;
  }
}

/** The parts of BackendWasm we use beyond KernelBackend. */
interface WasmHeapBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The taps (firstRow + stride*a, firstCol + stride*b) of a [kh, kw, Ci, Co] filter, rotated by 180
 * degrees: out[a', b'] = filter[firstRow + stride*(tr-1-a'), firstCol + stride*(tc-1-b')].
 * Each tap is one contiguous Ci*Co block, so this is block copies on the wasm heap. (Reverse takes
 * ~50 ms and StridedSlice ~250 ms on a 3x3x256x256 filter; this takes well under 1 ms.) With
 * `rotate` false the taps keep their order (for our kernels, which rotate while packing).
 */
function rotatedTaps(s: Scratch, backend: KernelBackend, filter: TensorInfo, firstRow: number, firstCol: number, stride: number, rotate = true): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const tr = Math.ceil((kh - firstRow) / stride);
  const tc = Math.ceil((kw - firstCol) / stride);
  if (tr === kh && tc === kw && (kh * kw === 1 || (!rotate && stride === 1))) return filter;
  const heap = backend as WasmHeapBackend;
  const out = s.adopt(heap.makeOutput([tr, tc, ci, co], "float32"));
  const src = heap.typedArrayFromHeap(filter);
  const dst = heap.typedArrayFromHeap(out);
  const block = ci * co;
  for (let a = 0; a < tr; a++) {
    for (let b = 0; b < tc; b++) {
      const from = rotate
        ? ((firstRow + stride * (tr - 1 - a)) * kw + (firstCol + stride * (tc - 1 - b))) * block
        : ((firstRow + stride * a) * kw + (firstCol + stride * b)) * block;
      dst.set(src.subarray(from, from + block), (a * tc + b) * block);
    }
  }
  return out;
}

/**
 * Transposed im2col, written in JS straight into the wasm heap:
 *   out[(i*kw + j)*Ci + c, (n*Ho + p)*Wo + q] = x[n, s*p + i - padTop, s*q + j - padLeft, c]  (0 outside)
 * for images n0 .. n0+count-1, from xc = x transposed to [Ci, N, H, W]. At stride 1 every output
 * row segment is a contiguous run of xc (one TypedArray.set); at other strides it is gathered.
 */
function im2colTransposed(s: Scratch, backend: KernelBackend, xc: TensorInfo, info: backend_util.Conv2DInfo, n0: number, count: number): TensorInfo {
  const heap = backend as WasmHeapBackend;
  const { batchSize: nAll, inHeight: h, inWidth: w, inChannels: ci, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const cols = count * ho * wo;
  const out = s.adopt(heap.makeOutput([1, kh * kw * ci, cols], "float32"));
  const src = heap.typedArrayFromHeap(xc);
  const dst = heap.typedArrayFromHeap(out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // q range whose column s*q + j - padLeft lies inside [0, w)
      const qLo = Math.min(wo, Math.max(0, Math.ceil((padLeft - j) / sw)));
      const qHi = Math.max(qLo, Math.min(wo, Math.floor((w - 1 + padLeft - j) / sw) + 1));
      for (let c = 0; c < ci; c++) {
        let d = ((i * kw + j) * ci + c) * cols;
        for (let n = n0; n < n0 + count; n++) {
          const plane = (c * nAll + n) * h;
          for (let p = 0; p < ho; p++, d += wo) {
            const row = sh * p + i - padTop;
            if (row < 0 || row >= h || qLo === qHi) {
              dst.fill(0, d, d + wo);
              continue;
            }
            if (qLo > 0) dst.fill(0, d, d + qLo);
            const from = (plane + row) * w + sw * qLo + j - padLeft;
            if (sw === 1) {
              dst.set(src.subarray(from, from + qHi - qLo), d + qLo);
            } else {
              for (let q = qLo, f = from; q < qHi; q++, f += sw) dst[d + q] = src[f]!;
            }
            if (qHi < wo) dst.fill(0, d + qHi, d + wo);
          }
        }
      }
    }
  }
  return out;
}

/** Largest im2col block we build at once (floats); bigger batches are done in chunks of images. */
const IM2COL_MAX_FLOATS = 1 << 23;

/**
 * Filter gradient as one matrix product per chunk of images: im2col(x)^T [kh*kw*Ci, N*Ho*Wo] times
 * dy [N*Ho*Wo, Co]. Wins where few input channels make the dilated-convolution formulation
 * inefficient (the stem: Ci = 3, 32).
 */
function filterGradientIm2col(s: Scratch, backend: KernelBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const perImage = kh * kw * ci * ho * wo;
  const chunk = Math.max(1, Math.min(n, Math.floor(IM2COL_MAX_FLOATS / perImage)));
  const dy2 = s.op(Reshape, { x: dy }, { shape: [n * ho * wo, co] });
  const [, h, w] = x.shape as [number, number, number, number];
  const x2 = s.op(Reshape, { x }, { shape: [n * h * w, ci] });
  const xc = s.op(Transpose, { x: x2 }, { perm: [1, 0] }); // [Ci, N*H*W]
  let total: TensorInfo | undefined;
  for (let n0 = 0; n0 < n; n0 += chunk) {
    const count = Math.min(chunk, n - n0);
    const cols = im2colTransposed(s, backend, xc, info, n0, count);
    const dyChunk = count === n ? dy2 : s.op(Slice, { x: dy2 }, { begin: [n0 * ho * wo, 0], size: [count * ho * wo, co] });
    const b = s.op(Reshape, { x: dyChunk }, { shape: [1, count * ho * wo, co] });
    const g = s.op(BatchMatMul, { a: cols, b }, { transposeA: false, transposeB: false });
    total = total ? s.op(Add, { a: total, b: g }) : g;
  }
  return s.op(Reshape, { x: total! }, { shape: [kh, kw, ci, co] });
}

/** [N, H, W, C] -> [C, H, W, N], as a 2-D transpose then a block transpose (~2x faster than one 4-D Transpose). */
function swapBatchAndChannels(s: Scratch, x: TensorInfo): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const x2 = s.op(Reshape, { x }, { shape: [n, h * w * c] });
  const t2 = s.op(Transpose, { x: x2 }, { perm: [1, 0] }); // [h*w*c, n]
  const t3 = s.op(Reshape, { x: t2 }, { shape: [h * w, c, n] });
  const swapped = s.op(Transpose, { x: t3 }, { perm: [1, 0, 2] }); // [c, h*w, n]
  return s.op(Reshape, { x: swapped }, { shape: [c, h, w, n] });
}

/** Crops rows/cols so that negative padding becomes a slice; returns the non-negative pads. */
function cropForNegativePads(s: Scratch, x: TensorInfo, top: number, bottom: number, left: number, right: number) {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  let out = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    out = s.op(Slice, { x }, { begin: [0, cropTop, cropLeft, 0], size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c] });
  }
  const pads: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0],
  ];
  return { x: out, pads };
}

function conv2d(s: Scratch, x: TensorInfo, filter: TensorInfo, pads: number[][], dilation: number): TensorInfo {
  const allZero = pads.every(([a, b]) => a === 0 && b === 0);
  return s.op(Conv2D, { x, filter }, {
    strides: [1, 1], pad: allZero ? "valid" : pads, dataFormat: "NHWC", dilations: [dilation, dilation], dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
}

function convInfoFor(xShape: number[], filterShape: number[], attrs: { strides: number | [number, number]; pad: unknown; dataFormat: string; dimRoundingMode?: string }) {
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat as "NHWC" | "NCHW");
  if (dataFormat !== "channelsLast") throw new Error(`wasm conv gradients support NHWC only, got ${attrs.dataFormat}`);
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides, 1,
    attrs.pad as "valid", attrs.dimRoundingMode as "floor" | undefined, false, dataFormat);
}

/**
 * Which formulation of the filter gradient runs:
 * - "simd" (default): our wasm SIMD kernels (trainer/wasm/kernels.c) straight on the tensors: 3x3
 *   stride 1 as Winograd F(3x3, 2x2) (see setWinograd), 1x1 stride 1 unpadded as one packed matrix
 *   product (conv1x1FilterGrad), the rest by the direct kernel;
 * - "simd-kernel": the kernel for every shape (tests);
 * - "simd-strided": the first version of the kernel, without packing (bench/train/kernels.ts, tests);
 * - "im2col": im2col + BatchMatMul, "conv": a dilated forward convolution in XNNPACK (the earlier
 *   formulations, kept for comparison in bench/train/kernels.ts and as test references);
 * - "auto-old": what "auto" was before the SIMD kernel (im2col where Ci*kh*kw <= 32, else conv; 1x1
 *   stride-1 as one matmul).
 * Measured (CPU ms, batch 32, 1 thread): first layer (Ci=3, stride 2) im2col 8 vs conv 21 at 64 px
 * and 44 vs 81 at 128 px; from Ci=32 on the two are within +-15% of each other, or im2col loses.
 */
export type FilterGradientStrategy = "simd" | "simd-kernel" | "simd-strided" | "auto-old" | "im2col" | "conv";
let strategy: FilterGradientStrategy = "simd";
const IM2COL_MAX_ROWS = 32;

/** For benchmarks and tests: force one formulation of the filter gradient. */
export function setFilterGradientStrategy(next: FilterGradientStrategy): void {
  strategy = next;
}

/**
 * Work below which a kernel is not split across threads (the wake-up of a worker costs ~0.05 ms);
 * tests set it to 0 to force splitting on small shapes.
 */
export const splitPolicy = { minMacsPerThread: 1e6, minPoolElementsPerThread: 1 << 16 };

/**
 * The filter gradient of a 3x3 stride-1 convolution as Winograd F(3x3, 2x2) (kernels.c), split by input
 * channels (4 at a time): each thread transforms its channels of x and all of dy, and sums its rows of
 * the 16 products over every tile.
 */
function winogradFilterGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, out: TensorInfo, info: backend_util.Conv2DInfo): void {
  const heap = backend as WasmHeapBackend;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const ci4 = Math.ceil(ci / 4) * 4;
  const co8 = Math.ceil(co / 8) * 8;
  const tiles = n * Math.ceil(ho / 2) * Math.ceil(wo / 2);
  const chunk = winogradChunk(ci4, co8);
  const scratch = heap.makeOutput([kernelSlots(backend) * 16 * (chunk * (ci4 + co8) + ci4 * co8 + 48)], "float32");
  runSplit(backend, "winograd_filter_grad", [pointerOf(backend, x), pointerOf(backend, dy), pointerOf(backend, out), pointerOf(backend, scratch),
    n, h, w, ci, ho, wo, co, info.padInfo.top, info.padInfo.left, chunk], ci, 4, Math.max(4, Math.ceil(splitPolicy.minMacsPerThread / (16 * tiles * co))));
  backend.disposeData(scratch.dataId);
}

/**
 * The filter gradient of a 1x1 stride-1 unpadded convolution, x^T dy over the N*H*W pixels, as one
 * packed matrix product (kernels.c conv1x1_filter_grad) split by input channels. (It was XNNPACK's
 * BatchMatMul on a materialised x^T up to 4096 pixels, and the strided kernel above that; ResNet-50's
 * bottlenecks at 64 px have nineteen of these per step.)
 */
function conv1x1FilterGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const heap = backend as WasmHeapBackend;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const out = heap.makeOutput([1, 1, ci, co], "float32");
  const rows = n * h * w;
  const ci4 = Math.ceil(ci / 4) * 4;
  const co8 = Math.ceil(co / 8) * 8;
  // rows per chunk: the packed dy panel within ~256 KB
  const chunk = Math.max(16, Math.min(256, Math.floor(65536 / co8)));
  const scratch = heap.makeOutput([kernelSlots(backend) * (chunk * (ci4 + co8) + ci4 * co8)], "float32");
  runSplit(backend, "conv1x1_filter_grad", [pointerOf(backend, x), pointerOf(backend, dy), pointerOf(backend, out), pointerOf(backend, scratch), rows, ci, co, chunk],
    ci, 4, Math.max(4, Math.ceil(splitPolicy.minMacsPerThread / (rows * co))));
  backend.disposeData(scratch.dataId);
  return out;
}

function filterGradientSimd(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const heap = backend as WasmHeapBackend;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co, filterHeight: kh, filterWidth: kw, strideHeight: stride } = info;
  const out = heap.makeOutput([kh, kw, ci, co], "float32");
  if (strategy === "simd" && kh === 3 && kw === 3 && stride === 1 && (winograd === "force" || (winograd === "auto" && winogradPays(ho, wo)))) {
    winogradFilterGrad(backend, x, dy, out, info);
    return out;
  }
  // Split by output channels in whole 8-channel tiles.
  const macsPerChannel = kh * kw * ci * n * ho * wo;
  const minPerThread = Math.max(8, Math.ceil(splitPolicy.minMacsPerThread / macsPerChannel));
  // Unpacked where the channel counts are small (its strided rows then spread over the L1 sets, and
  // packing costs more than it saves: [3,3,64,64] at 32x32, 63 vs 79 ms), packed from 128 channels on
  // ([3,3,256,256] at 8x8: 53 vs 102 ms). ResNet-18 128 px, 2 threads, same run, under contention.
  if (strategy === "simd-strided" || (strategy === "simd" && Math.max(ci, co) < 128)) {
    runSplit(backend, "conv2d_filter_grad", [pointerOf(backend, x), pointerOf(backend, dy), pointerOf(backend, out),
      n, h, w, ci, ho, wo, co, kh, kw, stride, info.padInfo.top, info.padInfo.left], co, 8, minPerThread);
    return out;
  }
  // Chunks of output rows with about 64 K floats of x panel (64..512 positions), at least one row.
  const ci4 = Math.ceil(ci / 4) * 4;
  const chunkPositions = Math.max(64, Math.min(512, Math.floor(65536 / ci4)));
  const chunkRows = Math.max(1, Math.floor(chunkPositions / wo));
  const kMax = chunkRows * wo;
  const scratch = heap.makeOutput([kernelSlots(backend) * (kMax * (ci4 + 8) + kMax)], "float32");
  runSplit(backend, "conv2d_filter_grad_packed", [pointerOf(backend, x), pointerOf(backend, dy), pointerOf(backend, out), pointerOf(backend, scratch),
    n, h, w, ci, ho, wo, co, kh, kw, stride, info.padInfo.top, info.padInfo.left, chunkRows], co, 8, minPerThread);
  backend.disposeData(scratch.dataId);
  return out;
}

export function conv2dBackpropFilterWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as unknown as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const info = convInfoFor(x.shape, attrs.filterShape, attrs);
  if (info.strideHeight !== info.strideWidth) throw new Error("wasm Conv2DBackpropFilter: unequal strides are not supported");
  const stride = info.strideHeight;
  const { filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
  const p = info.padInfo;
  const plain1x1 = kh === 1 && kw === 1 && stride === 1 && p.top + p.bottom + p.left + p.right === 0;
  if (strategy === "simd" && plain1x1) return conv1x1FilterGrad(args.backend, x, dy, info);
  if (strategy === "simd-kernel" || strategy === "simd-strided" || strategy === "simd") return filterGradientSimd(args.backend, x, dy, info);
  const s = new Scratch(args.backend);
  if (strategy === "auto-old" && plain1x1) {
    const [n, , , ci] = x.shape as [number, number, number, number];
    const co = dy.shape[3]!;
    const x2 = s.op(Reshape, { x }, { shape: [n * h * w, ci] });
    const xT2 = s.op(Transpose, { x: x2 }, { perm: [1, 0] });
    const a = s.op(Reshape, { x: xT2 }, { shape: [1, ci, n * h * w] });
    const b = s.op(Reshape, { x: dy }, { shape: [1, n * h * w, co] });
    const g = s.op(BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
    return s.finish(s.op(Reshape, { x: g }, { shape: [1, 1, ci, co] }));
  }
  if (strategy === "im2col" || (strategy === "auto-old" && info.inChannels * kh * kw <= IM2COL_MAX_ROWS)) return s.finish(filterGradientIm2col(s, args.backend, x, dy, info));
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = kh + (ho - 1) * stride - h - top;
  const right = kw + (wo - 1) * stride - w - left;
  const xT = swapBatchAndChannels(s, x); // [Ci, H, W, N]
  const dyT = s.op(Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const cropped = cropForNegativePads(s, xT, top, bottom, left, right);
  const g = conv2d(s, cropped.x, dyT, cropped.pads, stride); // [Ci, kh, kw, Co]
  return s.finish(s.op(Transpose, { x: g }, { perm: [1, 2, 0, 3] })); // [kh, kw, Ci, Co]
}

/** Taps of one output phase along one axis (see the header comment). */
interface Phase {
  /** first filter tap of this phase */
  firstTap: number;
  /** number of taps: rows r, r+s, ... below the kernel size */
  taps: number;
  /** padding before dy for the stride-1 sub-convolution (negative = crop) */
  before: number;
  /** padding after dy so that the sub-convolution yields `outCount` rows (negative = crop) */
  after: number;
}

function phaseAlongAxis(phase: number, stride: number, kernel: number, padBefore: number, dyCount: number, outCount: number): Phase {
  const firstTap = (phase + padBefore) % stride;
  const taps = firstTap < kernel ? Math.ceil((kernel - firstTap) / stride) : 0;
  const offset = Math.floor((phase + padBefore) / stride);
  const before = taps - 1 - offset;
  const after = outCount - dyCount - before + taps - 1;
  return { firstTap, taps, before, after };
}

function stridedInputGradient(s: Scratch, backend: KernelBackend, dy: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const stride = info.strideHeight;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, filterHeight: kh, filterWidth: kw, outChannels: co } = info;
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const rows = Math.ceil(h / stride);
  const cols = Math.ceil(w / stride);
  const phaseRows: TensorInfo[] = [];
  for (let ph = 0; ph < stride; ph++) {
    const pr = phaseAlongAxis(ph, stride, kh, info.padInfo.top, ho, rows);
    const pieces: TensorInfo[] = [];
    for (let pw = 0; pw < stride; pw++) {
      const pc = phaseAlongAxis(pw, stride, kw, info.padInfo.left, wo, cols);
      let out: TensorInfo;
      if (pr.taps === 0 || pc.taps === 0) {
        out = s.op(Fill, {}, { shape: [n, rows, cols, ci], value: 0, dtype: "float32" });
      } else {
        // Sub-filter W[firstTap + stride*t], rotated 180 degrees, channels swapped: [tr, tc, Co, Ci].
        const cropped = cropForNegativePads(s, dy, pr.before, pr.after, pc.before, pc.after);
        if (useSimdConv2D && dy.dtype === "float32") {
          // our kernels rotate and swap while packing: only the phase's taps are gathered here
          const taps = rotatedTaps(s, backend, filter, pr.firstTap, pc.firstTap, stride, false);
          const flippedInfo = convInfoFor(cropped.x.shape, [pr.taps, pc.taps, co, ci], { strides: 1, pad: cropped.pads, dataFormat: "NHWC" });
          out = s.adopt(convForward(backend, cropped.x, taps, flippedInfo, true));
        } else {
          const flipped = rotatedTaps(s, backend, filter, pr.firstTap, pc.firstTap, stride);
          const rotated = s.op(Transpose, { x: flipped }, { perm: [0, 1, 3, 2] });
          out = conv2d(s, cropped.x, rotated, cropped.pads, 1); // [n, rows, cols, ci]
        }
      }
      pieces.push(s.op(Reshape, { x: out }, { shape: [n, rows, cols, 1, ci] }));
    }
    const interleavedW = s.op(Concat, pieces, { axis: 3 }); // [n, rows, cols, s, ci]
    phaseRows.push(s.op(Reshape, { x: interleavedW }, { shape: [n, rows, 1, cols * stride, ci] }));
  }
  const interleaved = s.op(Concat, phaseRows, { axis: 2 }); // [n, rows, s, cols*s, ci]
  const full = s.op(Reshape, { x: interleaved }, { shape: [n, rows * stride, cols * stride, ci] });
  if (rows * stride === h && cols * stride === w) return full;
  return s.op(Slice, { x: full }, { begin: [0, 0, 0, 0], size: [n, h, w, ci] });
}

export function conv2dBackpropInputWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { dy, filter } = args.inputs as unknown as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const info = convInfoFor(attrs.inputShape, filter.shape, attrs);
  if (info.strideHeight !== info.strideWidth) throw new Error("wasm Conv2DBackpropInput: unequal strides are not supported");
  const s = new Scratch(args.backend);
  if (info.strideHeight > 1) return s.finish(stridedInputGradient(s, args.backend, dy, filter, info));
  const { filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w } = info;
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = h + kh - 1 - ho - top;
  const right = w + kw - 1 - wo - left;
  const cropped = cropForNegativePads(s, dy, top, bottom, left, right);
  if (useSimdConv2D && dy.dtype === "float32") {
    // our kernels read the filter rotated and transposed while packing it (52 ms of a 64-px ResNet-18
    // step went to materialising that copy with tfjs's Transpose, 129 ms of a ResNet-50 one)
    const [, , ci, co] = filter.shape as [number, number, number, number];
    const flippedInfo = convInfoFor(cropped.x.shape, [kh, kw, co, ci], { strides: 1, pad: cropped.pads, dataFormat: "NHWC" });
    return s.finish(s.adopt(convForward(args.backend, cropped.x, filter, flippedInfo, true)));
  }
  const flipped = rotatedTaps(s, args.backend, filter, 0, 0, 1);
  const rotated = s.op(Transpose, { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, Co, Ci]
  return s.finish(conv2d(s, cropped.x, rotated, cropped.pads, 1));
}

let useSimdMaxPoolGrad = true;
/** For benchmarks and tests: tfjs's own MaxPoolGrad (false) or ours (true). */
export function setSimdMaxPoolGrad(on: boolean): void {
  useSimdMaxPoolGrad = on;
}

/** tfjs-backend-wasm's own kernels that ours replace, kept callable (benchmarks, tests, the cases ours do not take). */
const stockKernels = new Map<string, KernelConfig>();
/** Per backend, the stock kernels whose setup has run. */
const stockSetUp = new WeakMap<object, Set<string>>();

export function runStock(name: string, args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const kernel = stockKernels.get(name);
  if (!kernel) throw new Error(`bug: tfjs-backend-wasm's ${name} was not found`);
  // Unregistered, the stock kernel's setup (its cwrap) did not run on this backend.
  let done = stockSetUp.get(args.backend);
  if (!done) stockSetUp.set(args.backend, (done = new Set()));
  if (!done.has(name)) kernel.setupFunc?.(args.backend);
  done.add(name);
  return kernel.kernelFunc(args as Parameters<KernelConfig["kernelFunc"]>[0]) as TensorInfo;
}

/**
 * MaxPoolGrad as our SIMD kernel (trainer/wasm/kernels.c), split by images across our threads;
 * tfjs-backend-wasm's is a scalar loop on one thread. The same tie rule as the cpu backend: the
 * first maximum of a window in row-major order gets the gradient.
 */
export function maxPoolGradWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  if (!useSimdMaxPoolGrad && stockKernels.has(MaxPoolGrad)) return runStock(MaxPoolGrad, args);
  const { dy, input } = args.inputs as unknown as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  if (input.dtype !== "float32") throw new Error(`wasm MaxPoolGrad: float32 only, got ${input.dtype}`);
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return poolGrad(args.backend, "maxpool_grad", [pointerOf(args.backend, input), pointerOf(args.backend, dy)], info);
}

/**
 * A pooling gradient kernel (maxpool_grad, avgpool_grad) on the images split across our threads: its
 * `inputs` pointers, then dx (shaped as the pool's input), then the pool's geometry from `info`.
 */
function poolGrad(backend: KernelBackend, kernel: "maxpool_grad" | "avgpool_grad", inputs: number[], info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const dx = (backend as WasmHeapBackend).makeOutput([n, h, w, c], "float32");
  runSplit(backend, kernel, [...inputs, pointerOf(backend, dx), n, h, w, c, ho, wo, kh, kw, sh, sw, info.padInfo.top, info.padInfo.left],
    n, 1, Math.ceil(splitPolicy.minPoolElementsPerThread / Math.max(1, h * w * c)));
  return dx;
}

let useSimdAvgPoolGrad = true;
/** For benchmarks and tests: tfjs's own AvgPoolGrad (false) or ours (true). */
export function setSimdAvgPoolGrad(on: boolean): void {
  useSimdAvgPoolGrad = on;
}

/**
 * AvgPoolGrad as our SIMD kernel, split by images across our threads, for windows that do not overlap
 * (the ResBlock shortcut's 2x2 stride-2 pool). tfjs-backend-wasm's is a scalar loop on one thread (14.4
 * of a 64-px ResNet-50 step's ~750 ms on one shape alone), and it divides by kh * kw even where its
 * forward pass ('same' padding) averaged fewer cells: on odd maps (multi-size training) the gradient
 * of the edge windows was 2-4x too small. Ours divides by the cells averaged, as the forward pass and
 * PyTorch's ceil_mode do. Overlapping windows go to tfjs's.
 */
export function avgPoolGradWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { dy, input } = args.inputs as unknown as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as unknown as AvgPoolGradAttrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad);
  const overlapping = info.filterHeight > info.strideHeight || info.filterWidth > info.strideWidth;
  if (!useSimdAvgPoolGrad || input.dtype !== "float32" || overlapping) return runStock(AvgPoolGrad, args);
  return poolGrad(args.backend, "avgpool_grad", [pointerOf(args.backend, dy)], info);
}

let useSimdConv2D = true;
/** For benchmarks and tests: XNNPACK's Conv2D (false) or ours (true). */
export function setSimdConv2D(on: boolean): void {
  useSimdConv2D = on;
}

/**
 * Conv2D (NHWC, dilation 1, equal strides) as our SIMD kernel, split by output channels across our
 * threads: XNNPACK's convolution in tfjs-backend-wasm 4.22 runs at ~17 GMAC/s whether the backend has
 * 1 or 2 threads (measured: bench/train/kernels.ts), ours at about that per thread. Everything else
 * (dilations, NCHW, unequal strides) goes to XNNPACK. The input gradients above run
 * through this too.
 */
export function conv2dWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x, filter } = args.inputs as unknown as { x: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as Conv2DAttrs;
  const dil = attrs.dilations ?? 1;
  const dilated = typeof dil === "number" ? dil !== 1 : dil[0] !== 1 || dil[1] !== 1;
  const strides = typeof attrs.strides === "number" ? [attrs.strides, attrs.strides] : attrs.strides;
  // The stem's RGB input (3 channels) too: 3.0 ms against XNNPACK's 3.5 for 32x128x128x3 -> 32 at
  // stride 2 on 2 threads, 1.0 against 0.9 at 64 px (steady state; the first call of a process, before
  // V8 tiers a kernel up, takes 40-70 ms either way).
  if (!useSimdConv2D || dilated || attrs.dataFormat === "NCHW" || strides[0] !== strides[1] || x.dtype !== "float32") {
    return runStock(Conv2D, args);
  }
  return convForward(args.backend, x, filter, convInfoFor(x.shape, filter.shape, attrs), false);
}

/**
 * y = conv(x, filter) by our kernels, for `info` (NHWC, equal strides). With `flip`, `filter` is a
 * [kh, kw, Co, Ci] filter used rotated by 180 degrees with its channels swapped (info describes the
 * [kh, kw, Ci, Co] one), as the input gradient needs it: the kernels read it that way while packing.
 */
function convForward(backend: KernelBackend, x: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo, flip: boolean): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co, filterHeight: kh, filterWidth: kw, strideHeight: stride } = info;
  const heap = backend as WasmHeapBackend;
  const y = heap.makeOutput([n, ho, wo, co], "float32");
  if (kh === 3 && kw === 3 && stride === 1) {
    const big = winograd === "force43" || (winograd === "auto" && winograd43Pays(ho, wo));
    if (big || winograd === "force" || ((winograd === "auto" || winograd === "auto-2x2") && winogradForwardPays(ho, wo, info.padInfo.top, info.padInfo.left, h, w))) {
      winogradConv(backend, x, filter, y, info, flip, big ? 4 : 2);
      return y;
    }
  }
  const packed = heap.makeOutput([Math.ceil(co / 8) * 8 * kh * kw * ci], "float32");
  const macsPerChannel = kh * kw * ci * n * ho * wo;
  // A 1x1 stride-1 unpadded convolution is a matrix product over all N*H*W pixels: as one image row,
  // every pixel goes through the 4-pixel tiles (a 2x2 map has no whole tile of 4 along its rows).
  const p = info.padInfo;
  const [n2, h2, w2, ho2, wo2] = kh === 1 && kw === 1 && stride === 1 && p.top + p.left + p.bottom + p.right === 0 ? [1, 1, n * h * w, 1, n * h * w] : [n, h, w, ho, wo];
  runSplit(backend, "conv2d_forward", [pointerOf(backend, x), pointerOf(backend, filter), pointerOf(backend, y), pointerOf(backend, packed),
    n2, h2, w2, ci, ho2, wo2, co, kh, kw, stride, p.top, p.left, flip ? 1 : 0], co, 8, Math.max(8, Math.ceil(splitPolicy.minMacsPerThread / macsPerChannel)));
  backend.disposeData(packed.dataId);
  return y;
}

/**
 * 3x3 stride-1 convolutions (the forward pass and, rotated, their input gradients: most of a ResNet's
 * multiply-adds) as Winograd F(2x2, 3x3) (trainer/wasm/kernels.c): 16 multiply-adds per 2x2 output
 * tile and channel pair instead of 36; on maps from about 8x8 on, F(4x4, 3x3) (winograd43Pays): 36
 * per 4x4 tile instead of 144, 1.34-1.43x faster than F(2x2, 3x3) there on one thread, with more
 * rounding (up to ~2e-4 of the largest output against ~1e-5). "auto" (default) picks by map size,
 * "auto-2x2" never F(4x4), "off" never Winograd, "force" / "force43" F(2x2) / F(4x4) for every 3x3
 * stride-1 shape (tests).
 */
export type WinogradMode = "auto" | "auto-2x2" | "off" | "force" | "force43";
let winograd: WinogradMode = "auto";
/** For benchmarks and tests. */
export function setWinograd(mode: WinogradMode): void {
  winograd = mode;
}

/**
 * Whether the 2x2 tiles of the filter gradient save enough: direct work 9 per output pixel, Winograd 16
 * per (padded) tile of 4; on 1x1 and 3x3 maps (ratio 0.56 and 1.27) the transforms eat the gain, from
 * 2x2 (2.25) and 5x5 (1.56) on it pays (F(3x3, 2x2) 2.1x the direct kernels on 2x2 maps, one thread).
 */
export function winogradPays(ho: number, wo: number): boolean {
  return (9 * ho * wo) / (16 * Math.ceil(ho / 2) * Math.ceil(wo / 2)) >= 1.5;
}

/** The (output pixel, filter tap) pairs along one side of a 3x3 stride-1 convolution that read x, not padding. */
function insideTaps(out: number, pad: number, inSize: number): number {
  let taps = 0;
  for (let o = 0; o < out; o++) for (let k = 0; k < 3; k++) if (o - pad + k >= 0 && o - pad + k < inSize) taps++;
  return taps;
}

/**
 * Whether F(2x2, 3x3) beats the direct forward kernel (forward passes and input gradients), which
 * skips the padding's taps: its time follows the taps inside x, Winograd's 16 per tile of 4. Measured
 * (`bench/train/winograd.mjs`, one thread, batch 32, pad 1), Winograd's speed-up is about 0.9x the
 * ratio of the two: 2x2 maps 0.83x (ratio 1.0), 3x3 0.74x (0.77), 5x5 1.12x (1.17), 2x12 1.28x (1.42),
 * 4x4 1.43x (1.56), 6x6 1.65x (1.78). So from a ratio of 1.1 on.
 */
export function winogradForwardPays(ho: number, wo: number, padTop = 1, padLeft = padTop, h = ho + 2 - 2 * padTop, w = wo + 2 - 2 * padLeft): boolean {
  return (insideTaps(ho, padTop, h) * insideTaps(wo, padLeft, w)) / (16 * Math.ceil(ho / 2) * Math.ceil(wo / 2)) >= 1.1;
}

/**
 * Where F(4x4, 3x3) beats F(2x2, 3x3): maps of at least 7x7 whose 4x4 tiles cover at least 3/4 of the
 * computed outputs (measured, one thread, batch 32: 8x8 and larger 1.34-1.43x faster, 4x4 0.91x).
 */
export function winograd43Pays(ho: number, wo: number): boolean {
  return ho >= 7 && wo >= 7 && (ho * wo) / (16 * Math.ceil(ho / 4) * Math.ceil(wo / 4)) >= 0.75;
}

/**
 * Tiles per Winograd chunk: 64, fewer with many channels, so that a chunk's transformed inputs and
 * products stay in L2 (from 32 to 512 tiles the time moved by under 5%: 32x32x32x32 -> 32 .. 32x2x2x512 -> 512).
 */
function winogradChunk(ci4: number, co8: number): number {
  return Math.max(4, Math.min(64, Math.floor(8192 / Math.max(ci4, co8)) & ~3));
}

function winogradConv(backend: KernelBackend, x: TensorInfo, filter: TensorInfo, y: TensorInfo, info: backend_util.Conv2DInfo, flip: boolean, m: 2 | 4): void {
  const heap = backend as WasmHeapBackend;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const ci4 = Math.ceil(ci / 4) * 4;
  const co8 = Math.ceil(co / 8) * 8;
  const k = (m + 2) * (m + 2); // transformed positions per tile: 16 or 36
  const u = heap.makeOutput([k * co8 * ci], "float32");
  runSplit(backend, m === 4 ? "winograd43_filter_transform" : "winograd_filter_transform", [pointerOf(backend, filter), pointerOf(backend, u), ci, co, flip ? 1 : 0], co, 8,
    Math.max(8, Math.ceil(splitPolicy.minMacsPerThread / (16 * k * ci))));
  const tiles = n * Math.ceil(ho / m) * Math.ceil(wo / m);
  const chunk = winogradChunk(ci4, co8);
  const scratch = heap.makeOutput([kernelSlots(backend) * k * (chunk * (ci4 + co8) + 32)], "float32");
  runSplit(backend, m === 4 ? "winograd43_conv" : "winograd_conv", [pointerOf(backend, x), pointerOf(backend, u), pointerOf(backend, y), pointerOf(backend, scratch),
    n, h, w, ci, ho, wo, co, info.padInfo.top, info.padInfo.left, chunk], tiles, 4, Math.max(4, Math.ceil(splitPolicy.minMacsPerThread / (k * ci * co))));
  backend.disposeData(u.dataId);
  backend.disposeData(scratch.dataId);
}

let shareIdentity = true;
/** For benchmarks and tests: tfjs-backend-wasm's copying Identity (false) or the sharing one (true). */
export function setSharedIdentity(on: boolean): void {
  shareIdentity = on;
}

/**
 * Identity shares the input's memory (a reference count, as the wasm Reshape and the cpu backend's
 * Identity do) instead of copying it: tfjs tensors are immutable and no wasm kernel writes into its
 * inputs. tf.customGrad clones every tensor it saves for the backward pass (BatchNorm saves its
 * input), so tfjs-backend-wasm's copying Identity cost a full copy of every BatchNorm input per step.
 */
export function identityWasm(args: { inputs: Inputs; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x } = args.inputs as unknown as { x: TensorInfo };
  if (!shareIdentity || x.dtype === "string") return runStock(Identity, args);
  (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const KERNELS: KernelConfig[] = [
  { kernelName: Identity, backendName: BACKEND, kernelFunc: identityWasm as unknown as KernelConfig["kernelFunc"] },
  { kernelName: Conv2D, backendName: BACKEND, kernelFunc: conv2dWasm as unknown as KernelConfig["kernelFunc"] },
  { kernelName: MaxPoolGrad, backendName: BACKEND, kernelFunc: maxPoolGradWasm as unknown as KernelConfig["kernelFunc"] },
  { kernelName: AvgPoolGrad, backendName: BACKEND, kernelFunc: avgPoolGradWasm as unknown as KernelConfig["kernelFunc"] },
  { kernelName: Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2dBackpropFilterWasm as unknown as KernelConfig["kernelFunc"] },
  { kernelName: Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2dBackpropInputWasm as unknown as KernelConfig["kernelFunc"] },
];

let registered = false;

/** Registers (or replaces) our wasm kernels. Idempotent. */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const name of [MaxPoolGrad, AvgPoolGrad, Conv2D, Identity, FusedBatchNorm]) {
    const kernel = getKernel(name, BACKEND);
    if (kernel) stockKernels.set(name, kernel);
  }
  for (const kernel of KERNELS) {
    if (getKernel(kernel.kernelName, kernel.backendName)) unregisterKernel(kernel.kernelName, kernel.backendName);
    registerKernel(kernel);
  }
  registered = true;
}
