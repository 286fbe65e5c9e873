// The Cloudflare Worker entry. Builds the real dependencies once per isolate: the R2-backed model
// registry with onnxruntime-web sessions, and the shared preprocessing with its wasm codecs.
//
// wrangler turns the `.wasm` import into a compiled WebAssembly.Module (workerd cannot compile wasm
// from bytes); inference/ort.ts is the only file that uses the onnxruntime-web API.
import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import { preprocess, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/workerd";
import { createApp } from "./app.ts";
import type { AppDeps } from "./deps.ts";
import type { Env } from "./env.ts";
import { createSession, initOrt, wasmHeapBytes } from "./inference/ort.ts";
import { parseLimits } from "./limits.ts";
import { ModelRegistry } from "./models/registry.ts";

let deps: Promise<AppDeps> | undefined;

/** {N: 1} when the manifest's input has a symbolic batch dim named N. */
function batchDimOverride(manifest: ModelManifest): Record<string, number> {
  const batch = manifest.inputs[0]?.dims[0];
  return typeof batch === "string" ? { [batch]: 1 } : {};
}

async function buildDeps(env: Env): Promise<AppDeps> {
  const limits = parseLimits(env as unknown as Record<string, unknown>);
  await Promise.all([initOrt(ortWasm), initCodecs()]);
  const models = new ModelRegistry({
    bucket: env.MODELS,
    pollSeconds: limits.pollSeconds,
    variant: limits.modelVariant,
    maxSessions: limits.maxSessions,
    hotSwap: limits.hotSwap,
    // Requests always carry one image, so pin the symbolic batch dim: ORT then plans memory for N=1
    // (ResNet-18 int8: 41 MiB heap after load instead of 49, and ~10% faster; BENCHMARKS.md).
    createSession: (onnx, manifest) => createSession(onnx, { freeDimensionOverrides: batchDimOverride(manifest) }),
  });
  return { models, preprocess, limits, memory: () => ({ wasmHeapBytes: wasmHeapBytes() ?? null }) };
}

export default createApp((env) => {
  deps ??= buildDeps(env).catch((e) => {
    deps = undefined; // let the next request try again
    throw e;
  });
  return deps;
});
