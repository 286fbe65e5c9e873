import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { resolveConfig } from "../../trainer/src/config.ts";
import { readCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import type { Callback } from "../../trainer/src/learner/events.ts";
import { stripLocalPaths } from "@resnet-edge/shared";
import { trainingHistory } from "../../trainer/src/learner/history.ts";
import { runEval } from "../../trainer/src/learner/run-eval.ts";
import { runTraining } from "../../trainer/src/learner/run-training.ts";
import type { RunIO } from "../../trainer/src/learner/setup.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";
import { maxCheckpointDiff } from "./learner-fixtures.ts";

function captureIO(): RunIO & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => void lines.push(l), write: (l) => void lines.push(l) };
}

describe.skipIf(!hasImagenette)("training on a slice of real Imagenette", () => {
  test("tiny fcn: training loss falls, accuracy beats chance, progressive resize continues, eval agrees", { timeout: 180_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), "run-"));
    const config = resolveConfig({
      preset: "fcn",
      overrides: {
        data: IMAGENETTE_DIR,
        size: 32,
        presize: 40,
        limit: 30,
        validLimit: 10,
        epochs: 3,
        lr: 1e-2,
        bs: 32,
        stages: [{ size: 40, epochs: 1, lr: 3e-3 }],
        backend: "wasm",
        out,
        cacheDir: join(out, "cache"),
      },
    });
    const io = captureIO();
    const result = await runTraining(config, { io, progress: false });
    expect(result.records).toHaveLength(4);
    const [first, , third, resized] = result.records;
    expect(third!.trainLoss).toBeLessThan(first!.trainLoss - 0.15);
    expect(third!.accuracy).toBeGreaterThan(0.15); // 10 classes: chance is 0.1
    expect(resized!.accuracy).toBeGreaterThan(0.15);
    expect(io.lines).toContain("epoch  train_loss  valid_loss  accuracy  time");
    expect(io.lines.some((l) => /^2\s+\d\.\d{6}\s+\d\.\d{6}\s+0\.\d{6}\s+\d\d:\d\d$/.test(l))).toBe(true);
    expect(existsSync(join(out, "config.json"))).toBe(true);
    const ckpt = await readCheckpoint(result.checkpoint);
    expect(ckpt.header.progress).toMatchObject({ stage: 1, epoch: 1, done: true });
    expect(ckpt.header.config).toEqual(config);
    expect(ckpt.header.metrics).toHaveLength(4);
    // The history: each epoch knows its stage and size; the two stages with their tables.
    expect(ckpt.header.metrics.map((m) => [m.stage, m.size])).toEqual([[0, 32], [0, 32], [0, 32], [1, 40]]);
    const history = trainingHistory(ckpt.header.config!, ckpt.header.metrics, ckpt.header.sessions);
    expect(history.stages.map((s) => [s.size, s.epochs, s.epochTable.length])).toEqual([[32, 3, 3], [40, 1, 1]]);
    expect(history.stages[1]!.accuracy).toBe(resized!.accuracy);
    // eval on the same validation slice through shared's preprocessing gives the last epoch's numbers.
    const ev = await runEval(result.checkpoint, { validLimit: 10, limit: 30 }, { io: captureIO() });
    expect(ev.size).toBe(40);
    expect(ev.accuracy).toBeCloseTo(resized!.accuracy, 6);
    expect(ev.validLoss).toBeCloseTo(resized!.validLoss, 4);
    // tta: the centre view alone is the plain accuracy; the four views are four model runs per image.
    const centre = await runEval(result.checkpoint, { validLimit: 10, limit: 30 }, { io: captureIO(), tta: true, ttaViews: ["center"] });
    expect(centre.tta!.accuracy).toBeCloseTo(ev.accuracy, 6);
    const tta = await runEval(result.checkpoint, { validLimit: 10, limit: 30 }, { io: captureIO(), tta: true });
    expect(tta.tta).toMatchObject({ views: ["center", "flip", "shift-tl", "shift-br"], modelRuns: 4 });
    expect(tta.tta!.accuracy).toBeGreaterThan(0.1); // above chance, like the plain accuracy
    await expect(runTraining(config, { io: captureIO(), progress: false })).rejects.toThrow(/already holds a run.*--resume/);
  });

  test("--resume continues an interrupted run on the same schedule, ending where an uninterrupted run ends", { timeout: 180_000 }, async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "cache-"));
    const base = { cacheDir, data: IMAGENETTE_DIR, arch: "fcn" as const, size: 24, presize: 28, limit: 8, validLimit: 2, epochs: 2, lr: 5e-3, bs: 16, backend: "wasm" as const };
    const lrTrace = (into: number[]): Callback => ({ name: "lr-trace", order: 1, afterBatch: (e) => void into.push(e.lr) });

    const fullOut = mkdtempSync(join(tmpdir(), "full-"));
    const fullLrs: number[] = [];
    const full = await runTraining(resolveConfig({ overrides: { ...base, out: fullOut } }), { io: captureIO(), progress: false, callbacks: [lrTrace(fullLrs)] });

    const cutOut = mkdtempSync(join(tmpdir(), "cut-"));
    const config = resolveConfig({ overrides: { ...base, out: cutOut } });
    const crash: Callback = {
      name: "crash",
      order: 90, // after the checkpoint is written
      afterEpoch: (e) => {
        if (e.epoch === 0) throw new Error("simulated crash after epoch 0");
      },
    };
    await expect(runTraining(config, { io: captureIO(), progress: false, callbacks: [crash], argv: ["trainer", "run", "--out", cutOut] })).rejects.toThrow(/simulated crash/);
    const midway = await readCheckpoint(join(cutOut, "checkpoint.bin"));
    expect(midway.header.sessions?.map((s) => s.argv)).toEqual([["trainer", "run", "--out", cutOut]]);
    expect(midway.header.progress).toMatchObject({ stage: 0, epoch: 1, nEpochs: 2, done: false });
    expect(midway.header.progress.pos).toBeCloseTo(0.5, 9);

    const resumedLrs: number[] = [];
    const io = captureIO();
    // Flags other than where to compute are ignored on resume: the checkpoint's config wins.
    const resumed = await runTraining({ ...config, lr: 1 }, { resume: true, io, progress: false, callbacks: [lrTrace(resumedLrs)], argv: ["trainer", "run", "--resume", "--out", cutOut] });
    expect(io.lines.some((l) => /resum/.test(l))).toBe(true);
    const nPerEpoch = fullLrs.length / 2;
    expect(resumedLrs).toEqual(fullLrs.slice(nPerEpoch));
    expect(resumed.records).toHaveLength(2);
    expect(resumed.records[1]!.trainLoss).toBeCloseTo(full.records[1]!.trainLoss, 5);
    expect(resumed.records[1]!.accuracy).toBeCloseTo(full.records[1]!.accuracy, 9);
    const [a, b] = [await readCheckpoint(full.checkpoint), await readCheckpoint(resumed.checkpoint)];
    expect(maxCheckpointDiff(a, b)).toBeLessThan(1e-5);
    // Both invocations are in the history: the first, then the resume with where it picked up.
    const sessions = b.header.sessions!;
    expect(sessions.map((s) => s.resumedAt)).toEqual([null, { stage: 0, epoch: 1 }]);
    expect(sessions[1]!.argv).toEqual(["trainer", "run", "--resume", "--out", cutOut]);
    expect(sessions[1]!.host.cpus).toBeGreaterThan(0);
    expect(sessions[1]!.backend).toBe("wasm");
    expect(sessions[1]!.kernels).toBe("relaxed-simd"); // Node 20's V8 with the flag the loader sets
    // Stripped for the manifest: the run folder's name, not where it lived.
    expect(JSON.stringify(stripLocalPaths(trainingHistory(b.header.config!, b.header.metrics, sessions)))).not.toContain(tmpdir());
    await expect(runTraining(config, { resume: true, io: captureIO(), progress: false })).rejects.toThrow(/finished run/);
  });
});

if (!hasImagenette) test.skip(needs("imagenette"), () => {});
