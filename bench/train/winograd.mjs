/**
 * Winograd against the direct kernels, one thread, in isolation: trainer/wasm's module on its own
 * memory, the forward convolution (F(2x2, 3x3): winograd_filter_transform + winograd_conv, F(4x4, 3x3):
 * winograd43_*, vs conv2d_forward) and the filter gradient (winograd_filter_grad vs conv2d_filter_grad)
 * of 3x3 stride-1 pad-1 layers, with the largest differences to the direct results.
 *
 *   node --experimental-wasm-relaxed-simd bench/train/winograd.mjs [trainer/wasm/kernels-relaxed.wasm]
 */
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? new URL("../../trainer/wasm/kernels-relaxed.wasm", import.meta.url);
const memory = new WebAssembly.Memory({ initial: 16384 }); // 1 GiB
const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { memory } }).exports;
const F = new Float32Array(memory.buffer);
// N, H, W, Ci, Co: ResNet-18's 3x3 stride-1 layers at batch 32 (64 and 128 px), and odd small ones
const SHAPES = [[32, 64, 64, 32, 32], [32, 32, 32, 32, 64], [32, 32, 32, 32, 32], [32, 16, 16, 64, 64], [32, 8, 8, 128, 128],
  [32, 4, 4, 256, 256], [32, 2, 2, 512, 512], [32, 5, 5, 256, 256], [32, 3, 3, 256, 256], [32, 2, 12, 128, 128], [32, 6, 6, 128, 128],
  [3, 9, 6, 13, 19], [2, 2, 2, 33, 12]];
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const time = (f) => { const t = []; for (let r = 0; r < 5; r++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } return median(t); };
console.log("| N x H x W x Ci -> Co | forward direct ms | F(2x2,3x3) ms | speed-up | F(4x4,3x3) ms | speed-up | filter grad direct ms | F(3x3,2x2) ms | speed-up | max rel. diff F(2x2) / F(4x4) |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const [N, H, W, Ci, Co] of SHAPES) {
  let off = 1 << 20;
  const alloc = (n) => { const p = off; off += Math.ceil((n * 4) / 64) * 64 + 64; return p; };
  const ci4 = Math.ceil(Ci / 4) * 4, co8 = Math.ceil(Co / 8) * 8;
  const x = alloc(N * H * W * Ci), w = alloc(9 * Ci * Co), dy = alloc(N * H * W * Co);
  const y1 = alloc(N * H * W * Co), y2 = alloc(N * H * W * Co), y3 = alloc(N * H * W * Co), dw1 = alloc(9 * Ci * Co), dw2 = alloc(9 * Ci * Co);
  const wp = alloc(co8 * 9 * Ci), u = alloc(36 * co8 * Ci);
  const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  const chunk = Math.max(4, Math.min(64, Math.floor(8192 / Math.max(ci4, co8)) & ~3)); // as wasm-kernels.ts
  const scratch = alloc(36 * (chunk * (ci4 + co8) + 32) + 16 * (chunk * (ci4 + co8) + ci4 * co8 + 48));
  const tiles4 = N * Math.ceil(H / 4) * Math.ceil(W / 4);
  for (let i = x / 4; i < y1 / 4; i++) F[i] = Math.sin(i * 0.37); // x, w, dy
  const fd = time(() => k.conv2d_forward(x, w, y1, wp, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 0, 0, Co));
  const fw = time(() => { k.winograd_filter_transform(w, u, Ci, Co, 0, 0, Co); k.winograd_conv(x, u, y2, scratch, N, H, W, Ci, H, W, Co, 1, 1, chunk, 0, tiles, 0); });
  const f4 = time(() => { k.winograd43_filter_transform(w, u, Ci, Co, 0, 0, Co); k.winograd43_conv(x, u, y3, scratch, N, H, W, Ci, H, W, Co, 1, 1, chunk, 0, tiles4, 0); });
  const gd = time(() => k.conv2d_filter_grad(x, dy, dw1, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 0, Co));
  const gw = time(() => k.winograd_filter_grad(x, dy, dw2, scratch, N, H, W, Ci, H, W, Co, 1, 1, chunk, 0, Ci, 0));
  const rel = (a, b, n) => { let d = 0, m = 0; for (let i = 0; i < n; i++) { d = Math.max(d, Math.abs(F[a / 4 + i] - F[b / 4 + i])); m = Math.max(m, Math.abs(F[a / 4 + i])); } return d / Math.max(1, m); };
  const diff2 = Math.max(rel(y1, y2, N * H * W * Co), rel(dw1, dw2, 9 * Ci * Co));
  const diff4 = rel(y1, y3, N * H * W * Co);
  console.log(`| ${[N, H, W, Ci].join("x")} -> ${Co} | ${fd.toFixed(2)} | ${fw.toFixed(2)} | ${(fd / fw).toFixed(2)}x | ${f4.toFixed(2)} | ${(fd / f4).toFixed(2)}x | ${gd.toFixed(2)} | ${gw.toFixed(2)} | ${(gd / gw).toFixed(2)}x | ${diff2.toExponential(1)} / ${diff4.toExponential(1)} |`);
}
