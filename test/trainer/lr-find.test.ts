import * as tf from "@tensorflow/tfjs-core";
import { decodeImage } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { beforeAll, describe, expect, test } from "vitest";
import { asciiLossChart } from "../../trainer/src/learner/ascii-chart.ts";
import { Learner } from "../../trainer/src/learner/learner.ts";
import { lrFind, suggestLrs } from "../../trainer/src/learner/lr-find.ts";
import { lossPlotPng } from "../../trainer/src/learner/loss-plot-png.ts";
import { maxAbsDiff, setupTfjs, syntheticLoaders, tinyModel, weightsOf } from "./learner-fixtures.ts";

beforeAll(async () => {
  await setupTfjs();
  await initCodecs();
});

describe("lrFind", () => {
  test("sweeps lr exponentially, stops on divergence and restores weights and optimiser state", async () => {
    const model = tinyModel(4);
    const learner = new Learner(model, syntheticLoaders(), { seed: 2 });
    // Give the optimiser some state first, so restoring it is observable.
    await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    const before = weightsOf(model);
    const optBefore = learner.opt.state();
    const result = await lrFind(learner, { startLr: 1e-3, endLr: 1e5, numIt: 24 });
    expect(result.lrs[0]).toBeCloseTo(1e-3, 12);
    for (let i = 1; i < result.lrs.length; i++) expect(result.lrs[i]! / result.lrs[i - 1]!).toBeCloseTo((1e5 / 1e-3) ** (1 / 24), 6);
    // Learning rates far past 1 make this model blow up before the sweep ends.
    expect(result.diverged).toBe(true);
    expect(result.iterations).toBeLessThan(24);
    expect(maxAbsDiff(before, weightsOf(model))).toBe(0);
    const optAfter = learner.opt.state();
    expect(optAfter.steps).toEqual(optBefore.steps);
    for (const [k, t] of Object.entries(optBefore.tensors)) {
      expect(Array.from(optAfter.tensors[k]!.dataSync())).toEqual(Array.from(t.dataSync()));
    }
    for (const s of [optBefore, optAfter]) tf.dispose(Object.values(s.tensors));
    const { valley, steep, minimum } = result.suggestions;
    for (const s of [valley, steep, minimum]) {
      expect(s.lr).toBeGreaterThan(1e-4);
      expect(s.lr).toBeLessThan(1e5);
    }
    learner.dispose();
    model.dispose();
  });

  test("suggestions on a known curve", () => {
    // Loss flat, then falling fastest around lr=1e-3, minimal at 1e-1, then rising.
    const lrs = Array.from({ length: 100 }, (_, i) => 1e-7 * 10 ** (i / 12.5));
    const losses = lrs.map((lr) => {
      const x = Math.log10(lr);
      return 2 - 1 / (1 + Math.exp(-(x + 3) * 3)) + (x > -1 ? (x + 1) ** 2 : 0);
    });
    const s = suggestLrs(lrs, losses, 100);
    expect(Math.log10(s.steep.lr)).toBeCloseTo(-3, 0);
    expect(Math.log10(s.minimum.lr)).toBeCloseTo(-2, 0); // lr at min loss (1e-1) / 10
    expect(s.valley.lr).toBeGreaterThan(1e-4);
    expect(s.valley.lr).toBeLessThan(1e-1);
  });

  test("plots: a decodable PNG and an ASCII chart with the marks", async () => {
    const lrs = Array.from({ length: 50 }, (_, i) => 1e-6 * 10 ** (i / 7));
    const losses = lrs.map((_, i) => 2.3 - i * 0.02 + (i > 40 ? (i - 40) * 0.2 : 0));
    const png = await lossPlotPng(lrs, losses, { valley: 1e-3, steep: 1e-4, minimum: 1e-2 });
    const img = await decodeImage(png, { maxPixels: 1e7 });
    expect([img.width, img.height]).toEqual([640, 400]);
    // The curve is drawn in blue somewhere.
    let blue = 0;
    for (let i = 0; i < img.width * img.height; i++) {
      const [r, g, b] = [img.data[i * img.channels]!, img.data[i * img.channels + 1]!, img.data[i * img.channels + 2]!];
      if (r === 31 && g === 119 && b === 180) blue++;
    }
    expect(blue).toBeGreaterThan(200);
    const chart = asciiLossChart(lrs, losses, { valley: 1e-3 });
    expect(chart.split("\n").length).toBeGreaterThan(10);
    expect(chart).toContain("*");
    expect(chart.split("\n")[0]).toContain("v");
  });
});
