import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { augmentBatch, homographyFromPoints, pixelLut, resampleImages, sampleAugmentation, type ImageAug, type Mat3 } from "../../trainer/src/data/augment.ts";
import { makeRng } from "../../trainer/src/data/random.ts";

const apply = (m: Mat3, x: number, y: number): [number, number] => {
  const k = m[6] * x + m[7] * y + m[8];
  return [(m[0] * x + m[1] * y + m[2]) / k, (m[3] * x + m[4] * y + m[5]) / k];
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("augmentation geometry", () => {
  test("homographyFromPoints maps the four points", () => {
    const src: [number, number][] = [[-1, -1], [-1, 1], [1, -1], [1, 1]];
    const dst: [number, number][] = [[-1.1, -0.9], [-0.95, 1.2], [1.1, -1.05], [0.9, 0.8]];
    const h = homographyFromPoints(src, dst);
    src.forEach((p, i) => {
      const [u, v] = apply(h, p[0], p[1]);
      expect(u).toBeCloseTo(dst[i]![0], 9);
      expect(v).toBeCloseTo(dst[i]![1], 9);
    });
  });

  test("crop only at min_scale 1 maps output pixel centres onto the whole input", () => {
    const aug = sampleAugmentation(makeRng(1), 160, { size: 128, minScale: 1, full: false });
    const [x0, y0] = apply(aug.matrix, 0, 0);
    const [x1, y1] = apply(aug.matrix, 127, 127);
    // Output pixel i covers input [i*1.25, (i+1)*1.25); its centre in index coordinates is (i+0.5)*1.25-0.5.
    expect(x0).toBeCloseTo(0.125, 9);
    expect(y0).toBeCloseTo(0.125, 9);
    expect(x1).toBeCloseTo(159.5 - 0.625, 9);
    expect(y1).toBeCloseTo(159.5 - 0.625, 9);
    expect(aug.contrast).toBe(1);
    expect(aug.brightness).toBe(0);
  });

  test("random crops stay inside the image and keep at least min_scale of its area", () => {
    const rng = makeRng(7);
    for (let i = 0; i < 200; i++) {
      const aug = sampleAugmentation(rng, 100, { size: 50, minScale: 0.5, full: false });
      const [ax, ay] = apply(aug.matrix, -0.5, -0.5); // output's outer corner -> crop corner (index coords)
      const [bx, by] = apply(aug.matrix, 49.5, 49.5);
      expect(ax).toBeGreaterThanOrEqual(-0.5 - 1e-9);
      expect(bx).toBeLessThanOrEqual(99.5 + 1e-9);
      const side = bx - ax;
      expect(side * side).toBeGreaterThanOrEqual(0.5 * 100 * 100 - 1e-6);
      expect(by - ay).toBeCloseTo(side, 9); // square (aug_transforms uses ratio 1)
    }
  });

  test("full augmentation flips about half the images and varies lighting", () => {
    const rng = makeRng(3);
    let flips = 0;
    let lit = 0;
    const n = 400;
    for (let i = 0; i < n; i++) {
      const aug = sampleAugmentation(rng, 64, { size: 64, minScale: 1, full: true });
      // Left edge of the output maps to the right half of the input when flipped.
      if (apply(aug.matrix, 0, 32)[0] > 32) flips++;
      if (aug.contrast !== 1 || aug.brightness !== 0) lit++;
    }
    expect(flips / n).toBeGreaterThan(0.4);
    expect(flips / n).toBeLessThan(0.6);
    expect(lit / n).toBeGreaterThan(0.8); // 1 - 0.25^2
  });

  for (const backend of ["cpu", "wasm"] as const) {
    test(`augmentBatch resamples every image of the batch and normalises (${backend})`, async () => {
      if (backend === "wasm") await initBackend("wasm");
      else await tf.setBackend("cpu");
      // Three 8x8 images: a horizontal ramp, its mirror, and the ramp again.
      const ramp = Array.from({ length: 8 * 8 * 3 }, (_, i) => Math.round(((Math.floor(i / 3) % 8) / 7) * 255));
      const mirror = ramp.map((v) => 255 - v);
      const pixels = Uint8Array.from([...ramp, ...mirror, ...ramp]);
      const identity = sampleAugmentation(makeRng(0), 8, { size: 8, minScale: 1, full: false });
      const out = augmentBatch(pixels, 8, [identity, identity, identity], 8, [0, 0, 0], [1, 1, 1]);
      const v = out.arraySync();
      expect(out.shape).toEqual([3, 8, 8, 3]);
      // Identity geometry reproduces every image (tfjs-cpu's batched Transform would lose all but the first).
      expect(v[0]![3]![0]![0]).toBeCloseTo(0, 5);
      expect(v[0]![3]![7]![0]).toBeCloseTo(1, 5);
      expect(v[1]![3]![0]![0]).toBeCloseTo(1, 5);
      expect(v[1]![3]![7]![0]).toBeCloseTo(0, 5);
      expect(v[2]![5]![7]![2]).toBeCloseTo(1, 5);
      const norm = augmentBatch(pixels, 8, [identity, identity, identity], 4, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
      const n = norm.arraySync().flat(3);
      expect(Math.min(...n)).toBeGreaterThanOrEqual(-2 - 1e-5);
      expect(Math.max(...n)).toBeLessThanOrEqual(2 + 1e-5);
      tf.dispose([out, norm]);
    });
  }

  // The definition resampleImages implements: the lookup table applied to every byte, then
  // tf.image.transform (bilinear, reflect, fill 0) of each image on its own (what augmentBatch did before
  // it resampled the bytes directly; tfjs-backend-cpu's batched Transform stops after the first image).
  function viaTransform(source: Uint8Array, indices: number[], inSize: number, augs: ImageAug[], [h, w]: [number, number], mean: number[], std: number[]): Float32Array {
    const per = inSize * inSize * 3;
    const out: number[] = [];
    indices.forEach((k, i) => {
      const lut = pixelLut(augs[i]!, mean, std);
      const img = Float32Array.from(source.subarray(k * per, (k + 1) * per), (v, j) => lut[(j % 3) * 256 + v]!);
      const t = tf.tidy(() =>
        tf.image.transform(tf.tensor4d(img, [1, inSize, inSize, 3]), tf.tensor2d([augs[i]!.matrix.slice(0, 8)]), "bilinear", "reflect", 0, [h, w]),
      );
      out.push(...t.dataSync());
      t.dispose();
    });
    return Float32Array.from(out);
  }

  test("resampleImages equals lookup table + tf.image.transform for random crops, flips, warps, lighting and odd shapes", async () => {
    await tf.setBackend("cpu");
    const rng = makeRng(11);
    const inSize = 37;
    const nSource = 5;
    // Smooth gradients plus noise, so interpolation errors and wrong taps both show.
    const source = Uint8Array.from({ length: nSource * inSize * inSize * 3 }, (_, j) => (j * 7 + Math.floor(j / 111) * 13 + ((j * 2654435761) >>> 27)) & 255);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (const [h, w] of [[24, 24], [16, 23], [31, 12]] as [number, number][]) {
      const indices = [4, 0, 2, 2, 1, 3];
      const augs = indices.map(() => sampleAugmentation(rng, inSize, { size: h, width: w, minScale: 0.35, full: true, maxWarp: 0.4, maxRotate: 30 }));
      const mine = resampleImages(source, indices, inSize, augs, [h, w], mean, std);
      const ref = viaTransform(source, indices, inSize, augs, [h, w], mean, std);
      expect(mine.length).toBe(ref.length);
      let worst = 0;
      for (let j = 0; j < ref.length; j++) worst = Math.max(worst, Math.abs(mine[j]! - ref[j]!));
      expect(worst, `${h}x${w}`).toBeLessThan(1e-6);
    }
    // Points outside the image reflect back in (zoom-out of 3x): still equal to the reference.
    const zoomOut: ImageAug = { matrix: [3, 0, -inSize, 0, 3, -inSize, 0, 0, 1], contrast: 1, brightness: 0 };
    const a = resampleImages(source, [1], inSize, [zoomOut], [20, 20], mean, std);
    const b = viaTransform(source, [1], inSize, [zoomOut], [20, 20], mean, std);
    for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-6);
    expect(() => resampleImages(source, [nSource], inSize, [zoomOut], 4, mean, std)).toThrow(/outside/);
  });

  test("lighting table: identity without lighting, monotone with it, brightness shifts the middle", () => {
    const plain = pixelLut({ contrast: 1, brightness: 0 }, [0.5, 0, 0], [0.5, 1, 1]);
    expect(plain[0]).toBeCloseTo(-1, 9);
    expect(plain[255]).toBeCloseTo(1, 9);
    expect(plain[256 + 51]).toBeCloseTo(0.2, 6);
    const lit = pixelLut({ contrast: 1.25, brightness: 0.4 }, [0, 0, 0], [1, 1, 1]);
    for (let v = 1; v < 256; v++) expect(lit[v]!).toBeGreaterThanOrEqual(lit[v - 1]!);
    expect(lit[128]!).toBeGreaterThan(128 / 255); // brighter mid-grey
    expect(lit[128]).toBeCloseTo(1 / (1 + Math.exp(-(Math.log(128 / 127) * 1.25 + 0.4))), 6);
  });
});
