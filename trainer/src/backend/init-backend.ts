import * as tf from "@tensorflow/tfjs-core";
import { loadBestNative } from "./tensorflow.ts";
import { initWasmBackend } from "./wasm.ts";

export const BACKEND_CHOICES = ["auto", "tensorflow", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendOptions {
  /** XNNPACK threads for wasm (default: 1; 2 on a quiet 2-core machine is worth ~1.7x on inference). */
  threads?: number;
  /** Where one-line notices and the final choice are reported (the CLI passes console.error). */
  log?: (line: string) => void;
}

export interface BackendInfo {
  /** tfjs backend name now active: "tensorflow", "wasm" or "cpu". */
  name: string;
  /** Set when the choice fell back or something is worth telling the user. */
  notice?: string;
}

export function isBackendChoice(value: string): value is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(value);
}

/**
 * Selects and initialises the tfjs backend.
 * - tensorflow: tfjs-node-gpu when a GPU is visible, else tfjs-node; an error if it cannot load.
 * - wasm: tfjs-backend-wasm with our extra kernels (and threads if asked).
 * - cpu: pure JS, slow; a reference.
 * - auto: native TensorFlow when it loads, else wasm (the fastest of what is installed), said in a notice.
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
  } else {
    const loaded = await loadBestNative();
    if (loaded.ok) {
      await setBackendOrThrow("tensorflow");
      info = { name: "tensorflow", notice: `native TensorFlow from ${loaded.pkg}` };
    } else if (choice === "tensorflow") {
      throw new Error(`--backend tensorflow: ${loaded.notice}`);
    } else {
      const wasm = await initWasmBackend({ threads: opts.threads ?? 1 });
      info = { ...wasm, notice: [`auto: ${loaded.notice}; using wasm`, wasm.notice].filter(Boolean).join("; ") };
    }
  }
  if (info.notice) log(info.notice);
  log(`backend: ${describeBackend(info.name)}`);
  return info;
}

async function setBackendOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs could not initialise the "${name}" backend (tf.setBackend returned ${ok}); try --backend wasm or cpu`);
  }
}

function describeBackend(name: string): string {
  if (name !== "wasm") return name;
  const threads = (tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount(): number } } }).wasm?.tfjs?.getThreadsCount();
  return `wasm (${threads ?? "?"} thread${threads === 1 ? "" : "s"})`;
}
