// What ORT-web session options do to latency and heap (the worker's wasm, in Node), one fresh process
// per configuration because the wasm heap never shrinks:
//   npx tsx bench/edge/options.ts [--iters 10] [--size 224x224]
// Each row: graph optimisation level x memory arena/pattern x batch dim pinned (freeDimensionOverrides N=1).
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
}
const dir = arg("dir", ".cache/bench-edge");
const iters = arg("iters", "10");
const size = arg("size", "224x224");

if (process.argv.includes("--child")) {
  const { readFileSync } = await import("node:fs");
  const ortMod = await import("../../edge/src/inference/ort.ts");
  const [model, level, mem, pin] = process.argv.slice(process.argv.indexOf("--child") + 1);
  await ortMod.initOrt(await WebAssembly.compile(readFileSync("node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")));
  const onnx = new Uint8Array(readFileSync(model!));
  const t0 = performance.now();
  const s = await ortMod.createSession(onnx, {
    graphOptimizationLevel: level as "all",
    enableCpuMemArena: mem === "on",
    enableMemPattern: mem === "on",
    ...(pin === "pin" ? { freeDimensionOverrides: { N: 1 } } : {}),
  });
  const createMs = performance.now() - t0;
  const [w, h] = size.split("x").map(Number) as [number, number];
  const x = new Float32Array(3 * h * w).fill(0.5);
  for (let i = 0; i < 2; i++) await s.run(x, [1, 3, h, w]);
  const xs: number[] = [];
  for (let i = 0; i < Number(iters); i++) {
    const t = performance.now();
    await s.run(x, [1, 3, h, w]);
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  console.log(JSON.stringify({ createMs, median: xs[Math.floor(xs.length / 2)], heap: ortMod.wasmHeapBytes() }));
  process.exit(0);
}

console.log(`loadavg ${loadavg().map((x) => x.toFixed(1)).join(" ")}; ${size}; ${iters} runs; ORT-web in Node\n`);
console.log("| model | graph opt | arena + mem pattern | N pinned to 1 | session create ms | median ms | heap MiB |");
console.log("|---|---|---|---|---|---|---|");
for (const model of ["resnet18.onnx", "resnet18.int8.onnx"]) {
  for (const [level, mem, pin] of [
    ["all", "on", "free"],
    ["extended", "on", "free"],
    ["basic", "on", "free"],
    ["disabled", "on", "free"],
    ["all", "off", "free"],
    ["all", "on", "pin"],
  ]) {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/edge/options.ts", "--iters", iters, "--size", size, "--child", `${dir}/${model}`, level!, mem!, pin!], { encoding: "utf8" });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      const j = JSON.parse(line);
      console.log(`| ${model} | ${level} | ${mem} | ${pin === "pin" ? "yes" : "no"} | ${j.createMs.toFixed(0)} | ${j.median.toFixed(0)} | ${(j.heap / 2 ** 20).toFixed(1)} |`);
    } catch {
      console.log(`| ${model} | ${level} | ${mem} | ${pin} | failed: ${(r.stderr || line).slice(0, 200).replace(/\n/g, " ")} | | |`);
    }
  }
}
