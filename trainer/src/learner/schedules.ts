/**
 * Hyper-parameter schedules as pure functions of training progress `pos` in [0, 1] (fastai's
 * `SchedLin`, `SchedCos`, `SchedExp`, `combine_scheds`). A schedule never sees iteration counts, so
 * resuming mid-run only needs the position.
 */
export type Schedule = (pos: number) => number;

export function schedLin(start: number, end: number): Schedule {
  return (pos) => start + pos * (end - start);
}

/** Cosine from start to end: flat at both ends, steepest in the middle. */
export function schedCos(start: number, end: number): Schedule {
  return (pos) => start + ((1 + Math.cos(Math.PI * (1 - pos))) * (end - start)) / 2;
}

export function schedExp(start: number, end: number): Schedule {
  if (start <= 0 || end <= 0) throw new RangeError(`schedExp needs positive endpoints, got ${start} and ${end}`);
  return (pos) => start * (end / start) ** pos;
}

export function schedNo(value: number): Schedule {
  return () => value;
}

/**
 * Run `scheds[i]` over the fraction `pcts[i]` of training, each seeing its own local pos in [0, 1].
 * `pcts` must be positive and sum to 1.
 */
export function combineSchedules(pcts: readonly number[], scheds: readonly Schedule[]): Schedule {
  if (pcts.length !== scheds.length || pcts.length === 0) {
    throw new RangeError(`combineSchedules needs one pct per schedule, got ${pcts.length} pcts and ${scheds.length} schedules`);
  }
  if (pcts.some((p) => !(p >= 0))) throw new RangeError(`combineSchedules pcts must be >= 0, got ${pcts.join(", ")}`);
  const total = pcts.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-9) throw new RangeError(`combineSchedules pcts must sum to 1, got ${total}`);
  const bounds: number[] = [0];
  for (const p of pcts) bounds.push(bounds[bounds.length - 1]! + p);
  return (pos) => {
    const clamped = Math.min(1, Math.max(0, pos));
    // The last phase whose start is <= pos and that has non-zero width (or the final phase at pos = 1).
    let i = 0;
    for (let k = 0; k < pcts.length; k++) {
      if (pcts[k]! > 0 && clamped >= bounds[k]!) i = k;
    }
    const width = pcts[i]!;
    const local = width > 0 ? Math.min(1, (clamped - bounds[i]!) / width) : 1;
    return scheds[i]!(local);
  };
}

export interface OneCycleOptions {
  /** Peak learning rate. */
  lrMax: number;
  /** Start at lrMax / div (fastai: 25). */
  div?: number;
  /** End at lrMax / divFinal (fastai: 1e5). */
  divFinal?: number;
  /** Fraction of training spent warming up (fastai: 0.25). */
  pctStart?: number;
  /** Momentum (Adam beta1) goes moms[0] -> moms[1] -> moms[2] (fastai: 0.95, 0.85, 0.95). */
  moms?: [number, number, number];
}

export interface OneCycleSchedules {
  lr: Schedule;
  mom: Schedule;
}

/** fastai's one-cycle policy: cosine warm-up to lrMax then cosine annealing; momentum mirrors it. */
export function oneCycleSchedules(opts: OneCycleOptions): OneCycleSchedules {
  const { lrMax, div = 25, divFinal = 1e5, pctStart = 0.25, moms = [0.95, 0.85, 0.95] } = opts;
  const pcts = [pctStart, 1 - pctStart];
  return {
    lr: combineSchedules(pcts, [schedCos(lrMax / div, lrMax), schedCos(lrMax, lrMax / divFinal)]),
    mom: combineSchedules(pcts, [schedCos(moms[0], moms[1]), schedCos(moms[1], moms[2])]),
  };
}
