import * as tf from "@tensorflow/tfjs-core";
import { makeRng } from "../data/random.ts";
import { SmoothLoss, type Learner } from "./learner.ts";
import { schedExp } from "./schedules.ts";

/**
 * fastai's lr_find: train with an exponentially growing learning rate from startLr to endLr over
 * numIt iterations, record the smoothed loss, stop early once it diverges (> 4x the best, or NaN), then
 * put the weights, BatchNorm statistics and optimiser state back as they were.
 */
export interface LrFindOptions {
  startLr?: number;
  endLr?: number;
  numIt?: number;
  stopDiv?: boolean;
}

export interface LrSuggestion {
  lr: number;
  loss: number;
}

export interface LrFindResult {
  lrs: number[];
  /** Smoothed losses (the learner's SmoothLoss, fastai's AvgSmoothLoss), one per iteration run. */
  losses: number[];
  suggestions: { valley: LrSuggestion; steep: LrSuggestion; minimum: LrSuggestion };
  /** Iterations actually run (fewer than numIt when it diverged). */
  iterations: number;
  diverged: boolean;
}

export async function lrFind(learner: Learner, opts: LrFindOptions = {}): Promise<LrFindResult> {
  const { startLr = 1e-7, endLr = 10, numIt = 100, stopDiv = true } = opts;
  const sched = schedExp(startLr, endLr);
  const snapshot = snapshotState(learner);
  const lrs: number[] = [];
  const losses: number[] = [];
  let best = Infinity;
  const smooth = new SmoothLoss();
  let diverged = false;
  const rng = makeRng(learner.options.seed ?? 0, 0x1f1d);
  try {
    for (let epoch = 0; lrs.length < numIt && !diverged; epoch++) {
      const before = lrs.length;
      for await (const batch of learner.dls.train.batches(epoch)) {
        const lr = sched(lrs.length / numIt);
        learner.opt.setHyper("lr", lr);
        const smoothed = smooth.add(await learner.trainBatch(batch, rng));
        lrs.push(lr);
        losses.push(smoothed);
        if (smoothed < best) best = smoothed;
        if (stopDiv && (!Number.isFinite(smoothed) || smoothed > 4 * best)) diverged = true;
        if (diverged || lrs.length >= numIt) break;
      }
      if (lrs.length === before) break;
    }
  } finally {
    restoreState(learner, snapshot);
  }
  return { lrs, losses, suggestions: suggestLrs(lrs, losses, numIt), iterations: lrs.length, diverged };
}

interface Snapshot {
  vars: { variable: tf.Variable; value: tf.Tensor }[];
  opt: ReturnType<Learner["opt"]["state"]>;
}

function snapshotState(learner: Learner): Snapshot {
  const vars = [...learner.model.parameters().map((p) => p.variable), ...learner.model.buffers().map((b) => b.variable)];
  return { vars: vars.map((variable) => ({ variable, value: variable.clone() })), opt: learner.opt.state() };
}

function restoreState(learner: Learner, s: Snapshot): void {
  for (const { variable, value } of s.vars) {
    variable.assign(value);
    value.dispose();
  }
  learner.opt.loadState(s.opt);
  tf.dispose(Object.values(s.opt.tensors));
}

/**
 * fastai's suggestion functions, on the recorded curve minus its first 10% and last 5 points:
 * valley (from the longest descending run), steep (steepest slope in log-lr), minimum (min-loss lr / 10).
 */
export function suggestLrs(allLrs: number[], allLosses: number[], numIt: number): LrFindResult["suggestions"] {
  const start = Math.floor(numIt / 10);
  let lrs = allLrs.slice(start, Math.max(start, allLrs.length - 5));
  let losses = allLosses.slice(start, Math.max(start, allLosses.length - 5));
  if (lrs.length < 2) {
    lrs = allLrs;
    losses = allLosses;
  }
  if (lrs.length === 0) {
    const none = { lr: NaN, loss: NaN };
    return { valley: none, steep: none, minimum: none };
  }
  return { valley: valley(lrs, losses), steep: steep(lrs, losses), minimum: minimum(lrs, losses) };
}

function minimum(lrs: number[], losses: number[]): LrSuggestion {
  let idx = 0;
  for (let i = 1; i < losses.length; i++) if (losses[i]! < losses[idx]!) idx = i;
  return { lr: lrs[idx]! / 10, loss: losses[idx]! };
}

function steep(lrs: number[], losses: number[]): LrSuggestion {
  if (lrs.length < 2) return { lr: lrs[0]!, loss: losses[0]! };
  let idx = 0;
  let bestSlope = Infinity;
  for (let i = 0; i + 1 < lrs.length; i++) {
    const slope = (losses[i + 1]! - losses[i]!) / (Math.log(lrs[i + 1]!) - Math.log(lrs[i]!));
    if (slope < bestSlope) [bestSlope, idx] = [slope, i];
  }
  return { lr: lrs[idx]!, loss: losses[idx]! };
}

function valley(lrs: number[], losses: number[]): LrSuggestion {
  const n = losses.length;
  const lds = new Array<number>(n).fill(1);
  let maxStart = 0;
  let maxEnd = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i]! < losses[j]! && lds[i]! < lds[j]! + 1) lds[i] = lds[j]! + 1;
      if (lds[maxEnd]! < lds[i]!) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd]!;
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  const idx = Math.min(n - 1, Math.max(0, maxStart + Math.floor(sections) + Math.floor(sections / 2)));
  return { lr: lrs[idx]!, loss: losses[idx]! };
}
