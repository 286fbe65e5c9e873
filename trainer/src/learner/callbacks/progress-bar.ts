import type { Callback } from "../events.ts";
import { formatTime } from "./format.ts";

export interface ProgressBarOptions {
  /** Where the bar is drawn (default process.stderr). */
  stream?: NodeJS.WriteStream;
  width?: number;
}

/**
 * A one-line bar redrawn after every batch while an epoch trains: `[#####....] 12/74 00:05<00:25 loss 2.134`.
 * Draws only on a TTY; it erases itself when the epoch ends so the epoch table stays clean.
 */
export function progressBar(opts: ProgressBarOptions = {}): Callback {
  const stream = opts.stream ?? process.stderr;
  const width = opts.width ?? 30;
  let started = 0;
  const clear = (): void => {
    if (stream.isTTY) stream.write("\r\x1b[2K");
  };
  return {
    name: "progress-bar",
    order: 10,
    beforeEpoch() {
      started = performance.now();
    },
    afterBatch(e) {
      if (!stream.isTTY) return;
      const frac = e.iter / e.nIter;
      const filled = Math.round(frac * width);
      const elapsed = (performance.now() - started) / 1000;
      const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : 0;
      const bar = "#".repeat(filled) + ".".repeat(width - filled);
      stream.write(`\r\x1b[2K[${bar}] ${e.iter}/${e.nIter} ${formatTime(elapsed)}<${formatTime(eta)} loss ${e.smoothLoss.toFixed(4)}`);
    },
    afterTrain: clear,
    afterFit: clear,
  };
}
