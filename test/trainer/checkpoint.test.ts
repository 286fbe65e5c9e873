import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { resolveConfig } from "../../trainer/src/config.ts";
import { DataError } from "../../trainer/src/data/errors.ts";
import { applyCheckpoint, readCheckpoint, saveCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import { Learner } from "../../trainer/src/learner/learner.ts";
import { maxAbsDiff, setupTfjs, syntheticLoaders, tinyModel, weightsOf } from "./learner-fixtures.ts";

beforeAll(setupTfjs);

describe("checkpoints", () => {
  test("round trip: weights, BN buffers, optimiser state, progress, config, metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
    const path = join(dir, "checkpoint.bin");
    const model = tinyModel(5);
    const learner = new Learner(model, syntheticLoaders(), { seed: 1 });
    const records = await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    const config = resolveConfig({ preset: "fcn", overrides: { data: "/data", epochs: 3 } });
    await saveCheckpoint(path, {
      model,
      opt: learner.opt,
      classes: learner.dls.classes,
      config,
      progress: { stage: 0, epoch: 1, nEpochs: 3, pos: 1 / 3, done: false },
      metrics: records,
    });

    const ckpt = await readCheckpoint(path);
    expect(ckpt.header.config).toEqual(config);
    expect(ckpt.header.progress).toEqual({ stage: 0, epoch: 1, nEpochs: 3, pos: 1 / 3, done: false });
    expect(ckpt.header.metrics).toEqual(records);
    expect(ckpt.header.arch).toEqual(model.arch);
    expect(ckpt.header.classes).toEqual(["left", "right"]);

    // A fresh model with other weights becomes identical, optimiser included.
    const fresh = tinyModel(99);
    const freshLearner = new Learner(fresh, syntheticLoaders(), { seed: 1 });
    expect(maxAbsDiff(weightsOf(model), weightsOf(fresh))).toBeGreaterThan(0);
    applyCheckpoint(ckpt, fresh, freshLearner.opt);
    expect(maxAbsDiff(weightsOf(model), weightsOf(fresh))).toBe(0);
    const [a, b] = [learner.opt.state(), freshLearner.opt.state()];
    expect(b.steps).toEqual(a.steps);
    expect(b.groups).toEqual(a.groups);
    for (const k of Object.keys(a.tensors)) expect(Array.from(b.tensors[k]!.dataSync())).toEqual(Array.from(a.tensors[k]!.dataSync()));
    tf.dispose([...Object.values(a.tensors), ...Object.values(b.tensors)]);

    // Both continue identically from here.
    await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    await freshLearner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    expect(maxAbsDiff(weightsOf(model), weightsOf(fresh))).toBe(0);
    for (const l of [learner, freshLearner]) l.dispose();
    for (const m of [model, fresh]) m.dispose();
  });

  test("damaged, foreign or missing files are DataErrors that say what to do", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
    await expect(readCheckpoint(join(dir, "nope.bin"))).rejects.toThrow(/no checkpoint at .*train first/);
    writeFileSync(join(dir, "foreign.bin"), "hello world, not a checkpoint");
    await expect(readCheckpoint(join(dir, "foreign.bin"))).rejects.toThrow(DataError);
    const model = tinyModel(6);
    const path = join(dir, "c.bin");
    await saveCheckpoint(path, { model, classes: ["a", "b"], config: null, progress: { stage: 0, epoch: 0, nEpochs: 1, pos: 0, done: false }, metrics: [] });
    const bytes = readFileSync(path);
    writeFileSync(join(dir, "short.bin"), bytes.subarray(0, bytes.length - 100));
    await expect(readCheckpoint(join(dir, "short.bin"))).rejects.toThrow(/truncated/);
    // Another architecture refuses to load it.
    const { archSpec, createModel } = await import("../../trainer/src/model/index.ts");
    const other = createModel(archSpec("resblock", { nOut: 2 }), { seed: 1 });
    const loaded = await readCheckpoint(path);
    expect(() => applyCheckpoint(loaded, other)).toThrow(/different architecture|architectures differ/);
    model.dispose();
    other.dispose();
  });
});
