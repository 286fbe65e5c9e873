// bench/preprocess: decode + preprocess time per image (median, p95) in Node and inside workerd.
//   npm run bench:preprocess            (or: npx tsx bench/preprocess/run.ts [--quick])
// Recipe: DEFAULT_PREPROCESS (shortest edge 224, ImageNet mean/std, NCHW). Node timings come from
// performance.now() around each preprocess() call. workerd freezes its clock during CPU work, so its
// figures are taken from outside: (a) per request, round trip minus the median round trip of a /noop
// request with the same body; (b) one request running preprocess `repeat` times, divided by `repeat`
// (a mean that excludes request overhead). The machine is shared, so CPU time is reported too: Node's
// process.cpuUsage() per call, and workerd's own CPU time (/proc) over batches of `repeat` calls; CPU time
// does not grow while a process waits for a core, wall time does.
import { DEFAULT_PREPROCESS, decoderMemoryBytes, preprocess } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { loadavg } from "node:os";
import { startWorker } from "../../test/helpers/workerd.ts";
import { findDescendant, processCpuMs } from "./cpu-time.ts";
import { benchInputs } from "./inputs.ts";
import { fmt, summarize } from "./stats.ts";

const quick = process.argv.includes("--quick");
const iterations = (name: string): number => (name.startsWith("2725") ? (quick ? 8 : 30) : quick ? 40 : 200);

async function main(): Promise<void> {
  await initCodecs();
  const inputs = await benchInputs();
  const rows: string[] = [];
  const load = [loadavg()[0]!];
  rows.push("| image | bytes | runtime | wall median ms | wall p95 ms | CPU median ms | CPU p95 ms | n | notes |", "|---|---|---|---|---|---|---|---|---|");

  const memory: string[] = [];
  for (const input of inputs) {
    const n = iterations(input.name);
    const buffers = process.memoryUsage().arrayBuffers;
    await preprocess(input.bytes, DEFAULT_PREPROCESS);
    const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
    memory.push(
      `  ${input.name}: JPEG decoder wasm memory ${mib(decoderMemoryBytes().jpeg)} MiB (high-water mark so far: inputs.ts already decoded the 2725x2225 photo); JS ArrayBuffers still held after one call ${mib(process.memoryUsage().arrayBuffers - buffers)} MiB (before GC)`,
    );
    for (let i = 0; i < Math.ceil(n / 5); i++) await preprocess(input.bytes, DEFAULT_PREPROCESS); // warm-up
    const total: number[] = [];
    const cpu: number[] = [];
    const decode: number[] = [];
    const ops: number[] = [];
    for (let i = 0; i < n; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await preprocess(input.bytes, DEFAULT_PREPROCESS);
      total.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      decode.push(out.timing.decodeMs);
      ops.push(out.timing.preprocessMs);
    }
    const s = summarize(total);
    const sc = summarize(cpu);
    rows.push(
      `| ${input.name} | ${input.bytes.length} | Node ${process.versions.node} | ${fmt(s.median)} | ${fmt(s.p95)} | ${fmt(sc.median)} | ${fmt(sc.p95)} | ${s.n} | wall: decode ${fmt(summarize(decode).median)} + ops ${fmt(summarize(ops).median)} (medians) |`,
    );
    load.push(loadavg()[0]!);
  }

  const worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
  const workerd = findDescendant(process.pid, /workerd/);
  try {
    const post = async (path: string, body: Uint8Array): Promise<number> => {
      const t0 = performance.now();
      const res = await worker.fetch(path, { method: "POST", body: body as Uint8Array<ArrayBuffer> });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
      return performance.now() - t0;
    };
    for (const input of inputs) {
      const n = iterations(input.name);
      const config = encodeURIComponent(JSON.stringify(DEFAULT_PREPROCESS));
      for (let i = 0; i < Math.ceil(n / 5); i++) await post(`/preprocess?config=${config}`, input.bytes); // warm-up
      const noop: number[] = [];
      const rt: number[] = [];
      for (let i = 0; i < n; i++) {
        noop.push(await post("/noop", input.bytes));
        rt.push(await post(`/preprocess?config=${config}`, input.bytes));
      }
      const base = summarize(noop).median;
      const net = summarize(rt.map((t) => t - base));
      // CPU time of the workerd process over batches of `repeat` calls in one request (10 ms tick resolution,
      // so batches are sized to take ~0.5 s of CPU at least).
      const repeat = input.name.startsWith("2725") ? 4 : 100;
      const batchCpu: number[] = [];
      const batchWall: number[] = [];
      await post(`/preprocess?config=${config}&repeat=${repeat}`, input.bytes); // warm-up batch, not counted
      for (let b = 0; b < (quick ? 2 : 5); b++) {
        const c0 = workerd ? processCpuMs(workerd) : NaN;
        batchWall.push(((await post(`/preprocess?config=${config}&repeat=${repeat}`, input.bytes)) - base) / repeat);
        batchCpu.push(workerd ? (processCpuMs(workerd) - c0) / repeat : NaN);
      }
      const bc = summarize(batchCpu);
      rows.push(
        `| ${input.name} | ${input.bytes.length} | workerd (Miniflare) | ${fmt(net.median)} | ${fmt(net.p95)} | ${fmt(bc.median)} | - | ${net.n} | wall: round trip minus /noop median (${fmt(base)}); CPU: median of ${bc.n} batches of ${repeat} (wall ${fmt(summarize(batchWall).median)}/image) |`,
      );
      load.push(loadavg()[0]!);
    }
  } finally {
    await worker.dispose();
  }
  console.log(`decode + preprocess, DEFAULT_PREPROCESS (shortest edge 224, NCHW); ${new Date().toISOString()}`);
  console.log(`1-minute load average during the run (2 cores): ${load.map((l) => l.toFixed(1)).join(" -> ")}`);
  for (const input of inputs) console.log(`  ${input.name}: ${input.origin}`);
  console.log(rows.join("\n"));
  console.log("Memory (Node):");
  console.log(memory.join("\n"));
}

await main();
