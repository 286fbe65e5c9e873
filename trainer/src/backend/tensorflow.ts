import { existsSync } from "node:fs";
import { createRequire } from "node:module";

/**
 * Loads native TensorFlow (tfjs-node-gpu when a GPU is visible, else tfjs-node), both optional.
 * Returns what happened instead of throwing, so "auto" can fall back with a one-line notice.
 */

const require = createRequire(import.meta.url);

export type NativePackage = "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node";

export type NativeLoad =
  | { ok: true; pkg: NativePackage }
  | { ok: false; pkg: NativePackage; reason: "not-installed" | "no-binary"; notice: string };

/** An NVIDIA GPU is visible to this process (driver loaded and a device node present). */
export function gpuVisible(): boolean {
  if (process.env.CUDA_VISIBLE_DEVICES === "" || process.env.CUDA_VISIBLE_DEVICES === "-1") return false;
  return existsSync("/proc/driver/nvidia/version") && existsSync("/dev/nvidia0");
}

export function preferredNativePackage(): NativePackage {
  return gpuVisible() ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
}

/** tfjs-node-gpu then tfjs-node when a GPU is visible, else tfjs-node: the first that loads wins. */
export async function loadBestNative(): Promise<NativeLoad> {
  const candidates: NativePackage[] = gpuVisible() ? ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] : ["@tensorflow/tfjs-node"];
  const failures: Array<Extract<NativeLoad, { ok: false }>> = [];
  for (const pkg of candidates) {
    const loaded = await loadNative(pkg);
    if (loaded.ok) return loaded;
    failures.push(loaded);
  }
  return { ...failures[0]!, notice: failures.map((f) => f.notice).join("; ") };
}

function isInstalled(pkg: NativePackage): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** Imports the package, which registers the "tensorflow" backend with tfjs-core. */
export async function loadNative(pkg: NativePackage): Promise<NativeLoad> {
  if (!isInstalled(pkg)) {
    return {
      ok: false, pkg, reason: "not-installed",
      notice: `${pkg} is not installed; to train on native TensorFlow set "${pkg}": true in package.json allowScripts and run \`npm install -w trainer ${pkg}@4.22.0\``,
    };
  }
  try {
    require(pkg);
    return { ok: true, pkg };
  } catch (error) {
    const detail = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return {
      ok: false, pkg, reason: "no-binary",
      notice: `${pkg} is installed but its native binary did not load (${detail.trim()}); its install script downloads libtensorflow: ` +
        `set "${pkg}": true in package.json allowScripts and run \`npm rebuild ${pkg}\`, or pick --backend wasm`,
    };
  }
}
