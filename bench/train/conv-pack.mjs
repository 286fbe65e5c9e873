/**
 * The direct forward kernel (conv2d_forward) on ResNet's small maps, one thread, in isolation: batch 32
 * against batch 1 (where packing the filter is most of the call), plain and flipped (the input
 * gradient's rotated, channel-swapped read). Give a second build to compare two kernels in one run.
 *
 *   node --experimental-wasm-relaxed-simd bench/train/conv-pack.mjs [trainer/wasm/kernels-relaxed.wasm] [other.wasm]
 */
import { readFileSync } from "node:fs";

const files = process.argv.length > 2 ? process.argv.slice(2) : [new URL("../../trainer/wasm/kernels-relaxed.wasm", import.meta.url)];
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const time = (f) => { const t = []; for (let r = 0; r < 7; r++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } return median(t); };
const SHAPES = [[32, 2, 2, 512, 512], [1, 2, 2, 512, 512], [32, 4, 4, 256, 256], [1, 4, 4, 256, 256]];
console.log(`| N x H x W x Ci -> Co | ${files.map((f, i) => `build ${i + 1} plain ms | build ${i + 1} flip ms`).join(" | ")} |`);
console.log(`|---|${files.map(() => "---|---|").join("")}`);
const instances = files.map((file) => {
  const memory = new WebAssembly.Memory({ initial: 16384 }); // 1 GiB
  return { k: new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { memory } }).exports, F: new Float32Array(memory.buffer) };
});
for (const [N, H, W, Ci, Co] of SHAPES) {
  const cells = [];
  for (const { k, F } of instances) {
    let off = 1 << 20;
    const alloc = (n) => { const p = off; off += Math.ceil((n * 4) / 64) * 64 + 64; return p; };
    const x = alloc(N * H * W * Ci), w = alloc(9 * Ci * Co), y = alloc(N * H * W * Co), wp = alloc(9 * Ci * Co + 64);
    for (let i = x / 4; i < y / 4; i++) F[i] = Math.sin(i * 0.37);
    cells.push(time(() => k.conv2d_forward(x, w, y, wp, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 0, 0, Co)).toFixed(2));
    cells.push(time(() => k.conv2d_forward(x, w, y, wp, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, 0, Co)).toFixed(2));
  }
  console.log(`| ${N}x${H}x${W}x${Ci} -> ${Co} | ${cells.join(" | ")} |`);
}
