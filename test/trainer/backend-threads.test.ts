import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";

// Its own file: the wasm backend is created once per process, and this one asks for 2 threads.
describe("wasm with 2 XNNPACK threads in Node", () => {
  it("starts the threaded SIMD build with 2 threads and computes the same convolutions as cpu", async () => {
    await ensureGradients();
    const lines: string[] = [];
    const info = await initBackend("wasm", { threads: 2, log: (l) => lines.push(l) });
    expect(info.name).toBe("wasm");
    expect(lines.at(-1)).toBe("backend: wasm (2 threads)");
    // A second request with another count is not silently honoured.
    expect((await initBackend("wasm", { threads: 1 })).notice).toMatch(/already started with 2 thread/);

    const xv = tf.tidy(() => tf.randomNormal([2, 17, 15, 8], 0, 1, "float32", 5).dataSync() as Float32Array);
    const wv = tf.tidy(() => tf.randomNormal([3, 3, 8, 16], 0, 1, "float32", 6).dataSync() as Float32Array);
    const run = () => tf.tidy(() => {
      const x = tf.tensor4d(xv, [2, 17, 15, 8]);
      const w = tf.tensor4d(wv, [3, 3, 8, 16]);
      const [dx, dw] = tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1))))([x, w]);
      return [tf.conv2d(x, w, 1, "same"), dx!, dw!].map((t) => t.dataSync() as Float32Array);
    });
    const threaded = run();
    await initBackend("cpu");
    const cpu = run();
    for (let k = 0; k < 3; k++) {
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < cpu[k]!.length; i++) {
        diff = Math.max(diff, Math.abs(cpu[k]![i]! - threaded[k]![i]!));
        scale = Math.max(scale, Math.abs(cpu[k]![i]!));
      }
      expect(diff, `output ${k}`).toBeLessThan(1e-5 * scale);
    }
  });
});
