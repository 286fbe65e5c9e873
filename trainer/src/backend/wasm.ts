import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { registerFusedKernels } from "./fused-kernels.ts";
import { registerBatchNormKernels } from "./batch-norm-kernels.ts";
import { registerWasmKernels } from "./wasm-kernels.ts";
import { createThreadedWasmBackend } from "./wasm-threads.ts";

let activeThreads: number | undefined;

/**
 * tfjs-backend-wasm plus our kernels (wasm-kernels.ts, batch-norm-kernels.ts: wasm SIMD from
 * trainer/wasm/kernels.c, run by simd-kernels.ts). threads > 1 swaps in the threaded SIMD build
 * (wasm-threads.ts), and our kernels then split their work across threads-1 worker threads. The wasm backend cannot be re-created with another thread count inside
 * one process: the first initialisation wins, and a later different request gets a notice.
 */
export async function initWasmBackend(opts: { threads: number }): Promise<{ name: string; notice?: string }> {
  const threads = Math.max(1, Math.floor(opts.threads));
  registerWasmKernels();
  registerBatchNormKernels();
  registerFusedKernels();
  let notice: string | undefined;
  if (activeThreads === undefined) {
    activeThreads = threads;
    if (threads > 1) {
      const stock = tf.findBackendFactory("wasm");
      tf.removeBackend("wasm");
      tf.registerBackend("wasm", () => createThreadedWasmBackend(threads), 2);
      if (!(await tf.setBackend("wasm")) && stock) {
        // e.g. no worker_threads / SharedArrayBuffer: fall back to the single-threaded build.
        tf.removeBackend("wasm");
        tf.registerBackend("wasm", stock, 2);
        activeThreads = 1;
        notice = `wasm: the threaded build did not start, running on 1 thread (see the warning above)`;
      }
    }
  } else if (activeThreads !== threads) {
    notice = `wasm backend already started with ${activeThreads} thread(s) in this process; ignoring threads=${threads}`;
  }
  const ok = await tf.setBackend("wasm");
  if (!ok) throw new Error("tfjs-backend-wasm failed to initialise; see the error above, or use --backend cpu");
  return notice ? { name: "wasm", notice } : { name: "wasm" };
}
