// Where preprocessing time goes inside workerd: CPU time of the workerd process (/proc, 10 ms ticks) per
// call of each stage, over batches of `repeat` calls in one request, on the bench's 500x375 JPEG.
//   npx tsx bench/preprocess/workerd-stages.ts [--batches 5] [--repeat 100]
// Stages: decode = decodeImage (bytes -> RGB), ops = preprocessImage on decoded RGB (pack, resize, normalize),
// all = preprocess (decode to RGBA read in place + ops). The machine may be shared: CPU time, unlike wall
// time, does not count waiting for a core, but still grows with cache and core contention.
import { loadavg } from "node:os";
import { startWorker } from "../../test/helpers/workerd.ts";
import { findDescendant, processCpuMs } from "./cpu-time.ts";
import { benchInputs } from "./inputs.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { fmt, summarize } from "./stats.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

async function main(): Promise<void> {
  await initCodecs();
  const input = (await benchInputs()).find((i) => i.name.startsWith("500x375"))!;
  const batches = arg("batches", 5);
  const repeat = arg("repeat", 100);
  const worker = await startWorker({ entry: "bench/preprocess/stage-worker.ts" });
  const workerd = findDescendant(process.pid, /workerd/);
  if (!workerd) throw new Error("could not find the workerd process under this one");
  const load = [loadavg()[0]!];
  const rows: string[] = [];
  try {
    for (const stage of ["decode", "ops", "all"]) {
      const post = async (): Promise<void> => {
        const res = await worker.fetch(`/stage?name=${stage}&repeat=${repeat}`, { method: "POST", body: input.bytes as Uint8Array<ArrayBuffer> });
        if (res.status !== 200) throw new Error(`${stage}: HTTP ${res.status} ${await res.text()}`);
        await res.text();
      };
      await post(); // warm-up batch, not counted
      const cpu: number[] = [];
      for (let b = 0; b < batches; b++) {
        const c0 = processCpuMs(workerd);
        await post();
        cpu.push((processCpuMs(workerd) - c0) / repeat);
      }
      const s = summarize(cpu);
      rows.push(`| ${stage} | ${fmt(s.median)} | ${fmt(Math.min(...cpu))} | ${fmt(Math.max(...cpu))} | ${batches} x ${repeat} |`);
      load.push(loadavg()[0]!);
    }
  } finally {
    await worker.dispose();
  }
  console.log(`workerd CPU ms per call, 500x375 JPEG, DEFAULT_PREPROCESS; ${new Date().toISOString()}; load ${load.map((l) => l.toFixed(1)).join(" -> ")}`);
  console.log("| stage | CPU median ms | min | max | batches |\n|---|---|---|---|---|");
  console.log(rows.join("\n"));
}

await main();
