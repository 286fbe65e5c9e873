import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, test } from "vitest";
import { earlyStopping } from "../../trainer/src/learner/callbacks/early-stopping.ts";
import type { Callback, EpochRecord, LearnerEvent } from "../../trainer/src/learner/events.ts";
import { Learner } from "../../trainer/src/learner/learner.ts";
import { crossEntropy } from "../../trainer/src/learner/loss.ts";
import { fineTune, lrRange } from "../../trainer/src/learner/fine-tune.ts";
import { fitOneCycle } from "../../trainer/src/learner/one-cycle.ts";
import { Adam } from "../../trainer/src/learner/optimizer.ts";
import { fusedAdamStep } from "../../trainer/src/backend/fused-kernels.ts";
import { makeRng } from "../../trainer/src/data/random.ts";
import type { Parameter } from "../../trainer/src/model/types.ts";
import type { BatchSource } from "../../trainer/src/data/types.ts";
import { setupTfjs, syntheticLoaders, tinyModel, weightsOf, maxAbsDiff } from "./learner-fixtures.ts";

beforeAll(setupTfjs);

describe("loss", () => {
  test("cross-entropy, label smoothing and mixup match hand computation", () => {
    const logits = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
    const labels = tf.tensor1d([0, 2], "int32");
    const logp = [[2, 0, -1], [0.5, 0.5, 3]].map((r) => {
      const lse = Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
      return r.map((v) => v - lse);
    });
    const nll = -(logp[0]![0]! + logp[1]![2]!) / 2;
    expect(crossEntropy(logits, labels).dataSync()[0]).toBeCloseTo(nll, 5);
    const eps = 0.1;
    const smooth = (1 - eps) * nll + (eps * -(logp[0]!.reduce((a, v) => a + v) + logp[1]!.reduce((a, v) => a + v))) / 3 / 2;
    expect(crossEntropy(logits, labels, { labelSmoothing: eps }).dataSync()[0]).toBeCloseTo(smooth, 5);
    const other = tf.tensor1d([1, 0], "int32");
    const mixed = 0.7 * nll + 0.3 * (-(logp[0]![1]! + logp[1]![0]!) / 2);
    expect(crossEntropy(logits, labels, { mix: { lambda: 0.7, mixLabels: other } }).dataSync()[0]).toBeCloseTo(mixed, 5);
    tf.dispose([logits, labels, other]);
  });
});

describe("Adam (fastai defaults)", () => {
  function param(name: string, kind: Parameter["kind"], value: number, group: Parameter["group"] = "body"): Parameter {
    return { name, kind, group, variable: tf.variable(tf.tensor1d([value]), true, `${name}-${Math.random()}`) };
  }

  test("one step: debiased moments, decoupled weight decay only on weights", () => {
    const w = param("w", "conv-weight", 1);
    const b = param("b", "bias", 1, "head");
    const opt = new Adam([w, b], { lr: 0.1, mom: 0.9, sqrMom: 0.99, eps: 1e-5, wd: 0.01 });
    const g = 0.5;
    opt.step({ [w.variable.name]: tf.tensor1d([g]), [b.variable.name]: tf.tensor1d([g]) });
    // step 1: avg = 0.1 g, sqr = 0.01 g^2; debiased: avg/0.1 = g, sqr/0.01 = g^2 -> update = g/(|g| + eps)
    const update = 0.1 * (g / (Math.sqrt(g * g) + 1e-5));
    expect(w.variable.dataSync()[0]).toBeCloseTo(1 * (1 - 0.1 * 0.01) - update, 6);
    expect(b.variable.dataSync()[0]).toBeCloseTo(1 - update, 6);
    opt.dispose();
  });

  test("three steps on random gradients equal fastai's Adam written as tensor ops (moments, debiasing, decoupled wd)", () => {
    const rng = makeRng(5);
    const shape = [3, 5, 7];
    const n = 3 * 5 * 7;
    const rand = (scale: number): Float32Array => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * scale);
    const make = (name: string, kind: Parameter["kind"]): Parameter => ({ name, kind, group: "body", variable: tf.variable(tf.tensor(rand(2), shape), true, `${name}-${Math.random()}`) });
    const w = make("conv", "conv-weight");
    const b = make("bn", "bn-beta");
    const initial = [w, b].map((p) => p.variable.dataSync().slice());
    const opt = new Adam([w, b], { wd: 0.1 });
    expect(fusedAdamStep(), "on wasm the step is one kernel (kernels.c adam_step)").toBeDefined();
    // The reference: the update written with tfjs ops (what other backends run).
    const ref = [w, b].map((p) => ({ p, v: p.variable.clone(), avg: tf.zerosLike(p.variable), sqr: tf.zerosLike(p.variable), decays: p.kind === "conv-weight" }));
    for (let step = 1; step <= 3; step++) {
      const lr = 0.01 * step;
      const mom = 0.95 - 0.05 * step;
      opt.setHyper("lr", lr);
      opt.setHyper("mom", mom);
      const grads = [rand(1), rand(1)];
      opt.step({ [w.variable.name]: tf.tensor(grads[0]!, shape), [b.variable.name]: tf.tensor(grads[1]!, shape) });
      ref.forEach((r, i) => {
        const g = tf.tensor(grads[i]!, shape);
        const avg = tf.add(tf.mul(r.avg, mom), tf.mul(g, 1 - mom));
        const sqr = tf.add(tf.mul(r.sqr, 0.99), tf.mul(tf.square(g), 1 - 0.99));
        const decayed = r.decays ? tf.mul(r.v, 1 - lr * 0.1) : r.v;
        const update = tf.div(avg, tf.add(tf.sqrt(tf.div(sqr, 1 - 0.99 ** step)), 1e-5));
        Object.assign(r, { avg, sqr, v: tf.sub(decayed, tf.mul(update, lr / (1 - mom ** step))) });
      });
    }
    ref.forEach((r, k) => {
      const got = r.p.variable.dataSync();
      const want = r.v.dataSync();
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst, r.p.name).toBeLessThan(1e-6);
      // The weights moved (each step by up to its lr: Adam's update is ~1 per element), so a lost step would show.
      expect(Math.max(...got.map((v, i) => Math.abs(v - initial[k]![i]!)))).toBeGreaterThan(0.02);
    });
    const state = opt.state();
    expect(state.steps).toEqual({ conv: 3, bn: 3 });
    expect(Array.from(state.tensors["conv.gradAvg"]!.dataSync()).some((v) => v !== 0)).toBe(true);
    tf.dispose(Object.values(state.tensors));
    opt.dispose();
  });

  test("groups: per-group learning rates and freezing (BN still trains)", () => {
    const bodyW = param("body.w", "conv-weight", 1, "body");
    const bodyBn = param("body.bn", "bn-gamma", 1, "body");
    const headW = param("head.w", "linear-weight", 1, "head");
    const opt = new Adam([bodyW, bodyBn, headW], { wd: 0 });
    expect(opt.groups.map((g) => g.name)).toEqual(["body", "head"]);
    opt.setHyper("lr", [0.001, 0.1]);
    expect(opt.groups.map((g) => g.hyper.lr)).toEqual([0.001, 0.1]);
    opt.freezeTo(-1);
    const trainable = opt.trainableVariables().map((v) => v.name);
    expect(trainable).toEqual([bodyBn.variable.name, headW.variable.name]);
    opt.freezeTo(0);
    expect(opt.trainableVariables()).toHaveLength(3);
    opt.dispose();
  });
});

describe("Learner", () => {
  test("fit emits ordered events, follows the schedule and lowers the loss", async () => {
    const model = tinyModel(1);
    const events: LearnerEvent["type"][] = [];
    const order: string[] = [];
    const lrs: number[] = [];
    const losses: number[] = [];
    const spy: Callback = {
      name: "spy",
      order: 5,
      beforeFit: (e) => void events.push(e.type),
      beforeEpoch: (e) => void events.push(e.type),
      afterBatch: (e) => {
        events.push(e.type);
        lrs.push(e.lr);
        losses.push(e.loss);
      },
      afterEpoch: (e) => void events.push(e.type),
      afterFit: (e) => void events.push(e.type),
    };
    const first: Callback = { name: "first", order: 1, afterEpoch: () => void order.push("first") };
    const last: Callback = { name: "last", order: 99, afterEpoch: () => void order.push("last") };
    const learner = new Learner(model, syntheticLoaders(), { callbacks: [last, spy, first], seed: 3 });
    const records = await fitOneCycle(learner, 3, 1e-2);
    expect(records).toHaveLength(3);
    expect(events.slice(0, 3)).toEqual(["beforeFit", "beforeEpoch", "afterBatch"]);
    expect(events.at(-1)).toBe("afterFit");
    expect(order).toEqual(["first", "last", "first", "last", "first", "last"]);
    // 3 epochs x 4 batches: lr starts at lrMax/25, peaks near 25% of training, ends low.
    expect(lrs).toHaveLength(12);
    expect(lrs[0]).toBeCloseTo(1e-2 / 25, 8);
    expect(Math.max(...lrs)).toBeLessThanOrEqual(1e-2 + 1e-12);
    expect(lrs.indexOf(Math.max(...lrs))).toBe(3);
    expect(lrs[11]!).toBeLessThan(lrs[3]! / 5);
    const early = (losses[0]! + losses[1]!) / 2;
    const late = (losses[10]! + losses[11]!) / 2;
    expect(late).toBeLessThan(early * 0.7);
    expect(records[2]!.accuracy).toBeGreaterThan(0.6);
    learner.dispose();
    model.dispose();
  });

  test("each epoch record says where its time went: data waits, steps, validation, callbacks", async () => {
    const model = tinyModel(2);
    const dls = syntheticLoaders();
    const slow = (source: BatchSource, ms: number): BatchSource => ({
      ...source,
      async *batches(epoch) {
        for await (const b of source.batches(epoch)) {
          await new Promise((r) => setTimeout(r, ms));
          yield b;
        }
      },
    });
    // A data source that makes the loop wait 30 ms per batch, and a callback that takes 20 ms per batch.
    dls.train = slow(dls.train, 30);
    const sleepy: Callback = { name: "sleepy", order: 5, afterBatch: () => new Promise((r) => setTimeout(r, 20)) };
    const learner = new Learner(model, dls, { callbacks: [sleepy] });
    const [r] = await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    const p = r!.phases!;
    const nBatches = dls.train.nBatches;
    expect(p.trainData).toBeGreaterThanOrEqual((nBatches * 28) / 1000);
    expect(p.callbacks).toBeGreaterThanOrEqual((nBatches * 18) / 1000);
    expect(p.step).toBeGreaterThan(0);
    expect(p.validForward).toBeGreaterThan(0);
    expect(p.validData).toBeGreaterThanOrEqual(0);
    // The phases partition (part of) the epoch: they never add up to more than its wall time.
    expect(p.trainData + p.step + p.validData + p.validForward + p.callbacks).toBeLessThanOrEqual(r!.seconds + 1e-6);
    expect(p.trainData + p.step + p.validData + p.validForward + p.callbacks).toBeGreaterThan(r!.seconds * 0.8);
    learner.dispose();
    model.dispose();
  });

  test("early stopping (fastai's EarlyStoppingCallback): stops after `patience` epochs without improvement", async () => {
    // The rule, on a known sequence of epoch metrics.
    const drive = (values: number[], opts: Parameters<typeof earlyStopping>[1]) => {
      const state = { stopRequested: false };
      const cb = earlyStopping(state, opts);
      cb.beforeFit?.({ type: "beforeFit", nEpochs: values.length, startEpoch: 0, nBatches: 1 });
      for (const [epoch, v] of values.entries()) {
        const record: EpochRecord = { epoch, trainLoss: v, trainLossMean: v, validLoss: v, accuracy: v, seconds: 0 };
        cb.afterEpoch?.({ type: "afterEpoch", epoch, nEpochs: values.length, record, pos: 0 });
        if (state.stopRequested) return epoch;
      }
      return null;
    };
    expect(drive([1.0, 0.9, 0.95, 0.8, 0.85, 0.86], { patience: 2 })).toBe(5); // 0.8 at epoch 3 reset the wait
    expect(drive([1.0, 0.9, 0.95, 0.8, 0.85, 0.86], { patience: 3 })).toBeNull();
    expect(drive([1.0, 0.99, 0.98], { patience: 1, minDelta: 0.05 })).toBe(1); // improvements below minDelta do not count
    expect(drive([0.5, 0.6, 0.6], { monitor: "accuracy", patience: 1 })).toBe(2); // higher is better
    // In a real fit: an improvement of 10 never comes, so the fit ends after 1 + patience epochs.
    const model = tinyModel(4);
    const learner = new Learner(model, syntheticLoaders(), { seed: 4 });
    const lines: string[] = [];
    let stopped: boolean | undefined;
    learner.addCallback(earlyStopping(learner, { patience: 2, minDelta: 10, log: (l) => void lines.push(l) }));
    learner.addCallback({ name: "spy", order: 99, afterFit: (e) => void (stopped = e.stopped) });
    const records = await learner.fit(6, { lr: () => 1e-3, mom: () => 0.9 });
    expect(records).toHaveLength(3);
    expect(stopped).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/no improvement in validLoss since epoch 0 .*: early stopping/)]);
    learner.dispose();
    model.dispose();
  });

  test("frozen body keeps its conv weights, trains the head", async () => {
    const model = tinyModel(2);
    const learner = new Learner(model, syntheticLoaders(), { seed: 1 });
    const before = weightsOf(model);
    learner.freeze();
    await learner.fit(1, { lr: () => 1e-2, mom: () => 0.9 });
    const after = weightsOf(model);
    for (const p of model.parameters()) {
      const moved = maxAbsDiff(new Map([[p.name, before.get(p.name)!]]), new Map([[p.name, after.get(p.name)!]])) > 0;
      if (p.group === "body" && p.kind === "conv-weight") expect(moved, p.name).toBe(false);
      if (p.group === "head") expect(moved, p.name).toBe(true);
    }
    learner.dispose();
    model.dispose();
  });

  test("fineTune: head only first, then every group at discriminative learning rates", async () => {
    const model = tinyModel(4);
    const seen: { frozen: boolean[]; lrs: number[] }[] = [];
    const spy: Callback = {
      name: "groups",
      order: 1,
      afterBatch: () => void seen.push({ frozen: learner.opt.groups.map((g) => g.frozen), lrs: learner.opt.groups.map((g) => g.hyper.lr) }),
    };
    const learner = new Learner(model, syntheticLoaders(), { seed: 1, callbacks: [spy] });
    const records = await fineTune(learner, 1, { baseLr: 2e-3, freezeEpochs: 1 });
    expect(records).toHaveLength(2);
    const nIter = learner.dls.train.nBatches;
    expect(seen.slice(0, nIter).every((s) => s.frozen[0] === true && s.frozen[1] === false)).toBe(true);
    const phase2 = seen.slice(nIter);
    expect(phase2.every((s) => s.frozen.every((f) => !f))).toBe(true);
    // body lr = head lr / 100 throughout the second phase; head peaks at baseLr / 2.
    for (const s of phase2) expect(s.lrs[0]! / s.lrs[1]!).toBeCloseTo(0.01, 9);
    expect(Math.max(...phase2.map((s) => s.lrs[1]!))).toBeLessThanOrEqual(1e-3 + 1e-12);
    expect(lrRange(1e-5, 1e-3, 3)).toEqual([1e-5, expect.closeTo(1e-4, 12), expect.closeTo(1e-3, 12)]);
    learner.dispose();
    model.dispose();
  });

  test("mixup and label smoothing train without leaking tensors", async () => {
    const model = tinyModel(3);
    const learner = new Learner(model, syntheticLoaders(), { seed: 1, mixup: 0.4, labelSmoothing: 0.1 });
    await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    const n0 = tf.memory().numTensors;
    await learner.fit(1, { lr: () => 1e-3, mom: () => 0.9 });
    expect(tf.memory().numTensors).toBe(n0);
    learner.dispose();
    model.dispose();
  });
});
