import { describe, expect, test } from "vitest";
import run from "../../trainer/src/commands/run.ts";
import { parseCommandLine } from "../../trainer/src/commands/flags.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import type { EpochRecord } from "../../trainer/src/learner/events.ts";
import { commandFromConfig, trainingHistory } from "../../trainer/src/learner/history.ts";

const record = (accuracy: number, seconds: number, extra: Partial<EpochRecord> = {}): EpochRecord => ({
  epoch: 0, trainLoss: 1, trainLossMean: 1, validLoss: 1, accuracy, seconds, ...extra,
});

describe("training history (manifest)", () => {
  test("the rebuilt command parses back to the same config", () => {
    const config = resolveConfig({
      preset: "resnet18",
      overrides: { data: "../data/imagenette", out: "runs/x", size: 64, presize: 160, epochs: 6, lr: 3e-3, bs: 48, labelSmoothing: 0.1, multiSize: false, stages: [{ size: 128, epochs: 4, lr: 2e-3 }], limit: null, threads: 2 },
    });
    const argv = commandFromConfig(config);
    expect(argv.slice(0, 2)).toEqual(["trainer", "run"]);
    expect(argv).toContain("--no-multi-size");
    expect(argv.join(" ")).toContain("--stages 128:4:0.002");
    const parsed = parseCommandLine(run, argv.slice(2));
    expect(resolveConfig({ overrides: parsed.overrides })).toEqual(config);
  });

  test("stages from the config when epochs carry no stage; from the epochs when they do", () => {
    const config = resolveConfig({ overrides: { data: "d", out: "o", size: 64, epochs: 2, stages: [{ size: 128, epochs: 1, lr: 1e-3 }] } });
    const old = trainingHistory(config, [record(0.5, 10), record(0.6, 11), record(0.7, 40)], undefined);
    expect(old.commandRebuilt).toBe(true);
    expect(old.stages.map((s) => [s.size, s.epochTable.length, s.seconds, s.accuracy])).toEqual([[64, 2, 21, 0.6], [128, 1, 40, 0.7]]);
    expect(old.totalSeconds).toBe(61);
    // An interrupted stage: its epochs so far, and the later stage empty.
    const cut = trainingHistory(config, [record(0.5, 10, { stage: 0 })], []);
    expect(cut.stages.map((s) => [s.epochTable.length, s.accuracy])).toEqual([[1, 0.5], [0, null]]);
  });
});
