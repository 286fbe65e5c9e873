// Peak memory of a JPEG request's decode, per decode path, for the limits table (edge/README.md "Image
// limits"). For each generated JPEG (a real photo upscaled; bench/jpeg/inputs.ts):
// - libjpeg's wasm heap at the end of the decode (its high-water mark), read inside real workerd
//   (Miniflare, the worker bundled by wrangler as for deploy), and in Node (same wasm: must agree);
// - JS buffers the preprocess call allocates (Node: arrayBuffers after the call, before any GC, minus
//   before, minus the wasm heap's growth): an upper bound on the transient JS memory;
// - the body (the file) itself.
// Total = ORT heap after load (41.1 MiB, BENCHMARKS.md: ResNet-18 int8, N pinned, tensors up to 224x224)
// + libjpeg heap + JS buffers + body. Memory, not time: fine on a loaded machine.
//   node --expose-gc --import tsx bench/jpeg/memory.ts
import { DEFAULT_PREPROCESS, preprocess, type PreprocessConfig } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { libjpegLastDecodeHeapBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { DATA_DIR } from "../../test/helpers/data.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { bigJpeg, PHOTO, readData, type BigJpeg } from "./inputs.ts";

const ORT_AFTER_LOAD_MIB = 41.1;
const MiB = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc --import tsx");

const SHIPPED: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64 }, crop: [64, 64] };
const photo = readData(DATA_DIR, PHOTO);
// film grain 8 gives camera-like file sizes (~0.3-0.4 MB/MP), so the body column is realistic
const cases: [number, number, boolean, "4:2:0" | "4:4:4"][] = [
  [4032, 3024, false, "4:2:0"],
  [8000, 6000, false, "4:2:0"],
  [8192, 6144, false, "4:4:4"],
  [4032, 3024, true, "4:2:0"],
  [4096, 3072, true, "4:2:0"],
  [2896, 2172, true, "4:4:4"],
];
const args = process.argv.slice(2);
const configs: [string, PreprocessConfig][] = [
  ["shipped (64)", SHIPPED],
  ["224", DEFAULT_PREPROCESS],
];

await initCodecs();
const worker = await startWorker({ entry: "bench/jpeg/probe-worker.ts" });
const rows: string[] = [];
try {
  for (const [w, h, progressive, subsampling] of cases) {
    const input: BigJpeg = await bigJpeg(photo, w, h, { progressive, subsampling, grain: 8 });
    for (const [configName, config] of configs) {
      if (args.length && !args.some((a) => input.name.includes(a))) continue;
      gc();
      const before = process.memoryUsage().arrayBuffers;
      const out = await preprocess(input.bytes, { ...config, maxPixels: 100_000_000 });
      const after = process.memoryUsage().arrayBuffers;
      const nodeHeap = libjpegLastDecodeHeapBytes();
      const js = Math.max(0, after - before - nodeHeap);
      const res = await worker.fetch(`/preprocess?config=${encodeURIComponent(JSON.stringify({ ...config, maxPixels: 100_000_000 }))}`, {
        method: "POST",
        body: input.bytes as Uint8Array<ArrayBuffer>,
      });
      const edge = (await res.json()) as { libjpegHeapBytes: number; source: { scale: number } };
      const total = ORT_AFTER_LOAD_MIB + MiB(edge.libjpegHeapBytes) + MiB(js) + MiB(input.bytes.length);
      rows.push(
        `| ${input.name} | ${configName} | 1/${out.source.scale} | ${MiB(input.bytes.length)} | ${MiB(edge.libjpegHeapBytes)} | ${MiB(nodeHeap)} | ${MiB(js)} | ${total.toFixed(1)} |`,
      );
      console.log(rows.at(-1));
    }
  }
} finally {
  await worker.dispose();
}
console.log("\n| JPEG | recipe | decoded at | body MiB | libjpeg heap MiB (workerd) | (Node) | JS buffers MiB | total with ORT 41.1 MiB |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
