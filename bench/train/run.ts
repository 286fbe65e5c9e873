/**
 * Training throughput, side by side with the PyTorch twin (bench/train/twin.py, Debian python3-torch,
 * channels-last memory format), same architecture, batch, input size and thread count: forward +
 * backward + SGD update. For a whole epoch (data, validation, checkpoint) see epoch.ts.
 *
 *   npx tsx bench/train/run.ts [--archs resnet18,resnet50] [--sizes 64,128] [--batch 32]
 *                              [--threads 1,2] [--steps 2] [--warmup 1] [--with-cpu] [--profile]
 *
 * Each tfjs configuration runs in its own process (step-worker.ts). Prints a markdown table:
 * wall ms per step, images/s, CPU seconds per image (on a shared machine CPU time is the steadier
 * figure), the ratios to PyTorch, what one Imagenette epoch (9469 images) costs, and with
 * --profile the tape's peak memory and the per-kernel split of one step. A configuration that does
 * not fit the 4 GB wasm heap is retried at half the batch and says so.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadBestNative } from "../../trainer/src/backend/tensorflow.ts";
import { archSpec } from "../../trainer/src/model/index.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const EPOCH_IMAGES = 9469;
const PYTHON = "/usr/bin/python3";

const { values } = parseArgs({
  options: {
    archs: { type: "string", default: "resnet18,resnet50" },
    sizes: { type: "string", default: "64,128" },
    batch: { type: "string", default: "32" },
    threads: { type: "string", default: "1,2" },
    steps: { type: "string", default: "2" },
    warmup: { type: "string", default: "1" },
    "with-cpu": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
});
const list = (s: string) => s.split(",").map((v) => v.trim()).filter(Boolean);
const archs = list(values.archs!);
const sizes = list(values.sizes!).map(Number);
const threadCounts = list(values.threads!).map(Number);
const batch = values.batch!;

interface Row { arch: string; size: number; engine: string; threads: number; batch: number; msPerStep?: number; cpuMsPerStep?: number; peakMB?: number; note?: string; profile?: unknown }
const rows: Row[] = [];

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> | { error: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) {
    const text = `${r.stderr}\n${r.stdout}`;
    const errorLine = text.split("\n").find((l) => /^\w*Error\b|Error:/.test(l.trim()));
    return { error: (errorLine ?? text.trim().split("\n").slice(-1)[0] ?? `exit ${r.status}`).trim().slice(0, 200) };
  }
  return JSON.parse(line);
}

const b = Number(batch);
const torchOk = spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
const native = await loadBestNative();

for (const arch of archs) {
  for (const size of sizes) {
    const common = ["--arch", arch, "--size", String(size), "--batch", batch, "--steps", values.steps!, "--warmup", values.warmup!];
    for (const threads of threadCounts) {
      const tag = `${arch} ${size}px ${threads}t`;
      process.stderr.write(`${tag}: tfjs wasm ... `);
      const wasmRun = (args: string[]) => runJson(process.execPath, ["--import", "tsx", join(here, "step-worker.ts"), "--backend", "wasm", "--threads", String(threads), ...args, ...(values.profile ? ["--profile"] : [])]);
      let w = wasmRun(common);
      let wasmBatch = Number(batch);
      let note: string | undefined;
      if ("error" in w && /memory access out of bounds|out of memory/i.test(String(w.error))) {
        // The wasm heap is capped at 4 GB; the tape of a large model at a large size does not fit.
        wasmBatch = Math.floor(wasmBatch / 2);
        note = `batch ${batch} does not fit the 4 GB wasm heap; measured at batch ${wasmBatch}`;
        w = wasmRun(common.map((v, i) => (common[i - 1] === "--batch" ? String(wasmBatch) : v)));
      }
      rows.push("error" in w ? { arch, size, engine: "tfjs wasm", threads, batch: wasmBatch, note: String(w.error) }
        : { arch, size, engine: "tfjs wasm", threads, batch: wasmBatch, msPerStep: Number(w.msPerStep), cpuMsPerStep: Number(w.cpuMsPerStep), peakMB: w.peakMB as number | undefined, profile: w.profile, note });
      process.stderr.write(`torch ... `);
      if (torchOk) {
        const spec = JSON.stringify(archSpec(arch, { nOut: 10 }));
        const t = runJson(PYTHON, [join(here, "twin.py"), "bench", "--spec", spec, "--size", String(size), "--batch", batch, "--threads", String(threads), "--steps", values.steps!, "--warmup", values.warmup!], { OMP_NUM_THREADS: String(threads) });
        rows.push("error" in t ? { arch, size, engine: "pytorch", threads, batch: b, note: String(t.error) } : { arch, size, engine: `pytorch ${t.torch}${t.channelsLast ? " channels-last" : ""}`, threads, batch: b, msPerStep: Number(t.msPerStep), cpuMsPerStep: Number(t.cpuMsPerStep) });
      } else {
        rows.push({ arch, size, engine: "pytorch", threads, batch: b, note: `not installed at ${PYTHON}` });
      }
      process.stderr.write("done\n");
    }
    if (native.ok) {
      const n = runJson(process.execPath, ["--import", "tsx", join(here, "step-worker.ts"), "--backend", "tensorflow", ...common]);
      rows.push("error" in n ? { arch, size, engine: native.pkg, threads: 0, batch: b, note: String(n.error) } : { arch, size, engine: native.pkg, threads: 0, batch: b, msPerStep: Number(n.msPerStep), cpuMsPerStep: Number(n.cpuMsPerStep) });
    }
    if (values["with-cpu"]) {
      process.stderr.write(`${arch} ${size}px: tfjs cpu ... `);
      const c = runJson(process.execPath, ["--import", "tsx", join(here, "step-worker.ts"), "--backend", "cpu", ...common.slice(0, -4), "--steps", "1", "--warmup", "0"]);
      rows.push("error" in c ? { arch, size, engine: "tfjs cpu", threads: 1, batch: b, note: String(c.error) } : { arch, size, engine: "tfjs cpu", threads: 1, batch: b, msPerStep: Number(c.msPerStep), cpuMsPerStep: Number(c.cpuMsPerStep), note: "1 step, no warm-up" });
      process.stderr.write("done\n");
    }
  }
}

const fmt = (v: number | undefined, digits = 0) => (v === undefined ? "-" : v.toFixed(digits));
console.log(`| model | px | engine | threads | batch | ms/step | img/s | CPU s/image | x PyTorch (img/s) | x PyTorch (CPU) | epoch of ${EPOCH_IMAGES} | tape peak |`);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const torch = rows.find((o) => o.engine.startsWith("pytorch") && o.arch === r.arch && o.size === r.size && o.threads === r.threads && o.msPerStep);
  const ips = r.msPerStep ? (r.batch * 1000) / r.msPerStep : undefined;
  const cpuPerImage = r.cpuMsPerStep ? r.cpuMsPerStep / 1000 / r.batch : undefined;
  const torchIps = torch?.msPerStep ? (torch.batch * 1000) / torch.msPerStep : undefined;
  const torchCpu = torch?.cpuMsPerStep ? torch.cpuMsPerStep / 1000 / torch.batch : undefined;
  const isTorch = r.engine.startsWith("pytorch");
  const ratio = ips && torchIps && !isTorch ? `${(torchIps / ips).toFixed(2)}x` : "";
  const cpuRatio = cpuPerImage && torchCpu && !isTorch ? `${(cpuPerImage / torchCpu).toFixed(2)}x` : "";
  const epoch = ips ? `${(EPOCH_IMAGES / ips / 60).toFixed(1)} min` : "";
  const peak = r.peakMB ? `${r.peakMB} MB` : "";
  console.log(`| ${r.arch} | ${r.size} | ${r.engine} | ${r.threads || "-"} | ${r.batch} | ${fmt(r.msPerStep)} | ${fmt(ips, 1)} | ${fmt(cpuPerImage, 3)} | ${ratio} | ${cpuRatio} | ${epoch} | ${peak} |${r.note ? ` ${r.note}` : ""}`);
}
if (!native.ok) console.log(`\nnative TensorFlow: ${native.notice}`);
for (const r of rows.filter((r) => r.profile)) {
  console.log(`\nper-kernel time, ${r.arch} ${r.size}px, wasm ${r.threads} thread(s), one step (tf.profile, wall ms, share):`);
  for (const k of r.profile as Array<{ name: string; ms: number; share: number }>) console.log(`  ${k.name.padEnd(24)} ${String(k.ms).padStart(6)}  ${k.share}%`);
}
