import { describe, expect, test } from "vitest";
import run from "../../trainer/src/commands/run.ts";
import { parseCommandLine } from "../../trainer/src/commands/flags.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import type { EpochRecord } from "../../trainer/src/learner/events.ts";
import { checkpointHistory, commandFromConfig, trainingHistory, type TrainingSession } from "../../trainer/src/learner/history.ts";

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

  test("a fine-tune of a fine-tune: every stage and session in order, the first run's command", () => {
    const session = (argv: string): TrainingSession => ({
      argv: argv.split(" "), startedAt: "2026-12-02T00:00:00.000Z", resumedAt: null,
      host: { cpus: 2, cpuModel: "x", memoryGiB: 1, platform: "linux-x64", node: "v20" }, backend: "wasm", threads: 2,
    });
    const runConfig = resolveConfig({ overrides: { data: "d", out: "runs/a", size: 64, epochs: 2, multiSize: true } });
    const ft = (from: string, size: number, lineage: ReturnType<typeof checkpointHistory>) => ({
      config: { ...runConfig, out: `runs/${size}`, size, epochs: 1, multiSizeMin: 64 },
      sessions: [session(`trainer finetune --from ${from} --size ${size}`)],
      lineage,
      finetune: { from: `${from}/checkpoint.bin`, freezeEpochs: 0, lrMult: 1, feedbackImages: 0, added: [] },
    });
    const base = checkpointHistory({ config: runConfig, metrics: [record(0.7, 10, { stage: 0 }), record(0.75, 10, { stage: 0 })], sessions: [session("trainer run")] });
    const first = checkpointHistory({ ...ft("a", 128, base), metrics: [record(0.8, 30)] });
    const second = checkpointHistory({ ...ft("128", 160, first), metrics: [record(0.81, 40), record(0.82, 41)] })!;
    expect(second.command).toEqual(base!.command);
    expect(second.commandRebuilt).toBeUndefined();
    expect(second.stages.map((s) => [s.stage, s.size, s.epochs, s.accuracy, s.seconds, s.finetune?.from ?? null])).toEqual([
      [0, 64, 2, 0.75, 20, null],
      [1, 128, 1, 0.8, 30, "a/checkpoint.bin"],
      [2, 160, 2, 0.82, 81, "128/checkpoint.bin"],
    ]);
    expect(second.stages[2]!.shortSides).toEqual([64, 96, 128, 160, 192]);
    expect([second.stages[2]!.lr, second.stages[2]!.finetune?.baseLr]).toEqual([runConfig.lr / 2, runConfig.lr]);
    expect(second.stages[2]!.epochTable.map((e) => e.stage)).toEqual([2, 2]);
    expect(second.sessions.map((s) => s.argv[1] + " " + (s.argv[3] ?? ""))).toEqual(["run ", "finetune a", "finetune 128"]);
    expect(second.totalSeconds).toBe(131);
    // A fine-tune whose start had no config (an imported or very old checkpoint): its own stage only, marked rebuilt.
    const orphan = checkpointHistory({ ...ft("a", 128, undefined), metrics: [record(0.8, 30)] })!;
    expect(orphan.stages.map((s) => s.stage)).toEqual([0]);
    expect(orphan.commandRebuilt).toBe(true);
  });
});
