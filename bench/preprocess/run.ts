// bench/preprocess: decode + preprocess time per image (median, p95) in Node and inside workerd.
//   npm run bench:preprocess            (or: npx tsx bench/preprocess/run.ts [--quick])
// Recipe: DEFAULT_PREPROCESS (shortest edge 224, ImageNet mean/std, NCHW). Node timings come from
// performance.now() around each preprocess() call. workerd freezes its clock during CPU work, so its
// figures are taken from outside: (a) per request, round trip minus the median round trip of a /noop
// request with the same body; (b) one request running preprocess `repeat` times, divided by `repeat`
// (a mean that excludes request overhead).
import { DEFAULT_PREPROCESS, preprocess } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { benchInputs } from "./inputs.ts";
import { fmt, summarize } from "./stats.ts";

const quick = process.argv.includes("--quick");
const iterations = (name: string): number => (name.startsWith("2725") ? (quick ? 8 : 30) : quick ? 40 : 200);

async function main(): Promise<void> {
  await initCodecs();
  const inputs = await benchInputs();
  const rows: string[] = [];
  rows.push("| image | bytes | runtime | median ms | p95 ms | n | notes |", "|---|---|---|---|---|---|---|");

  for (const input of inputs) {
    const n = iterations(input.name);
    for (let i = 0; i < Math.ceil(n / 5); i++) await preprocess(input.bytes, DEFAULT_PREPROCESS); // warm-up
    const total: number[] = [];
    const decode: number[] = [];
    const ops: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const out = await preprocess(input.bytes, DEFAULT_PREPROCESS);
      total.push(performance.now() - t0);
      decode.push(out.timing.decodeMs);
      ops.push(out.timing.preprocessMs);
    }
    const s = summarize(total);
    rows.push(
      `| ${input.name} | ${input.bytes.length} | Node ${process.versions.node} | ${fmt(s.median)} | ${fmt(s.p95)} | ${s.n} | decode ${fmt(summarize(decode).median)} + ops ${fmt(summarize(ops).median)} (medians) |`,
    );
  }

  const worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
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
      const repeat = Math.max(4, Math.floor(n / 4));
      const batch = (await post(`/preprocess?config=${config}&repeat=${repeat}`, input.bytes)) - base;
      rows.push(
        `| ${input.name} | ${input.bytes.length} | workerd (Miniflare) | ${fmt(net.median)} | ${fmt(net.p95)} | ${net.n} | round trip minus /noop median (${fmt(base)}); mean of ${repeat} in one request: ${fmt(batch / repeat)} |`,
      );
    }
  } finally {
    await worker.dispose();
  }
  console.log(`decode + preprocess, DEFAULT_PREPROCESS (shortest edge 224, NCHW); ${new Date().toISOString()}`);
  for (const input of inputs) console.log(`  ${input.name}: ${input.origin}`);
  console.log(rows.join("\n"));
}

await main();
