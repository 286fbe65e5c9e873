// What a progressive JPEG costs to decode at 1/8, before (libjpeg-turbo's wasm heap: its whole-image
// coefficient buffer) and after (the DC-only decoder, shared/src/codecs/jpeg-dc.ts: JS typed arrays), and
// what the libjpeg path still costs for the progressive files it keeps (those the recipe decodes at 1/4 or
// larger). Memory only (no timing): fine on a busy machine.
//   node --expose-gc --import tsx bench/jpeg/dc-memory.ts
// Inputs: a real val photo upscaled with film grain (bench/jpeg/inputs.ts), progressive, quality 90.
// - libjpeg: its wasm memory at the end of the decode (the high-water mark; a fresh instance per decode).
// - DC-only: Node's ArrayBuffer bytes right after the decode, before any GC, minus before (an upper bound:
//   everything the decode allocated, garbage included), and the V8 heap's growth; plus the arrays it keeps
//   until the output is built, counted from the frame (one Int16 per block, padded to whole MCUs).
import { readFileSync } from "node:fs";
import { servingConfig, shrinkDenominator, validateManifest } from "../../shared/src/index.ts";
import { decodeWithLibjpeg, libjpegLastDecodeHeapBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { decodeJpegDc } from "../../shared/src/codecs/jpeg-dc.ts";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { readJpegHeader } from "../../shared/src/format/jpeg-header.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { DATA_DIR, repoRoot } from "../../test/helpers/data.ts";
import { DEFAULT_LIMITS } from "../../edge/src/limits.ts";
import { bigJpeg, PHOTO, readData } from "./inputs.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc --import tsx");
const MiB = (b: number): string => (b / 2 ** 20).toFixed(1);

await initCodecs();
const photo = readData(DATA_DIR, PHOTO);
const manifest = validateManifest(JSON.parse(readFileSync(`${repoRoot}/models/${DEFAULT_LIMITS.defaultModel}/manifest.json`, "utf8")));

/** Blocks the DC decoder keeps (Int16 each), padded to whole MCUs as it stores them. */
function dcBlocks(bytes: Uint8Array): number {
  const h = readJpegHeader(bytes);
  const hMax = Math.max(...h.sampling.map((s) => s.h));
  const vMax = Math.max(...h.sampling.map((s) => s.v));
  const cols = Math.ceil(h.width / (8 * hMax));
  const rows = Math.ceil(h.height / (8 * vMax));
  return h.sampling.reduce((n, s) => n + cols * s.h * rows * s.v, 0);
}

function libjpegHeap(bytes: Uint8Array, scaleDenom: 1 | 2 | 4 | 8): number {
  decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom, channels: 4, maxScans: 500, memoryLimit: 512 << 20 });
  return libjpegLastDecodeHeapBytes();
}

function dcCost(bytes: Uint8Array): { buffers: number; heap: number; kept: number } {
  gc!();
  const m0 = process.memoryUsage();
  const out = decodeJpegDc(bytes, { channels: 4, maxScans: 500 });
  const m1 = process.memoryUsage();
  void out;
  return { buffers: m1.arrayBuffers - m0.arrayBuffers, heap: Math.max(0, m1.heapUsed - m0.heapUsed), kept: dcBlocks(bytes) * 2 };
}

console.log("| progressive JPEG | body MiB | decoded at | libjpeg wasm heap MiB (before) | DC-only: JS buffers MiB (after) | of which block DCs | V8 heap growth MiB |");
console.log("|---|---|---|---|---|---|---|");
for (const [w, h, sub] of [
  [4032, 3024, "4:2:0"],
  [4032, 3024, "4:4:4"],
  [8160, 6120, "4:2:0"], // 50 MP: MAX_PIXELS_JPEG_BASELINE, which a progressive file decoded at 1/8 may now have
] as const) {
  const input = await bigJpeg(photo, w, h, { progressive: true, subsampling: sub, grain: 8 });
  const before = libjpegHeap(input.bytes, 8);
  const after = dcCost(input.bytes);
  console.log(`| ${input.name} | ${MiB(input.bytes.length)} | 1/8 | ${MiB(before)} | ${MiB(after.buffers)} | ${MiB(after.kept)} | ${MiB(after.heap)} |`);
}

// The progressive files libjpeg still decodes: those whose recipe scale is 1/4 or larger. For the shipped
// model at the deployed MAX_TENSOR_PIXELS, the largest 4:3 image that gets a scale below 8 at each size mode:
const T = DEFAULT_LIMITS.maxTensorPixels;
for (const size of ["default", "native"] as const) {
  let best: [number, number, number] = [0, 0, 1];
  for (let hh = 64; hh <= 6000; hh += 4) {
    const ww = Math.round((hh * 4) / 3);
    const config = servingConfig(manifest, { size, image: { width: ww, height: hh }, maxTensorPixels: T });
    const d = shrinkDenominator(ww, hh, config.resize);
    if (d < 8 && ww * hh > best[0] * best[1]) best = [ww, hh, d];
  }
  console.log(`\nsize=${size}: the largest 4:3 image decoded below 1/8 is ${best[0]}x${best[1]} (${((best[0] * best[1]) / 1e6).toFixed(2)} MP) at 1/${best[2]}`);
  for (const sub of ["4:2:0", "4:4:4"] as const) {
    const input = await bigJpeg(photo, best[0], best[1], { progressive: true, subsampling: sub, grain: 8 });
    console.log(`  libjpeg wasm heap, progressive ${sub}: ${MiB(libjpegHeap(input.bytes, best[2] as 1 | 2 | 4 | 8))} MiB`);
  }
}
// At the libjpeg progressive limits (only a recipe with a large target, e.g. an imported fixed-size model
// and an elongated image, can reach them now): 12.2 MP 4:2:0 at 1/4
{
  const input = await bigJpeg(photo, 4032, 3024, { progressive: true, subsampling: "4:2:0", grain: 8 });
  console.log(`\nat MAX_PIXELS_JPEG_PROGRESSIVE (4032x3024 4:2:0) decoded at 1/4: libjpeg wasm heap ${MiB(libjpegHeap(input.bytes, 4))} MiB`);
}
