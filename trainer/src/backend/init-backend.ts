import * as tf from "@tensorflow/tfjs-core";
import { existsSync, readdirSync } from "node:fs";
import { loadBestNative } from "./tensorflow.ts";
import { initWasmBackend } from "./wasm.ts";
import { describeAdapter, initWebGpuBackend, type AdapterSummary } from "./webgpu.ts";

export const BACKEND_CHOICES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendOptions {
  /** wasm threads, for XNNPACK and our kernels (default: 1; 2 on a quiet 2-core machine is worth ~1.7x on inference). */
  threads?: number;
  /** Where one-line notices and the final choice are reported (the CLI passes console.error). */
  log?: (line: string) => void;
}

export interface BackendInfo {
  /** tfjs backend name now active: "tensorflow", "webgpu", "wasm" or "cpu". */
  name: string;
  /** webgpu: the adapter it runs on. */
  adapter?: AdapterSummary;
  /** Set when the choice fell back or something is worth telling the user. */
  notice?: string;
}

export function isBackendChoice(value: string): value is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(value);
}

/**
 * Selects and initialises the tfjs backend.
 * - tensorflow: tfjs-node-gpu when a GPU is visible, else tfjs-node; an error if it cannot load.
 * - webgpu: tfjs-backend-webgpu on Dawn (webgpu.ts); any adapter, a CPU emulation too (with a notice).
 * - wasm: tfjs-backend-wasm with our extra kernels (and threads if asked).
 * - cpu: pure JS, slow; a reference.
 * - auto: tfjs-node-gpu (CUDA) when it loads; else webgpu on a hardware adapter (never a software
 *   one on its own: lavapipe/llvmpipe/SwiftShader are slower than wasm); else native CPU TensorFlow;
 *   else wasm. It says in one line what it picked and why.
 */
export async function initBackend(choice: BackendChoice, opts: BackendOptions = {}): Promise<BackendInfo> {
  const log = opts.log ?? (() => {});
  if (!isBackendChoice(choice)) {
    throw new Error(`unknown backend "${String(choice)}": choose one of ${BACKEND_CHOICES.join(", ")}`);
  }
  let info: BackendInfo;
  if (choice === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu");
    await setBackendOrThrow("cpu");
    info = { name: "cpu" };
  } else if (choice === "wasm") {
    info = await initWasmBackend({ threads: opts.threads ?? 1 });
  } else if (choice === "webgpu") {
    info = await initWebGpuBackend({ allowSoftware: true });
  } else {
    const loaded = await loadBestNative();
    if (loaded.ok && (choice === "tensorflow" || loaded.pkg === "@tensorflow/tfjs-node-gpu")) {
      await setBackendOrThrow("tensorflow");
      info = { name: "tensorflow", notice: `${choice === "auto" ? "auto: " : ""}native TensorFlow from ${loaded.pkg}` };
    } else if (choice === "tensorflow") {
      throw new Error(`--backend tensorflow: ${(loaded as { notice: string }).notice}`);
    } else {
      const gpu = await tryHardwareWebGpu();
      if (gpu.ok) {
        info = { ...gpu.info, notice: `auto: webgpu on ${describeAdapter(gpu.info.adapter!)}` };
      } else if (loaded.ok) {
        await setBackendOrThrow("tensorflow");
        info = { name: "tensorflow", notice: `auto: ${gpu.why}; native TensorFlow from ${loaded.pkg}` };
      } else {
        const wasm = await initWasmBackend({ threads: opts.threads ?? 1 });
        info = { ...wasm, notice: [`auto: ${gpu.why}; ${loaded.notice}; using wasm`, wasm.notice].filter(Boolean).join("; ") };
      }
    }
  }
  if (info.notice) log(info.notice);
  log(`backend: ${describeBackend(info)}`);
  return info;
}

/** A GPU device node: NVIDIA, DRM render nodes (AMD, Intel, NVIDIA open), AMD compute. */
export function gpuDeviceNodes(root = "/dev"): string[] {
  const found: string[] = [];
  if (existsSync(`${root}/nvidia0`)) found.push(`${root}/nvidia0`);
  if (existsSync(`${root}/kfd`)) found.push(`${root}/kfd`);
  try {
    for (const name of readdirSync(`${root}/dri`)) if (name.startsWith("renderD")) found.push(`${root}/dri/${name}`);
  } catch {
    // no /dev/dri
  }
  return found;
}

/**
 * auto's WebGPU step. Without a GPU device node there is nothing but a CPU emulation to find, so
 * Dawn is not even loaded (it costs ~0.3 s and prints driver warnings).
 */
async function tryHardwareWebGpu(): Promise<{ ok: true; info: BackendInfo } | { ok: false; why: string }> {
  const nodes = gpuDeviceNodes();
  if (nodes.length === 0 && !process.env.RESNET_EDGE_WEBGPU_DRIVER) {
    return { ok: false, why: "no GPU device (/dev/nvidia0, /dev/dri/renderD*) so no webgpu" };
  }
  try {
    return { ok: true, info: await initWebGpuBackend({ allowSoftware: false }) };
  } catch (error) {
    return { ok: false, why: `webgpu not used (${(error as Error).message.split("\n")[0]})` };
  }
}

async function setBackendOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs could not initialise the "${name}" backend (tf.setBackend returned ${ok}); try --backend wasm or cpu`);
  }
}

function describeBackend(info: BackendInfo): string {
  const name = info.name;
  if (name === "webgpu" && info.adapter) return `webgpu (${describeAdapter(info.adapter)})`;
  if (name !== "wasm") return name;
  const threads = (tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount(): number } } }).wasm?.tfjs?.getThreadsCount();
  return `wasm (${threads ?? "?"} thread${threads === 1 ? "" : "s"})`;
}
