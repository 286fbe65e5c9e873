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
}

/** fastai's slice(lo, hi) spread over n groups: geometric steps from lo to hi. */
export function lrRange(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [hi];
  return Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
}

export async function fineTune(learner: Learner, epochs: number, opts: FineTuneOptions = {}): Promise<EpochRecord[]> {
  const { freezeEpochs = FINETUNE_DEFAULTS.freezeEpochs, lrMult = FINETUNE_DEFAULTS.lrMult, pctStart = 0.3, div = 5 } = opts;
  let baseLr = opts.baseLr ?? FINETUNE_DEFAULTS.lr;
  learner.freeze();
  const frozen = freezeEpochs > 0 ? await fitOneCycle(learner, freezeEpochs, baseLr, { pctStart: 0.99 }) : [];
  baseLr /= 2;
  learner.unfreeze();
  const n = learner.opt.groups.length;
  const rest = await fitOneCycle(learner, epochs, lrRange(baseLr / lrMult, baseLr, n), { pctStart, div });
  return [...frozen, ...rest];
}
