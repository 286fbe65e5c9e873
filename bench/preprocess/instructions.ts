// Instruction counts for the preprocessing loop, which stay meaningful on a loaded machine (wall time does not).
// Runs one stage `n` times after `warmup` uncounted calls, with no timing of its own. Use it through
//   bench/preprocess/count-instructions.sh [all|decode|ops] [N]
// which runs it under callgrind with n = 0 and n = N and prints the difference divided by N.
//
// Stages: all = preprocess() (decode + pixel ops), decode = decodeImage(), ops = preprocessImage() on
// pixels decoded once up front. Recipe: DEFAULT_PREPROCESS.
import { readFileSync, writeFileSync } from "node:fs";
import { DEFAULT_PREPROCESS, decodeImage, preprocess, preprocessImage } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1]!;
  if (fallback === undefined) throw new Error(`missing --${name} (see the header of bench/preprocess/instructions.ts)`);
  return fallback;
}

async function main(): Promise<void> {
  await initCodecs();
  if (process.argv.includes("--write-input")) {
    const { benchInputs } = await import("./inputs.ts");
    const input = (await benchInputs()).find((i) => i.name.startsWith("500x375"))!;
    writeFileSync(arg("write-input"), input.bytes);
    return;
  }
  const bytes = new Uint8Array(readFileSync(arg("input")));
  const stage = arg("stage", "all");
  const n = Number(arg("n", "40"));
  const warmup = Number(arg("warmup", "20"));
  const maxPixels = DEFAULT_PREPROCESS.maxPixels;
  const decoded = await decodeImage(bytes, { maxPixels });
  const once = async (): Promise<number> => {
    if (stage === "decode") return (await decodeImage(bytes, { maxPixels })).data.length;
    if (stage === "ops") return preprocessImage(decoded, DEFAULT_PREPROCESS).data.length;
    if (stage === "all") return (await preprocess(bytes, DEFAULT_PREPROCESS)).data.length;
    throw new Error(`--stage must be all, decode or ops, got ${stage}`);
  };
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += await once();
  for (let i = 0; i < n; i++) sink += await once();
  console.log(`${stage}: ${n} calls after ${warmup} warm-up (${sink} values)`);
}

await main();
