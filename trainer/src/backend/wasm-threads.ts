import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { BackendWasm, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

/**
 * Multithreaded XNNPACK for tfjs-backend-wasm in Node.
 *
 * tfjs-backend-wasm never picks its threaded build in Node: its WASM_HAS_MULTITHREAD_SUPPORT flag
 * returns false when IS_NODE (tfjs#3830), and even when forced, its init() hands Emscripten a Blob
 * URL for the pthread worker script and a Blob for the main script, which Node's worker_threads
 * cannot load. The Emscripten output itself supports Node pthreads (worker_threads), so we build
 * the module ourselves:
 *   - the worker script (shipped as a string, `wasmWorkerContents`) is written once to a .cjs file
 *     in the OS temp dir and passed to Emscripten through locateFile;
 *   - `mainScriptUrlOrBlob` is the path of the factory .js, which each worker eval()s;
 *   - the wasm bytes are read from the package and handed over as `wasmBinary`.
 * Then the same cwrap bridge as tfjs's init() and a stock BackendWasm on top: all registered
 * wasm kernels work unchanged.
 *
 * One more gate: the C++ side caps the pool at emscripten_num_logical_cores() / 2 (it assumes two
 * hyper-threads per core), evaluated once in a static constructor while the module starts. In Node
 * that number is os.cpus().length, so on a 2-core machine the cap is 1 thread. While the module
 * starts (and only then) os.cpus() reports 2 x the requested threads; it is restored before this
 * function returns.
 */

const require = createRequire(import.meta.url);

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { terminateAllThreads(): void };
  [key: string]: unknown;
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

function packageDir(): string {
  return dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
}

function workerScriptPath(pkgDir: string): string {
  const { wasmWorkerContents } = require(join(pkgDir, "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js")) as { wasmWorkerContents: string };
  const version = (require(join(pkgDir, "package.json")) as { version: string }).version;
  const dir = join(os.tmpdir(), "resnet-edge-tfjs-wasm");
  const file = join(dir, `threaded-simd-worker-${version}.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Written under a private name, then renamed: concurrent processes never see a partial file.
    const partial = `${file}.${process.pid}.tmp`;
    // The script is shipped inside a template literal, so its "\n" escapes arrived as real line
    // breaks (inside string literals); escape them back, as tfjs's own init does.
    writeFileSync(partial, wasmWorkerContents.replace(/\n/g, "\\n"));
    renameSync(partial, file);
  }
  return file;
}

/** Creates a BackendWasm on the threaded SIMD build with `threads` XNNPACK threads. */
export async function createThreadedWasmBackend(threads: number): Promise<BackendWasm> {
  const pkgDir = packageDir();
  const factoryPath = join(pkgDir, "wasm-out/tfjs-backend-wasm-threaded-simd.js");
  const wasmPath = join(pkgDir, "wasm-out/tfjs-backend-wasm-threaded-simd.wasm");
  const factory = require(factoryPath) as Factory;
  const workerPath = workerScriptPath(pkgDir);

  const realCpus = os.cpus;
  const fakeCount = Math.max(2 * threads, realCpus().length);
  os.cpus = () => {
    const cpus = realCpus();
    return Array.from({ length: fakeCount }, (_, i) => cpus[i % cpus.length]!);
  };
  let module: EmscriptenModule;
  try {
    module = await factory({
      wasmBinary: readFileSync(wasmPath),
      mainScriptUrlOrBlob: factoryPath,
      locateFile: (path: string) => (path.endsWith(".worker.js") ? workerPath : path.endsWith(".wasm") ? wasmPath : path),
    });
  } finally {
    os.cpus = realCpus;
  }
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  setThreadsCount(threads);
  // BackendWasm reads the thread count set above and starts XNNPACK's pool.
  return new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
}
