import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it, test } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { isSoftwareAdapter, probeWebGpu } from "../../trainer/src/backend/webgpu.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { runEval } from "../../trainer/src/learner/run-eval.ts";
import { runTraining } from "../../trainer/src/learner/run-training.ts";
import type { RunIO } from "../../trainer/src/learner/setup.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";
import type { ArchSpec } from "../../trainer/src/model/index.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";

// The webgpu backend (trainer/src/backend/webgpu.ts) on whatever adapter this machine has. In CI that
// is a CPU driver (Mesa llvmpipe through Dawn's OpenGL ES backend, or lavapipe through Vulkan), which
// runs the same WGSL shaders a GPU runs, slowly: enough to check the numbers, not the speed.

const probe = await probeWebGpu();
const noAdapter = probe.ok ? "" : `no WebGPU adapter here (${probe.reason}); install libegl1 libgles2 libegl-mesa0 (see .ci/run)`;
if (noAdapter) console.warn(`webgpu tests skipped: ${noAdapter}`);

beforeAll(async () => {
  await ensureGradients();
});

describe("adapter classification", () => {
  it("names CPU emulations as software and real GPUs as hardware", () => {
    expect(isSoftwareAdapter({ vendor: "mesa", device: "llvmpipe (LLVM 19.1.7, 256 bits)" })).toBe(true);
    expect(isSoftwareAdapter({ vendor: "", device: "llvmpipe-llvm-15-0-6-256-bits-", description: "OpenGL version OpenGL ES 3.2 Mesa 22.3.6" })).toBe(true);
    expect(isSoftwareAdapter({ vendor: "google", device: "SwiftShader Device (Subzero)" })).toBe(true);
    expect(isSoftwareAdapter({ vendor: "nvidia", architecture: "hopper", device: "NVIDIA H200", description: "NVIDIA: 570.133.20" })).toBe(false);
    expect(isSoftwareAdapter({ vendor: "amd", device: "AMD Radeon RX 7900 XTX (RADV NAVI31)" })).toBe(false);
  });

  it.skipIf(!probe.ok || !probe.adapter.software)("auto never picks a software adapter on its own, and says why in one line", async () => {
    const lines: string[] = [];
    const info = await initBackend("auto", { log: (l) => lines.push(l) });
    expect(info.name).not.toBe("webgpu");
    expect(info.notice).toMatch(/^auto: (no GPU device .*no webgpu|webgpu not used \(only a software adapter: .*\))/);
    expect(info.notice!.split("\n")).toHaveLength(1);
  });
});

/** ResNet-18 and ResNet-50 as in the arch table, at small widths so a CPU driver runs them in seconds. */
const NARROW: ArchSpec[] = [
  { ...archSpec("resnet18", { nOut: 5 }), stem: [8, 8, 16], widths: [8, 16, 16, 32] },
  { ...archSpec("resnet50", { nOut: 5 }), stem: [8, 8, 16], widths: [4, 8, 8, 16] },
];

async function trainStep(backend: "webgpu" | "wasm", spec: ArchSpec, x: Float32Array, shape: [number, number, number, number]) {
  await initBackend(backend);
  const model = createModel(spec, { seed: 7 });
  const labels = tf.oneHot(tf.tensor1d([0, 1, 4], "int32"), spec.nOut);
  const input = tf.tensor4d(x, shape);
  const vars = model.parameters().map((p) => p.variable);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(input, { training: true })) as tf.Scalar, vars);
  const logitsEval = model.forward(input, { training: false });
  // Async reads only: dataSync() on a webgpu tensor throws in Node.
  const out = {
    loss: (await value.data())[0]!,
    grads: Object.fromEntries(await Promise.all(model.parameters().map(async (p) => [p.name, await grads[p.variable.name]!.data()] as const))),
    buffers: Object.fromEntries(await Promise.all(model.buffers().map(async (b) => [b.name, await b.variable.data()] as const))),
    logitsEval: await logitsEval.data(),
  };
  tf.dispose([value, labels, input, logitsEval, ...Object.values(grads)]);
  model.dispose();
  return out;
}

describe.skipIf(!probe.ok)(`webgpu vs wasm: one training step of narrow ResNets ${probe.ok ? "" : `(skipped: ${noAdapter})`}`, () => {
  for (const spec of NARROW) {
    test(`${spec.name} (widths ${(spec.widths as number[]).join("/")}): loss, every gradient, BN running stats, eval logits`, { timeout: 120_000 }, async () => {
      const shape: [number, number, number, number] = [3, 35, 33, 3];
      await initBackend("wasm");
      const x = await tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", 11)).data() as Float32Array;
      const ref = await trainStep("wasm", spec, x, shape);
      const gpu = await trainStep("webgpu", spec, x, shape);
      expect(tf.getBackend()).toBe("webgpu");
      expect(Math.abs(ref.loss - gpu.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.loss)));
      const names = Object.keys(ref.grads);
      expect(names.length).toBe(Object.keys(gpu.grads).length);
      expect(names.length).toBeGreaterThan(spec.name === "resnet50" ? 150 : 60);
      let worst = 0;
      for (const name of names) {
        const a = ref.grads[name]!;
        const b = gpu.grads[name]!;
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
          scale = Math.max(scale, Math.abs(a[i]!));
        }
        // BatchZero gammas make some gradients ~0 on both; otherwise relative to the largest entry.
        expect(diff, name).toBeLessThanOrEqual(1e-4 * scale + 1e-6);
        if (scale > 1e-4) worst = Math.max(worst, diff / scale);
      }
      console.log(`${spec.name}: largest relative gradient difference webgpu vs wasm ${worst.toExponential(2)}`);
      for (const name of Object.keys(ref.buffers)) {
        const a = ref.buffers[name]!;
        const b = gpu.buffers[name]!;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), name).toBeLessThan(1e-5 * Math.max(1, Math.abs(a[i]!)));
      }
      for (let i = 0; i < ref.logitsEval.length; i++) expect(Math.abs(ref.logitsEval[i]! - gpu.logitsEval[i]!)).toBeLessThan(1e-4);
    });
  }
});

function captureIO(): RunIO & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => void lines.push(l), write: (l) => void lines.push(l) };
}

describe.skipIf(!probe.ok || !hasImagenette)(`trainer run --backend webgpu on real Imagenette ${!probe.ok ? `(skipped: ${noAdapter})` : hasImagenette ? "" : `(skipped: ${needs("imagenette")})`}`, () => {
  test("loss falls; the checkpoint exports to ONNX that onnxruntime runs to the same logits; eval agrees", { timeout: 240_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), "webgpu-run-"));
    const config = resolveConfig({
      preset: "fcn",
      overrides: {
        data: IMAGENETTE_DIR, size: 32, presize: 40, limit: 30, validLimit: 10, epochs: 3, lr: 1e-2, bs: 32,
        backend: "webgpu", out, cacheDir: join(out, "cache"),
      },
    });
    const io = captureIO();
    const result = await runTraining(config, { io, progress: false });
    expect(io.lines.some((l) => /^backend: webgpu \(.* via Dawn (Vulkan|OpenGL ES)/.test(l))).toBe(true);
    expect(result.records).toHaveLength(3);
    const [first, , third] = result.records;
    expect(third!.trainLoss).toBeLessThan(first!.trainLoss - 0.15);
    expect(third!.accuracy).toBeGreaterThan(0.15); // 10 classes: chance is 0.1

    // trainer export on the same backend: weights read back from the GPU, verified by onnxruntime.
    expect(tf.getBackend()).toBe("webgpu");
    const exported = await exportRun({ checkpoint: result.checkpoint, out: join(out, "model"), version: "v1", int8: false });
    expect(exported.verifiedMaxDiff).toBeLessThan(1e-4);
    const session = await ort.InferenceSession.create(join(out, "model", "model.onnx"));
    const logits = (await session.run({ input: new ort.Tensor("float32", new Float32Array(2 * 3 * 32 * 32).fill(0.25), [2, 3, 32, 32]) })).logits!;
    expect(logits.dims).toEqual([2, 10]);
    expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);

    const ev = await runEval(result.checkpoint, { validLimit: 10, limit: 30, backend: "webgpu" }, { io: captureIO() });
    expect(ev.accuracy).toBeCloseTo(third!.accuracy, 6);
    expect(ev.validLoss).toBeCloseTo(third!.validLoss, 4);
  });
});
