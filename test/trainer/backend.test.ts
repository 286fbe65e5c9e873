import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";
import type { ArchSpec } from "../../trainer/src/model/index.ts";

beforeAll(async () => {
  await ensureGradients();
});

describe("initBackend", () => {
  it("auto falls back to wasm here and says why in one line", async () => {
    const lines: string[] = [];
    const info = await initBackend("auto", { log: (l) => lines.push(l) });
    expect(info.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(info.notice).toMatch(/tfjs-node.*using wasm/);
    expect(info.notice!.split("\n")).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^backend: wasm \(1 thread\)$/);
  });

  it("an explicit tensorflow choice that cannot load is an actionable error", async () => {
    // Without the optional package, or (after npm ci, install script blocked) without its binary.
    await expect(initBackend("tensorflow")).rejects.toThrow(
      /--backend tensorflow: @tensorflow\/tfjs-node(-gpu)? (is not installed; to train on native TensorFlow set|is installed but its native binary did not load .*npm rebuild)/);
  });

  it("rejects unknown choices", async () => {
    await expect(initBackend("gpu" as never)).rejects.toThrow(/unknown backend "gpu": choose one of auto, tensorflow, webgpu, wasm, cpu/);
  });
});

/** A small net that still has every layer kind: stem + maxpool, strided basic and bottleneck blocks, idconv. */
const TINY_BOTTLENECK: ArchSpec = {
  name: "tiny-bottleneck", nOut: 5, inChannels: 3, layers: [1, 1], expansion: 4,
  stem: [8, 8, 16], block: "res", widths: [8, 16], firstStride: 1,
};

async function trainStep(backend: "cpu" | "wasm", spec: ArchSpec, x: Float32Array, shape: [number, number, number, number]) {
  await initBackend(backend);
  const model = createModel(spec, { seed: 7 });
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2], "int32"), spec.nOut);
  const input = tf.tensor4d(x, shape);
  const vars = model.parameters().map((p) => p.variable);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(input, { training: true })) as tf.Scalar, vars);
  const logitsEval = model.forward(input, { training: false });
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

describe("the same model code on wasm and cpu", () => {
  for (const spec of [TINY_BOTTLENECK, archSpec("resblock", { nOut: 5 })]) {
    it(`${spec.name}: loss, every parameter gradient, BN running stats and eval logits agree (31x29 input)`, async () => {
      const shape: [number, number, number, number] = [3, 31, 29, 3];
      const x = tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", 3).dataSync() as Float32Array);
      const cpu = await trainStep("cpu", spec, x, shape);
      const wasm = await trainStep("wasm", spec, x, shape);
      expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.loss)));
      const names = Object.keys(cpu.grads);
      expect(names.length).toBeGreaterThan(10);
      for (const name of names) {
        const a = cpu.grads[name]!;
        const b = wasm.grads[name]!;
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
          scale = Math.max(scale, Math.abs(a[i]!));
        }
        // BatchZero gammas make some gradients exactly 0 on both; otherwise relative to the largest entry.
        expect(diff, name).toBeLessThanOrEqual(1e-3 * scale + 1e-6);
      }
      for (const name of Object.keys(cpu.buffers)) {
        const a = cpu.buffers[name]!;
        const b = wasm.buffers[name]!;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), name).toBeLessThan(1e-4 * Math.max(1, Math.abs(a[i]!)));
      }
      for (let i = 0; i < cpu.logitsEval.length; i++) expect(Math.abs(cpu.logitsEval[i]! - wasm.logitsEval[i]!)).toBeLessThan(1e-3);
    });
  }
});
