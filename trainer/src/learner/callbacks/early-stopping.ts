import type { Callback, EpochRecord } from "../events.ts";
import type { Learner } from "../learner.ts";

export interface EarlyStoppingOptions {
  /** The epoch metric to watch (fastai's `monitor`); default validLoss. */
  monitor?: "validLoss" | "accuracy" | "trainLoss";
  /** An improvement smaller than this does not count (fastai's `min_delta`); default 0. */
  minDelta?: number;
  /** Epochs without improvement before the fit stops (fastai's `patience`); default 1. */
  patience?: number;
  /** Told once when it stops the fit. */
  log?: (line: string) => void;
}

/**
 * fastai's EarlyStoppingCallback: after each epoch, compare `monitor` with the best value so far (lower
 * is better for losses, higher for accuracy); after `patience` epochs without an improvement of more than
 * `minDelta`, ask the learner to stop (the fit ends after the current epoch; `afterFit` says `stopped`).
 * The best value resets at every fit, as fastai's `reset_on_fit`.
 */
export function earlyStopping(learner: Pick<Learner, "stopRequested">, opts: EarlyStoppingOptions = {}): Callback {
  const monitor = opts.monitor ?? "validLoss";
  const minDelta = Math.abs(opts.minDelta ?? 0);
  const patience = opts.patience ?? 1;
  const higherIsBetter = monitor === "accuracy";
  const improves = (value: number, best: number): boolean => (higherIsBetter ? value - minDelta > best : value + minDelta < best);
  let best = higherIsBetter ? -Infinity : Infinity;
  let bestEpoch = -1;
  let wait = 0;
  return {
    name: "early-stopping",
    order: 60, // after save-checkpoint (50): the epoch that triggers the stop is still saved
    beforeFit() {
      best = higherIsBetter ? -Infinity : Infinity;
      bestEpoch = -1;
      wait = 0;
    },
    afterEpoch(e) {
      const value = (e.record as EpochRecord)[monitor];
      if (improves(value, best)) {
        best = value;
        bestEpoch = e.epoch;
        wait = 0;
        return;
      }
      wait += 1;
      if (wait >= patience) {
        opts.log?.(`no improvement in ${monitor} since epoch ${bestEpoch} (${best}): early stopping`);
        learner.stopRequested = true;
      }
    },
  };
}
