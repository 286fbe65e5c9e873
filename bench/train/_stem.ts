import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { setSimdConv2D } from "../../trainer/src/backend/wasm-kernels.ts";
await initBackend("wasm", { threads: 2 });
for (const size of [64, 128]) {
  const x = tf.randomNormal([32, size, size, 3]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 3, 32]) as tf.Tensor4D;
  for (const simd of [true, false, true, false]) {
    setSimdConv2D(simd);
    const t: number[] = [];
    for (let i = 0; i < 6; i++) { const t0 = performance.now(); const y = tf.conv2d(x, w, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]); t.push(performance.now() - t0); y.dispose(); }
    console.log(size, simd ? "ours" : "xnnpack", t.map((v) => v.toFixed(1)).join(" "));
  }
}
