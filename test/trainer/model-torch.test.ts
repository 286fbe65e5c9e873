import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";
import type { Model } from "../../trainer/src/model/index.ts";
import { repoRoot } from "../helpers/data.ts";

// Outside reference: bench/train/twin.py builds the book's ResNets in PyTorch independently, loads
// our weights by name and must produce the same logits (eval and training-mode BatchNorm) and the
// same running statistics, at an odd input size.

const PYTHON = "/usr/bin/python3";
const TWIN = join(repoRoot, "bench/train/twin.py");
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
const skipReason = `needs PyTorch at ${PYTHON} (apt-get install python3-torch)`;

let dir = "";
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "twin-"));
  await initBackend("wasm");
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Non-trivial BN state, so eval-mode statistics and residual branches (BatchZero) are exercised. */
function randomiseBatchNorm(model: Model, seed: number) {
  let s = seed;
  for (const p of model.parameters()) {
    if (p.kind === "bn-gamma") p.variable.assign(tf.randomUniform(p.variable.shape, 0.5, 1.5, "float32", s++));
    if (p.kind === "bn-beta") p.variable.assign(tf.randomUniform(p.variable.shape, -0.2, 0.2, "float32", s++));
  }
  for (const b of model.buffers()) {
    const [lo, hi] = b.name.endsWith("running_var") ? [0.5, 2] : [-0.3, 0.3];
    b.variable.assign(tf.randomUniform(b.variable.shape, lo, hi, "float32", s++));
  }
}

function writeWeights(model: Model, file: string) {
  const entries = [...model.parameters(), ...model.buffers()];
  const index: Array<{ name: string; shape: number[]; offset: number }> = [];
  const total = entries.reduce((n, e) => n + e.variable.size, 0);
  const blob = new Float32Array(total);
  let offset = 0;
  for (const e of entries) {
    blob.set(e.variable.dataSync() as Float32Array, offset);
    index.push({ name: e.name, shape: e.variable.shape, offset });
    offset += e.variable.size;
  }
  writeFileSync(`${file}.bin`, new Uint8Array(blob.buffer));
  writeFileSync(`${file}.json`, JSON.stringify(index));
}

describe.skipIf(!hasTorch)(`PyTorch twin agrees with the tfjs models (${hasTorch ? "torch found" : skipReason})`, () => {
  for (const name of ["fcn", "resblock2", "resnet18", "resnet50"]) {
    it(`${name}: eval logits, training-mode logits and running stats at 2x37x45`, () => {
      const spec = archSpec(name, { nOut: 6 });
      const model = createModel(spec, { seed: 11 });
      randomiseBatchNorm(model, 100);
      const shape = [2, 37, 45, 3] as const;
      const xv = tf.tidy(() => tf.randomNormal([...shape], 0, 1, "float32", 9).dataSync() as Float32Array);
      const base = join(dir, name);
      writeWeights(model, base);
      writeFileSync(`${base}.input.bin`, new Uint8Array(xv.buffer));

      const x = tf.tensor4d(xv, [...shape]);
      const evalLogits = Array.from(tf.tidy(() => model.forward(x, { training: false })).dataSync());
      const trainLogits = Array.from(tf.tidy(() => model.forward(x, { training: true })).dataSync());
      x.dispose();

      const run = spawnSync(PYTHON, [TWIN, "forward", "--spec", JSON.stringify(spec), "--weights", `${base}.bin`, "--index", `${base}.json`,
        "--input", `${base}.input.bin`, "--shape", shape.join(",")], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, OMP_NUM_THREADS: "1" } });
      expect(run.status, run.stderr).toBe(0);
      const twin = JSON.parse(run.stdout) as { eval: number[]; train: number[]; running: Record<string, number[]> };

      const close = (a: number[], b: number[], tol: number, what: string) => {
        expect(a.length, what).toBe(b.length);
        const scale = Math.max(1, ...b.map(Math.abs));
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${what}[${i}]`).toBeLessThan(tol * scale);
      };
      close(evalLogits, twin.eval, 1e-3, "eval logits");
      close(trainLogits, twin.train, 1e-3, "training-mode logits");
      for (const b of model.buffers()) close(Array.from(b.variable.dataSync()), twin.running[b.name]!, 1e-3, b.name);
      model.dispose();
    });
  }
});
