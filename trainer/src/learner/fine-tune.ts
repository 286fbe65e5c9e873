import { FINETUNE_DEFAULTS } from "../config.ts";
import type { EpochRecord } from "./events.ts";
import type { Learner } from "./learner.ts";
import { fitOneCycle } from "./one-cycle.ts";

/**
 * fastai's fine_tune: train only the head (body frozen, its BatchNorm still learning) for
 * `freezeEpochs` at `baseLr`, then halve `baseLr`, unfreeze, and train everything with discriminative
 * learning rates baseLr/lrMult (body) .. baseLr (head).
 */
export interface FineTuneOptions {
  baseLr?: number;
  freezeEpochs?: number;
  lrMult?: number;
  pctStart?: number;
  div?: number;
  /** Where an interrupted fine-tune picks up: phase 0 (frozen) or 1 (unfrozen), and the epochs of it already done. */
  start?: { phase: FineTunePhase; epoch: number };
  /** Called before each phase that trains, with its length (the checkpoint callback records where it is). */
  onPhase?: (phase: FineTunePhase, nEpochs: number) => void;
}

/** 0: the frozen phase (head only); 1: the unfrozen one. */
export type FineTunePhase = 0 | 1;

/** fastai's slice(lo, hi) spread over n groups: geometric steps from lo to hi. */
export function lrRange(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [hi];
  return Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
}

export async function fineTune(learner: Learner, epochs: number, opts: FineTuneOptions = {}): Promise<EpochRecord[]> {
  const { freezeEpochs = FINETUNE_DEFAULTS.freezeEpochs, lrMult = FINETUNE_DEFAULTS.lrMult, pctStart = 0.3, div = 5 } = opts;
  const start = opts.start ?? { phase: 0, epoch: 0 };
  let baseLr = opts.baseLr ?? FINETUNE_DEFAULTS.lr;
  let frozen: EpochRecord[] = [];
  if (start.phase === 0 && freezeEpochs > 0 && start.epoch < freezeEpochs) {
    learner.freeze();
    opts.onPhase?.(0, freezeEpochs);
    frozen = await fitOneCycle(learner, freezeEpochs, baseLr, { pctStart: 0.99, startEpoch: start.epoch });
  }
  baseLr /= 2;
  learner.unfreeze();
  const n = learner.opt.groups.length;
  opts.onPhase?.(1, epochs);
  const rest = await fitOneCycle(learner, epochs, lrRange(baseLr / lrMult, baseLr, n), { pctStart, div, startEpoch: start.phase === 1 ? start.epoch : 0 });
  return [...frozen, ...rest];
}
