// CPU time of the worst scan count the header walk accepts: a progressive 4:2:0 JPEG at the largest
// accepted size (4096x3072: 36 MiB of coefficients) whose chroma scans are repeated up to 500 scans in all
// (each repetition visits a sixth of the blocks, so the file stays under the 100-pass cap), against the
// same file with its ~10 scans. Issue 16: no request may cost more than 2 s of CPU. Run it ALONE:
//   npx tsx bench/jpeg/scans.ts [--iters 5]
// Node (libjpeg-turbo wasm, same bytes as workerd) and workerd (wall time of a /preprocess request minus
// a /noop request; workerd's own CPU time over the request).
import sharp from "sharp";
import { DEFAULT_PREPROCESS, preprocess } from "../../shared/src/index.ts";
import { readJpegHeader } from "../../shared/src/format/jpeg-header.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { DATA_DIR } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { findDescendant, processCpuMs } from "../preprocess/cpu-time.ts";
import { fmt, summarize } from "../preprocess/stats.ts";
import { PHOTO, readData } from "./inputs.ts";
import { scanUnits } from "../../test/shared/helpers/jpeg-markers.ts";

const i = process.argv.indexOf("--iters");
const iters = i > 0 ? Number(process.argv[i + 1]) : 5;
const [width, height] = [4096, 3072];
const base = new Uint8Array(
  await sharp(readData(DATA_DIR, PHOTO)).resize(width, height, { fit: "fill" }).jpeg({ quality: 90, progressive: true, chromaSubsampling: "4:2:0", mozjpeg: false }).toBuffer(),
);

const units = scanUnits(base);
const luma = units[0]!.components[0];
const chroma = units.filter((u) => u.components.length === 1 && u.components[0] !== luma).at(-1)!; // the last chroma scan (a refinement in libjpeg's script)
const eoi = base.length - 2;
const copies = 500 - units.length;
const parts = [base.subarray(0, eoi), ...Array.from({ length: copies }, () => base.subarray(chroma.start, chroma.end)), base.subarray(eoi)];
const bomb = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
parts.reduce((o, p) => (bomb.set(p, o), o + p.length), 0);
const hb = readJpegHeader(bomb);
console.log(`base: ${units.length} scans, ${readJpegHeader(base).scanPasses.toFixed(1)} passes, ${base.length} bytes; bomb: ${hb.scans} scans, ${hb.scanPasses.toFixed(1)} passes, ${bomb.length} bytes`);

await initCodecs();
const config = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge" as const, size: 64 }, crop: [64, 64] as [number, number] };
const worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
const workerd = findDescendant(process.pid, /workerd/);
try {
  for (const [name, bytes] of [["10-scan file", base], ["500-scan file", bomb]] as const) {
    const node: number[] = [];
    const cpu: number[] = [];
    const edge: number[] = [];
    const edgeCpu: number[] = [];
    const q = `/preprocess?config=${encodeURIComponent(JSON.stringify(config))}`;
    for (let k = 0; k < iters; k++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await preprocess(bytes, config);
      node.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      const n0 = performance.now();
      await (await worker.fetch("/noop", { method: "POST", body: bytes as Uint8Array<ArrayBuffer> })).arrayBuffer();
      const noop = performance.now() - n0;
      const w0 = workerd ? processCpuMs(workerd) : NaN;
      const e0 = performance.now();
      const res = await worker.fetch(q, { method: "POST", body: bytes as Uint8Array<ArrayBuffer> });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
      edge.push(performance.now() - e0 - noop);
      edgeCpu.push(workerd ? processCpuMs(workerd) - w0 : NaN);
    }
    console.log(`| ${width}x${height} progressive 4:2:0, ${name} | Node ${fmt(summarize(node).median)} ms (CPU ${fmt(summarize(cpu).median)}) | workerd ${fmt(summarize(edge).median)} ms (CPU ${fmt(summarize(edgeCpu).median)}) | n ${iters} |`);
  }
} finally {
  await worker.dispose();
}
