// ORT-web's wasm heap (the worker's wasm, through edge/src/inference/ort.ts) over a sequence of session
// loads, releases and runs, in a fresh process (the heap never shrinks). Answers: what does a hot swap
// cost with and without releasing the superseded session, and what does each extra model cost.
//   npx tsx bench/edge/session-heap.ts <model.onnx> <HxW> <step>...
// steps: load:<id> (create session <id>), run:<id> (one run at HxW), release:<id>, runN:<id>:<n> (n runs);
// a run step may name its own shape: runN:a:20@32x2400
// e.g. hot swaps that release:  load:a run:a load:b run:b release:a load:c run:c release:b
// ARENA=off / PATTERN=off turn ORT's CPU memory arena / memory pattern off (the worker has both on).
// Prints one JSON line: the heap in MiB after every step. Memory only: no timing.
import { readFileSync } from "node:fs";
import { createSession, initOrt, wasmHeapBytes, type OrtSession } from "../../edge/src/inference/ort.ts";

const [modelPath, shape, ...steps] = process.argv.slice(2);
const [h, w] = shape!.split("x").map(Number) as [number, number];
const onnx = new Uint8Array(readFileSync(modelPath!));
await initOrt(await WebAssembly.compile(readFileSync("node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")));
const sessions = new Map<string, OrtSession>();
const tensors = new Map<string, { data: Float32Array; dims: number[] }>();
const tensorFor = (hw: string): { data: Float32Array; dims: number[] } => {
  const [th, tw] = hw.split("x").map(Number) as [number, number];
  if (!tensors.has(hw)) tensors.set(hw, { data: new Float32Array(3 * th * tw).fill(0.5), dims: [1, 3, th, tw] });
  return tensors.get(hw)!;
};
void h, void w;
const heap: [string, number][] = [];
for (const step of steps) {
  const [spec, own] = step.split("@") as [string, string | undefined];
  const [op, id, n] = spec.split(":") as [string, string, string | undefined];
  if (op === "load") sessions.set(id, await createSession(onnx.slice(), { freeDimensionOverrides: { N: 1 }, enableCpuMemArena: process.env.ARENA !== "off", enableMemPattern: process.env.PATTERN !== "off", ...(process.env.LEVEL ? { graphOptimizationLevel: process.env.LEVEL as "all" } : {}) }));
  else if (op === "release") {
    await sessions.get(id)!.release();
    sessions.delete(id);
  } else if (op === "run" || op === "runN") {
    const t = tensorFor(own ?? shape!);
    for (let i = 0; i < (op === "runN" ? Number(n) : 1); i++) await sessions.get(id)!.run(t.data, t.dims);
  } else throw new Error(`unknown step ${step}`);
  heap.push([step, +(wasmHeapBytes()! / 2 ** 20).toFixed(1)]);
}
console.log(JSON.stringify({ shape, arena: process.env.ARENA !== "off", pattern: process.env.PATTERN !== "off", heapMiB: Object.fromEntries(heap.map(([s, v], i) => [`${i}:${s}`, v])) }));
