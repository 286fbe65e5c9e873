import type { EpochRecord } from "./events.ts";
import type { FitOptions, Learner } from "./learner.ts";
import { oneCycleSchedules, type OneCycleOptions } from "./schedules.ts";

/**
 * fastai's fit_one_cycle: build the one-cycle lr and momentum schedules and call `fit`. `lrMax` may be
 * one value or one per optimiser group (e.g. [base/100, base] for discriminative learning rates).
 */
export function fitOneCycle(
  learner: Learner,
  epochs: number,
  lrMax: number | readonly number[],
  opts: Omit<OneCycleOptions, "lrMax"> & FitOptions = {},
): Promise<EpochRecord[]> {
  const { startEpoch, ...cycle } = opts;
  const peaks = typeof lrMax === "number" ? [lrMax] : [...lrMax];
  const scheds = peaks.map((lr) => oneCycleSchedules({ ...cycle, lrMax: lr }));
  const lr = scheds.length === 1 ? scheds[0]!.lr : scheds.map((s) => s.lr);
  return learner.fit(epochs, { lr, mom: scheds[0]!.mom }, startEpoch === undefined ? {} : { startEpoch });
}
