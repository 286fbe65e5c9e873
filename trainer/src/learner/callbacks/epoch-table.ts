import type { EpochRecord } from "../events.ts";
import type { Callback } from "../events.ts";
import { formatTime } from "./format.ts";

const COLUMNS = ["epoch", "train_loss", "valid_loss", "accuracy", "time"] as const;

/** The table fastai prints, one row per epoch: `epoch train_loss valid_loss accuracy time`. */
export function formatEpochRow(r: EpochRecord): string[] {
  return [String(r.epoch), r.trainLoss.toFixed(6), r.validLoss.toFixed(6), r.accuracy.toFixed(6), formatTime(r.seconds)];
}

export function formatTable(records: readonly EpochRecord[]): string {
  const rows = [COLUMNS.slice(), ...records.map(formatEpochRow)];
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n");
}

export function epochTable(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Callback {
  const widths = [5, 10, 10, 8, 5];
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return {
    name: "epoch-table",
    order: 20,
    beforeFit(e) {
      if (e.startEpoch > 0) write(`resuming at epoch ${e.startEpoch} of ${e.nEpochs}`);
      write(line(COLUMNS));
    },
    afterEpoch(e) {
      write(line(formatEpochRow(e.record)));
    },
  };
}
