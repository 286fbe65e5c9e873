import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";

/**
 * TensorFlow.js's WebGPU backend in Node, on Dawn (the npm package `webgpu`, a prebuilt dawn.node).
 *
 * Why a factory of our own instead of the package's: @tensorflow/tfjs-backend-webgpu registers its
 * "webgpu" backend only if `navigator.gpu` exists when it is imported, and then asks
 * `navigator.gpu.requestAdapter()` with no way to pick Dawn's backend. Its kernels, though, register
 * unconditionally, and it exports `WebGPUBackend(device, adapterInfo)`. So we install Dawn's WebGPU
 * globals (GPUBufferUsage, GPUMapMode... which the backend reads), open the adapter ourselves, and
 * register the backend over a device we made.
 *
 * Which Dawn backend: Vulkan first (NVIDIA, AMD, Intel drivers; Mesa's lavapipe from Mesa 25 on as
 * the CPU stand-in), then OpenGL ES on EGL without a display (EGL_PLATFORM=surfaceless) in WebGPU's
 * "compatibility" feature level, which Debian 12's stock Mesa (llvmpipe) provides. Either can be
 * forced with RESNET_EDGE_WEBGPU_DRIVER=vulkan|opengles.
 *
 * Reading data back: the backend's synchronous reads (dataSync, arraySync) go through an
 * OffscreenCanvas, which Node lacks ("OffscreenCanvas is not defined"); every read on the training
 * and export paths is `await tensor.data()`.
 */

const require = createRequire(import.meta.url);

export type WebGpuDriver = "vulkan" | "opengles";

export interface AdapterSummary {
  driver: WebGpuDriver;
  /** e.g. "nvidia", "mesa" (may be empty on OpenGL ES) */
  vendor: string;
  architecture: string;
  /** e.g. "NVIDIA H200" or "llvmpipe (LLVM 19.1.7, 256 bits)" */
  device: string;
  description: string;
  /** A software rasteriser on the CPU (lavapipe, llvmpipe, SwiftShader, softpipe). */
  software: boolean;
}

export type AdapterProbe =
  | { ok: true; adapter: AdapterSummary; open: () => Promise<GPUDeviceLike> }
  | { ok: false; reason: string };

/** The parts of Dawn's objects we touch (the `webgpu` package has its own typings; we keep ours narrow). */
interface GPUAdapterLike {
  info: { vendor: string; architecture: string; device: string; description: string };
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(desc?: unknown): Promise<GPUDeviceLike>;
}
export interface GPUDeviceLike {
  lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
interface GPULike {
  requestAdapter(opts?: unknown): Promise<GPUAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GPULike;
  globals: Record<string, unknown>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software rasterizer/i;

export function isSoftwareAdapter(info: { vendor?: string; device?: string; description?: string; architecture?: string }): boolean {
  return SOFTWARE.test([info.vendor, info.architecture, info.device, info.description].join(" "));
}

export function describeAdapter(a: AdapterSummary): string {
  const name = a.device || a.description || "unknown device";
  const vendor = a.vendor ? `${a.vendor} ` : "";
  return `${vendor}${name} via Dawn ${a.driver === "vulkan" ? "Vulkan" : "OpenGL ES"}${a.software ? " (software, on the CPU)" : ""}`;
}

let dawn: DawnModule | undefined;

function loadDawn(): DawnModule | { error: string } {
  if (dawn) return dawn;
  try {
    dawn = require("webgpu") as DawnModule;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return { error: `the webgpu package (Dawn for Node) did not load: ${detail}; it needs linux-x64 (or macOS/Windows) and glibc >= 2.34; run npm ci` };
  }
  // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode, GPUShaderStage... as globals, as in a browser.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return dawn;
}

function driversToTry(): WebGpuDriver[] {
  const forced = process.env.RESNET_EDGE_WEBGPU_DRIVER;
  if (forced === "vulkan" || forced === "opengles") return [forced];
  return ["vulkan", "opengles"];
}

/**
 * Finds a WebGPU adapter without starting tfjs: Vulkan first, then OpenGL ES. Returns why not, in
 * one line a person can act on, when there is none. Dawn prints its own warnings to stderr.
 */
export async function probeWebGpu(): Promise<AdapterProbe> {
  const mod = loadDawn();
  if ("error" in mod) return { ok: false, reason: mod.error };
  const tried: string[] = [];
  for (const driver of driversToTry()) {
    if (driver === "opengles") process.env.EGL_PLATFORM ??= "surfaceless";
    let adapter: GPUAdapterLike | null = null;
    let gpu: GPULike;
    try {
      gpu = mod.create([`backend=${driver}`]);
      adapter = await gpu.requestAdapter(driver === "opengles" ? { featureLevel: "compatibility", powerPreference: "high-performance" } : { powerPreference: "high-performance" });
    } catch (error) {
      tried.push(`${driver}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
      continue;
    }
    if (!adapter) {
      tried.push(driver === "vulkan" ? "vulkan: no adapter (is libvulkan1 and a Vulkan driver installed? check with `vulkaninfo --summary`)" : "opengles: no adapter (EGL/GLES 3.1 driver missing: libegl1 + libgles2 + libegl-mesa0)");
      continue;
    }
    const { vendor, architecture, device, description } = adapter.info;
    const summary: AdapterSummary = { driver, vendor, architecture, device, description, software: isSoftwareAdapter(adapter.info) };
    const chosen = adapter;
    return { ok: true, adapter: summary, open: () => openDevice(chosen, gpu) };
  }
  return { ok: false, reason: `no WebGPU adapter: ${tried.join("; ")}` };
}

/**
 * The device tfjs's own factory would request: the adapter's limits on what tfjs uses. Also sets
 * `navigator.gpu`, which WebGPUBackend's constructor checks for (Node 20 has no `navigator`).
 */
async function openDevice(adapter: GPUAdapterLike, gpu: GPULike): Promise<GPUDeviceLike> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
  if (!g.navigator!.gpu) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {};
  for (const k of ["maxComputeWorkgroupStorageSize", "maxComputeWorkgroupsPerDimension", "maxStorageBufferBindingSize", "maxBufferSize",
    "maxComputeWorkgroupSizeX", "maxComputeInvocationsPerWorkgroup", "maxStorageBuffersPerShaderStage"]) {
    if (typeof l[k] === "number") requiredLimits[k] = l[k];
  }
  const requiredFeatures = ["timestamp-query"].filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredFeatures, requiredLimits });
}

let active: AdapterSummary | undefined;

/**
 * Starts tfjs's "webgpu" backend on the adapter `probeWebGpu` found. `allowSoftware: false` refuses a
 * CPU adapter (what `auto` wants); an explicit `--backend webgpu` accepts it, with a notice.
 */
export async function initWebGpuBackend(opts: { allowSoftware: boolean }): Promise<{ name: string; adapter: AdapterSummary; notice?: string }> {
  if (active && tf.findBackend("webgpu")) {
    await setOrThrow();
    return { name: "webgpu", adapter: active };
  }
  const probe = await probeWebGpu();
  if (!probe.ok) throw new Error(probe.reason);
  if (probe.adapter.software && !opts.allowSoftware) {
    throw new Error(`only a software adapter: ${describeAdapter(probe.adapter)}`);
  }
  const device = await probe.open();
  // Imported only now: it must come after the globals above, and it costs ~0.3 s when unused.
  const { WebGPUBackend } = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as {
    WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
  };
  const adapterInfo = { vendor: probe.adapter.vendor, architecture: probe.adapter.architecture, device: probe.adapter.device, description: probe.adapter.description };
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device, adapterInfo), 0);
  active = probe.adapter;
  await setOrThrow();
  const notice = probe.adapter.software
    ? `webgpu: ${describeAdapter(probe.adapter)} is a CPU emulation, for correctness checks only (slower than --backend wasm)`
    : undefined;
  return notice ? { name: "webgpu", adapter: probe.adapter, notice } : { name: "webgpu", adapter: probe.adapter };
}

async function setOrThrow(): Promise<void> {
  if (!(await tf.setBackend("webgpu")) || tf.getBackend() !== "webgpu") {
    throw new Error("tfjs could not start the webgpu backend on the adapter found (see the error above); try --backend wasm");
  }
}

/** The adapter the webgpu backend runs on in this process, if it was started. */
export function activeWebGpuAdapter(): AdapterSummary | undefined {
  return active;
}
