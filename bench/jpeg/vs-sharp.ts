// Decode + preprocess of a 12 MP baseline JPEG inside workerd (libjpeg-turbo wasm, shrink-on-load, then
// the triangle resize + normalize) against sharp's shrink-on-load (`sharp(buf).resize(w, h)`, native
// libvips with libjpeg-turbo + SIMD, one libvips thread) on the same file and the same target size, side by
// side in one run, as a ratio. Timing: run it ALONE on an idle machine.
//   npx tsx bench/jpeg/vs-sharp.ts [--iters 30] [--repeat 20]
// workerd freezes its clock during CPU work, so its time is taken from outside: one request runs
// preprocess `repeat` times (test/shared/fixtures/parity-worker.ts), minus the median of a /noop request
// with the same body, divided by `repeat`; plus workerd's own CPU time over the same batches.
import { loadavg } from "node:os";
import sharp from "sharp";
import { DEFAULT_PREPROCESS, targetSize, type PreprocessConfig } from "../../shared/src/index.ts";
import { DATA_DIR } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { findDescendant, processCpuMs } from "../preprocess/cpu-time.ts";
import { fmt, summarize } from "../preprocess/stats.ts";
import { bigJpeg, PHOTO, readData } from "./inputs.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const iters = arg("--iters", 30);
const repeat = arg("--repeat", 20);
sharp.concurrency(1);

// film grain 8: ~4 MB, the density of a 12 MP phone photo (see inputs.ts)
const input = await bigJpeg(readData(DATA_DIR, PHOTO), 4032, 3024, { progressive: false, subsampling: "4:2:0", grain: 8 });
const recipes: [string, PreprocessConfig][] = [
  ["shortest edge 224 (DEFAULT_PREPROCESS)", DEFAULT_PREPROCESS],
  ["shortest edge 64, no crop (the shipped model's resize)", { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64 } }],
];

const worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
const workerd = findDescendant(process.pid, /workerd/);
const rows: string[] = [];
try {
  const post = async (path: string): Promise<number> => {
    const t0 = performance.now();
    const res = await worker.fetch(path, { method: "POST", body: input.bytes as Uint8Array<ArrayBuffer> });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    return performance.now() - t0;
  };
  for (const [name, config] of recipes) {
    const t = targetSize(input.width, input.height, config.resize);
    const viaSharp = () => sharp(input.bytes).resize(t.width, t.height).raw().toBuffer();
    const q = `/preprocess?config=${encodeURIComponent(JSON.stringify({ ...config, maxPixels: 50_000_000 }))}`;
    for (let i = 0; i < 3; i++) {
      await viaSharp();
      await post(`${q}&repeat=${repeat}`);
    }
    const sharpMs: number[] = [];
    const sharpCpu: number[] = [];
    const edgeMs: number[] = [];
    const edgeCpu: number[] = [];
    for (let i = 0; i < iters; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await viaSharp();
      sharpMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      sharpCpu.push((c.user + c.system) / 1000);
      const base = await post("/noop");
      const w0 = workerd ? processCpuMs(workerd) : NaN;
      const wall = await post(`${q}&repeat=${repeat}`);
      edgeCpu.push(workerd ? (processCpuMs(workerd) - w0) / repeat : NaN);
      edgeMs.push((wall - base) / repeat);
    }
    const s = summarize(sharpMs);
    const e = summarize(edgeMs);
    const sc = summarize(sharpCpu);
    const ec = summarize(edgeCpu);
    rows.push(
      `| ${input.name} -> ${t.width}x${t.height} | ${name} | ${fmt(s.median)} (CPU ${fmt(sc.median)}) | ${fmt(e.median)} (CPU ${fmt(ec.median)}) | ${(e.median / s.median).toFixed(2)}x (CPU ${(ec.median / sc.median).toFixed(2)}x) | ${iters} |`,
    );
  }
} finally {
  await worker.dispose();
}
console.log(`\n${input.bytes.length} bytes; Node ${process.versions.node}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), load ${loadavg()[0]!.toFixed(2)}`);
console.log("| JPEG -> target | recipe | sharp ms median | workerd ms median (batch of " + repeat + ") | workerd / sharp | n |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
