// One measurement of ORT-web's wasm heap (the same wasm the worker runs) in a fresh process, because
// the heap never shrinks: size after session creation, then after one run at each size, in order.
//   npx tsx bench/edge/heap-probe.ts <model.onnx> <opt-level> <arena on|off> <pattern on|off> <pin|free> <HxW>...
// (pin: freeDimensionOverrides {N: 1}; pin:<dim> pins that batch dim, e.g. pin:batch for torch exports)
// Prints one JSON line. Used for the heap figures in BENCHMARKS.md and wrangler.toml.
import { readFileSync } from "node:fs";
import { createSession, initOrt, wasmHeapBytes, type GraphOptimizationLevel } from "../../edge/src/inference/ort.ts";

const [modelPath, level, arena, pattern, pin, ...sizes] = process.argv.slice(2);
const wasm = await WebAssembly.compile(readFileSync("node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm"));
await initOrt(wasm);
const session = await createSession(new Uint8Array(readFileSync(modelPath!)), {
  graphOptimizationLevel: level as GraphOptimizationLevel,
  enableCpuMemArena: arena === "on",
  enableMemPattern: pattern === "on",
  ...(pin?.startsWith("pin") ? { freeDimensionOverrides: { [pin.split(":")[1] ?? "N"]: 1 } } : {}),
});
const heap: Record<string, number> = { load: wasmHeapBytes()! };
for (const s of sizes) {
  const [h, w] = s.split("x").map(Number) as [number, number];
  await session.run(new Float32Array(3 * h * w).fill(0.5), [1, 3, h, w]);
  heap[s] = wasmHeapBytes()!;
}
console.log(JSON.stringify(heap));
