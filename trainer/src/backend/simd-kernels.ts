import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";

/**
 * Our wasm SIMD kernels (trainer/wasm/kernels.c, built by trainer/wasm/build.sh) running inside
 * tfjs-backend-wasm's own memory: the module imports the backend's WebAssembly.Memory and is handed
 * tensor pointers, so there are no copies. kernels.wasm imports a plain memory (the single-threaded
 * SIMD build), kernels-shared.wasm a shared one (the threaded build). Loaded on first use, once per
 * backend instance.
 *
 * Threads: tfjs's pthreads belong to XNNPACK and run only its operators, so with the threaded build
 * (shared memory) we start threads-1 Node worker_threads of our own, each with an instance of the
 * same module on the same memory. A call is split by output channels: the main thread takes the
 * first share and waits (Atomics.wait) for the workers' shares. No output is written twice, so no
 * reduction is needed.
 *
 * Relaxed SIMD: where the engine accepts f32x4.relaxed_madd, the convolutions run from
 * kernels-relaxed.wasm / kernels-shared-relaxed.wasm, whose multiply-add is one fused instruction
 * on CPUs with FMA (see MADD in kernels.c). Node 20's V8 has it behind --experimental-wasm-relaxed-simd,
 * which relaxedSimdAvailable() sets for the process (later V8s ship it). RESNET_EDGE_RELAXED_SIMD=0 (or
 * setRelaxedSimd(false)) keeps the separate multiply and add.
 */

type Fn = (...args: number[]) => void;
interface KernelExports {
  conv2d_filter_grad: Fn;
  bn_partial_moments: Fn;
  bn_partial_grad_sums: Fn;
  channel_affine: Fn;
  maxpool_grad: Fn;
  avgpool_grad: Fn;
  conv2d_forward: Fn;
  conv2d_filter_grad_packed: Fn;
  winograd_filter_transform: Fn;
  winograd_conv: Fn;
  winograd_filter_grad: Fn;
  conv1x1_filter_grad: Fn;
  adam_step: Fn;
  relu_grad: Fn;
  winograd43_filter_transform: Fn;
  winograd43_conv: Fn;
}

/** The parts of BackendWasm (and its Emscripten module) this needs. */
interface WasmBackendInternals {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

type KernelName = keyof KernelExports;
const KERNEL_NAMES: KernelName[] = ["conv2d_filter_grad", "bn_partial_moments", "bn_partial_grad_sums", "channel_affine", "maxpool_grad", "avgpool_grad", "conv2d_forward", "conv2d_filter_grad_packed", "winograd_filter_transform", "winograd_conv", "winograd_filter_grad", "conv1x1_filter_grad", "adam_step", "relu_grad", "winograd43_filter_transform", "winograd43_conv"];

/** Control block shared with the workers (Int32 slots). */
const SEQ = 0; // bumped by the main thread for each job; workers wait on it
const DONE = 1; // workers that finished the current job
const FAILED = 2; // set by a worker whose share threw
const FN = 3; // index into KERNEL_NAMES, -1 = exit
const NARGS = 4;
const ARGS = 8; // up to 32 arguments
const RANGES = 40; // [begin, end) per worker
const MAX_WORKERS = 16;
const WORKER_TIMEOUT_MS = 120_000;

const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, index, names } = workerData;
const c = new Int32Array(control);
let exports;
try {
  exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
} catch (e) {
  exports = undefined; // every job of this worker then fails (below), so the caller never waits forever
}
let seq = 0;
for (;;) {
  Atomics.wait(c, ${SEQ}, seq);
  seq = Atomics.load(c, ${SEQ});
  const fn = c[${FN}];
  if (fn < 0) break;
  try {
    if (!exports) throw new Error("no kernel instance");
    const begin = c[${RANGES} + 2 * index], end = c[${RANGES} + 2 * index + 1];
    if (end > begin) exports[names[fn]](...Array.from(c.subarray(${ARGS}, ${ARGS} + c[${NARGS}])), begin, end, index + 1);
  } catch (e) {
    Atomics.store(c, ${FAILED}, 1);
  }
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

interface Pool {
  control: Int32Array;
  workers: Worker[];
}

interface Kernels {
  exports: KernelExports;
  pool?: Pool;
}

const instances = { simd: new WeakMap<object, Kernels>(), relaxed: new WeakMap<object, Kernels>() };

/** (v128, v128, v128) -> v128 = f32x4.relaxed_madd of its params: validates only where relaxed SIMD is on. */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);
let relaxedSupport: boolean | undefined;

/** Whether this engine runs relaxed-SIMD wasm, after enabling V8's flag for it where one exists (once per process). */
export function relaxedSimdAvailable(): boolean {
  if (relaxedSupport === undefined) {
    if (!WebAssembly.validate(RELAXED_PROBE)) {
      try {
        setFlagsFromString("--experimental-wasm-relaxed-simd");
      } catch {
        // not V8, or the flag is gone: the probe below decides
      }
    }
    relaxedSupport = WebAssembly.validate(RELAXED_PROBE);
  }
  return relaxedSupport;
}

/** RESNET_EDGE_RELAXED_SIMD=0 at start-up: read once, not on every kernel call. */
const RELAXED_BY_ENV = process.env.RESNET_EDGE_RELAXED_SIMD !== "0";
let relaxedOverride: boolean | undefined;
/** For benchmarks and tests: false = the separate multiply and add; true/undefined = relaxed where available (the default). */
export function setRelaxedSimd(on: boolean | undefined): void {
  relaxedOverride = on;
}

/** Which build the kernels run from now: "relaxed-simd" (fused multiply-add) or "simd". */
export function kernelVariant(): "relaxed-simd" | "simd" {
  const wanted = relaxedOverride ?? RELAXED_BY_ENV;
  return wanted && relaxedSimdAvailable() ? "relaxed-simd" : "simd";
}
const moduleBytes = new Map<string, WebAssembly.Module>();

function compiled(file: string): WebAssembly.Module {
  let mod = moduleBytes.get(file);
  if (!mod) {
    mod = new WebAssembly.Module(readFileSync(new URL(`../../wasm/${file}`, import.meta.url)));
    moduleBytes.set(file, mod);
  }
  return mod;
}

/** The backend's memory: the threaded build creates it in JS (Module.wasmMemory), the plain build exports it. */
export function backendMemory(backend: KernelBackend): WebAssembly.Memory {
  const wasm = (backend as unknown as WasmBackendInternals).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error("bug: cannot find tfjs-backend-wasm's WebAssembly.Memory");
  return memory;
}

function threadsOf(backend: KernelBackend): number {
  const wasm = (backend as unknown as { wasm: { tfjs?: { getThreadsCount?(): number } } }).wasm;
  return Math.max(1, Math.min(MAX_WORKERS + 1, wasm.tfjs?.getThreadsCount?.() ?? 1));
}

/** Calls that were split across threads (tests check that the worker path ran). */
export const poolStats = { splitCalls: 0 };

let threadOverride: number | undefined;
/** For benchmarks: run our kernels on this many threads (at most the backend's), or undefined = the backend's count. */
export function setKernelThreads(threads: number | undefined): void {
  threadOverride = threads;
}

function kernelsFor(backend: KernelBackend): Kernels {
  const relaxed = kernelVariant() === "relaxed-simd";
  const cache = relaxed ? instances.relaxed : instances.simd;
  let k = cache.get(backend);
  if (!k) {
    const memory = backendMemory(backend);
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const mod = compiled(`kernels${shared ? "-shared" : ""}${relaxed ? "-relaxed" : ""}.wasm`);
    const instance = new WebAssembly.Instance(mod, { env: { memory } });
    k = { exports: instance.exports as unknown as KernelExports };
    const threads = threadsOf(backend);
    if (shared && threads > 1) {
      const control = new Int32Array(new SharedArrayBuffer(4 * (RANGES + 2 * MAX_WORKERS)));
      const workers = Array.from({ length: threads - 1 }, (_, index) => {
        const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: mod, memory, control: control.buffer, index, names: KERNEL_NAMES } });
        worker.unref();
        return worker;
      });
      k.pool = { control, workers };
    }
    cache.set(backend, k);
  }
  return k;
}

export function simdKernels(backend: KernelBackend): KernelExports {
  return kernelsFor(backend).exports;
}

/** How many threads (slots 0..n-1) a split call may use: a kernel's per-thread scratch is sized by this. */
export function kernelSlots(backend: KernelBackend): number {
  return 1 + (kernelsFor(backend).pool?.workers.length ?? 0);
}

/**
 * Runs kernel `name` with `args` followed by a [begin, end) range and the thread's slot (0 = the
 * calling thread; kernels that need no scratch ignore it), over [0, total) split across the
 * threads in pieces that are multiples of `align`, on as many threads as have about `minPerThread` each.
 */
export function runSplit(backend: KernelBackend, name: KernelName, args: number[], total: number, align: number, minPerThread = align): void {
  const k = kernelsFor(backend);
  const fn = k.exports[name] as (...a: number[]) => void;
  const pool = k.pool;
  const maxThreads = Math.min(1 + (pool?.workers.length ?? 0), threadOverride ?? Infinity);
  const units = Math.ceil(total / align);
  const threads = Math.max(1, Math.min(maxThreads, units, Math.ceil(total / Math.max(1, minPerThread))));
  if (!pool || threads < 2) {
    fn(...args, 0, total, 0);
    return;
  }
  poolStats.splitCalls++;
  const c = pool.control;
  const bounds = Array.from({ length: threads + 1 }, (_, t) => Math.min(total, Math.round((units * t) / threads) * align));
  for (let w = 0; w < pool.workers.length; w++) {
    const t = w + 1;
    c[RANGES + 2 * w] = t < threads ? bounds[t]! : 0;
    c[RANGES + 2 * w + 1] = t < threads ? bounds[t + 1]! : 0;
  }
  c[FN] = KERNEL_NAMES.indexOf(name);
  c[NARGS] = args.length;
  for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i]!;
  Atomics.store(c, DONE, 0);
  Atomics.store(c, FAILED, 0);
  Atomics.add(c, SEQ, 1);
  Atomics.notify(c, SEQ);
  fn(...args, bounds[0]!, bounds[1]!, 0);
  const expected = pool.workers.length;
  // A worker that never answers (it could not start) would block this thread for good: give up after
  // WORKER_TIMEOUT_MS without progress (a whole call takes well under a second at batch 32).
  let last = performance.now();
  for (let done = Atomics.load(c, DONE); done < expected; done = Atomics.load(c, DONE)) {
    if (Atomics.wait(c, DONE, done, 1000) !== "timed-out") last = performance.now();
    else if (performance.now() - last > WORKER_TIMEOUT_MS) {
      throw new Error(`wasm kernel ${name}: a worker thread did not answer within ${WORKER_TIMEOUT_MS / 1000} s; run with --threads 1`);
    }
  }
  if (Atomics.load(c, FAILED)) throw new Error(`wasm kernel ${name} failed in a worker thread`);
}

/** Byte offset of a tensor's data in the backend's memory. */
export function pointerOf(backend: KernelBackend, info: TensorInfo): number {
  const data = (backend as unknown as WasmBackendInternals).dataIdMap.get(info.dataId);
  if (!data) throw new Error("bug: tensor is not on the wasm backend");
  return data.memoryOffset;
}
