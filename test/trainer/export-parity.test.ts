// Export parity: for every architecture the trainer builds, logits from tfjs and from onnxruntime-node
// on the same tensors agree (max abs diff < 1e-4) at odd and even sizes. BatchNorm parameters and
// running statistics are randomised first, so BN folding and every residual branch (whose last BN
// starts at gamma = 0) are really exercised.
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { exportOnnx } from "../../trainer/src/export/onnx-export.ts";
import { ARCH_NAMES, archSpec, createModel, walkLayers, type LayerNode, type Model } from "../../trainer/src/model/index.ts";
import { seededRandom } from "../../trainer/src/model/init.ts";

/**
 * Give every BN trained-looking statistics. The BN that ends a residual branch (BatchZero, gamma = 0
 * at init) gets a small gamma, as in trained ResNets; with gamma ~ 1 there, activations double every
 * few blocks and ResNet-50 logits reach the hundreds, where float32 rounding alone exceeds 1e-4.
 */
function randomiseBatchNorm(model: Model, seed: number): void {
  const rand = seededRandom(seed);
  const u = (n: number, lo: number, hi: number) => tf.tensor1d(Array.from({ length: n }, () => lo + (hi - lo) * rand()));
  const branchEnds = new Set<LayerNode>();
  for (const node of walkLayers(model.root)) {
    if (node.kind !== "residual") continue;
    const bns = [...walkLayers(node.convpath)].filter((n) => n.kind === "batchnorm");
    if (bns.length > 0) branchEnds.add(bns[bns.length - 1]!);
  }
  for (const node of walkLayers(model.root)) {
    if (node.kind !== "batchnorm") continue;
    const n = node.gamma.size;
    node.gamma.assign(branchEnds.has(node) ? u(n, 0.1, 0.3) : u(n, 0.5, 1.5));
    node.beta.assign(u(n, -0.2, 0.2));
    node.runningMean.assign(u(n, -0.2, 0.2));
    node.runningVar.assign(u(n, 0.5, 2));
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const SIZES: [number, number][] = [
  [64, 64],
  [97, 203],
  [128, 128],
  [320, 240],
];

describe("ONNX export parity with tfjs", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  for (const name of ARCH_NAMES) {
    it(`${name}: tfjs and onnxruntime agree at ${SIZES.map((s) => s.join("x")).join(", ")}`, async () => {
      const model = createModel(archSpec(name, { nOut: 10 }), { seed: 1 });
      try {
        randomiseBatchNorm(model, 2);
        const session = await ort.InferenceSession.create(await exportOnnx(model), { intraOpNumThreads: 1 });
        const rand = seededRandom(3);
        for (const [h, w] of SIZES) {
          const nchw = new Float32Array(3 * h * w).map(() => rand() * 2 - 1);
          const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [1, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
          const logits = model.forward(x, { training: false });
          const expected = (await logits.data()) as Float32Array;
          x.dispose();
          logits.dispose();
          const out = await session.run({ input: new ort.Tensor("float32", nchw, [1, 3, h, w]) });
          expect(out.logits!.dims, `${name} at ${h}x${w}`).toEqual([1, 10]);
          const diff = maxAbsDiff(out.logits!.data as Float32Array, expected);
          expect(diff, `${name} at ${h}x${w}: max abs diff ${diff}`).toBeLessThan(1e-4);
          // Logits are not trivially equal (e.g. all zero): they vary across classes.
          expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
        }
        await session.release();
      } finally {
        model.dispose();
      }
    });
  }
});
