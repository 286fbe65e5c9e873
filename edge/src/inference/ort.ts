// The ONLY file that imports onnxruntime-web. It owns wasm start-up, session creation and release,
// and serialises every call into the wasm backend (one instance per isolate, not re-entrant).
//
// workerd forbids compiling wasm from bytes and has no import.meta.url, so ORT cannot fetch or compile
// its own .wasm. The worker entry imports the .wasm file (wrangler turns it into a compiled
// WebAssembly.Module) and hands it to `initOrt`. We give ORT a few marker bytes as `wasmBinary`, and
// when ORT calls `WebAssembly.instantiate(<marker>, imports)` we instantiate the pre-compiled module
// instead. Keeping the instance also lets us read the wasm heap size (its exported Memory).
import * as ort from "onnxruntime-web/wasm";
import { createMutex } from "./mutex.ts";

export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "layout" | "all";

export interface SessionOptions {
  graphOptimizationLevel?: GraphOptimizationLevel;
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** Pin symbolic input dims, e.g. { N: 1 } (bench/edge/options.ts measures whether it helps). */
  freeDimensionOverrides?: Record<string, number>;
}

export const DEFAULT_SESSION_OPTIONS: Required<Omit<SessionOptions, "freeDimensionOverrides">> = {
  graphOptimizationLevel: "all",
  enableCpuMemArena: true,
  enableMemPattern: true,
};

export interface InferenceOutput {
  data: Float32Array;
  dims: readonly number[];
}

export interface OrtSession {
  readonly inputName: string;
  readonly outputName: string;
  /** Run one NCHW float32 tensor; calls are queued behind every other call into the wasm backend. */
  run(data: Float32Array, dims: readonly number[]): Promise<InferenceOutput>;
  /** Free the session's wasm memory (after any queued runs). The heap itself never shrinks. */
  release(): Promise<void>;
}

const MARKER = new TextEncoder().encode("resnet-edge:precompiled-ort-wasm");
const wasmCalls = createMutex();
let initialised: Promise<void> | undefined;
let memory: WebAssembly.Memory | undefined;

function isMarker(x: unknown): boolean {
  if (!(x instanceof Uint8Array) && !(x instanceof ArrayBuffer)) return false;
  const b = x instanceof Uint8Array ? x : new Uint8Array(x);
  return b.length === MARKER.length && b.every((v, i) => v === MARKER[i]);
}

/** ORT's linear memory: exported by the instance, or (threaded builds) passed in through the imports. */
function findMemory(instance: WebAssembly.Instance, imports: WebAssembly.Imports | undefined): WebAssembly.Memory | undefined {
  const isMemory = (v: unknown): v is WebAssembly.Memory => v instanceof WebAssembly.Memory;
  const exported = Object.values(instance.exports).find(isMemory);
  if (exported) return exported;
  for (const mod of Object.values(imports ?? {})) {
    const found = Object.values(mod).find(isMemory);
    if (found) return found;
  }
  return undefined;
}

/**
 * Start the ORT wasm backend once per isolate from a compiled module (workerd: the `.wasm` import;
 * Node: `await WebAssembly.compile(bytes)`). Later calls return the first call's promise.
 */
export function initOrt(wasmModule: WebAssembly.Module): Promise<void> {
  initialised ??= (async () => {
    const original = WebAssembly.instantiate;
    const patched = async (source: unknown, imports?: WebAssembly.Imports) => {
      if (!isMarker(source)) return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(source, imports);
      const instance = await original(wasmModule, imports);
      memory = findMemory(instance, imports);
      return { instance, module: wasmModule };
    };
    WebAssembly.instantiate = patched as typeof WebAssembly.instantiate;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = MARKER.slice();
    ort.env.logLevel = "error";
    // Creating a throwaway session is not needed: the backend initialises on the first create().
  })();
  return initialised;
}

/** Current size of ORT's wasm linear memory in bytes, or undefined before the backend started. */
export function wasmHeapBytes(): number | undefined {
  return memory?.buffer.byteLength;
}

/**
 * ORT's create(), in its own function: a closure that names `bytes` inside createSession would put `bytes`
 * in the context every closure of createSession shares, so the session's run/release closures would keep
 * the whole ONNX file (11.3 MB for ResNet-18 int8) alive in the JS heap for the life of the session
 * (measured: bench/edge/isolate-memory.ts, the JS backing stores). ORT itself copies the bytes into wasm.
 */
function openSession(bytes: Uint8Array, opts: SessionOptions): Promise<ort.InferenceSession> {
  return wasmCalls.run(() =>
    ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: opts.graphOptimizationLevel,
      enableCpuMemArena: opts.enableCpuMemArena,
      enableMemPattern: opts.enableMemPattern,
      executionMode: "sequential",
      ...(opts.freeDimensionOverrides && Object.keys(opts.freeDimensionOverrides).length > 0 ? { freeDimensionOverrides: opts.freeDimensionOverrides } : {}),
    }),
  );
}

/** Create a session from ONNX bytes. Throws the ORT error if the bytes are not a model it can load. */
export async function createSession(bytes: Uint8Array, options: SessionOptions = {}): Promise<OrtSession> {
  if (!initialised) throw new Error("createSession called before initOrt(wasmModule)");
  await initialised;
  const session = await openSession(bytes, { ...DEFAULT_SESSION_OPTIONS, ...options });
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  let released = false;
  return {
    inputName,
    outputName,
    run: (data, dims) =>
      wasmCalls.run(async () => {
        if (released) throw new Error("session was released");
        const input = new ort.Tensor("float32", data, dims as number[]);
        const out = await session.run({ [inputName]: input });
        const t = out[outputName]!;
        // Copy out of ORT's buffer before the next call may reuse it, then free the output tensor.
        const result = { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
        t.dispose();
        return result;
      }),
    release: () =>
      wasmCalls.run(async () => {
        if (released) return;
        released = true;
        await session.release();
      }),
  };
}
