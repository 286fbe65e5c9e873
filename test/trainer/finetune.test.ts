// trainer finetune: head extension keeps old classes exactly, fine_tune's two phases on a real slice of
// Imagenette plus a feedback folder with a new class, and the CLI's user errors.
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateManifest } from "@resnet-edge/shared";
import { beforeAll, describe, expect, test } from "vitest";
import { main } from "../../trainer/src/cli.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import { scanFeedbackFolder } from "../../trainer/src/data/feedback-folder.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { applyCheckpoint, readCheckpoint, saveCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import type { Callback } from "../../trainer/src/learner/events.ts";
import type { Learner } from "../../trainer/src/learner/learner.ts";
import { extendClasses, extendHead, HEAD_BIAS, HEAD_WEIGHT } from "../../trainer/src/learner/extend-head.ts";
import { checkpointHistory } from "../../trainer/src/learner/history.ts";
import { runFinetune } from "../../trainer/src/learner/run-finetune.ts";
import type { RunIO } from "../../trainer/src/learner/setup.ts";
import { archSpec, createModel, type Model } from "../../trainer/src/model/index.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";
import { makeJpeg } from "../edge/helpers/images.ts";
import { maxCheckpointDiff, setupTfjs } from "./learner-fixtures.ts";

beforeAll(setupTfjs);

const quiet = (): RunIO & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, log: (l) => void lines.push(l), write: (l) => void lines.push(l) };
};

async function saveFresh(path: string, model: Model, classes: string[], config: ReturnType<typeof resolveConfig> | null): Promise<void> {
  await saveCheckpoint(path, { model, classes, config, progress: { stage: 0, epoch: 1, nEpochs: 1, pos: 1, done: true }, metrics: [] });
}

function logits(model: Model, x: tf.Tensor4D): Float32Array {
  const y = model.forward(x, { training: false });
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

describe("head extension", () => {
  test("class order: old classes first, new ones sorted, no duplicates", () => {
    expect(extendClasses(["n1", "n2"], ["zebra", "n2", "apple", "zebra"])).toEqual({ classes: ["n1", "n2", "apple", "zebra"], added: ["apple", "zebra"] });
    expect(extendClasses(["n1", "n2"], ["n2"])).toEqual({ classes: ["n1", "n2"], added: [] });
  });

  test("old classes keep their weights and logits exactly; new classes get fresh columns and zero bias", async () => {
    const dir = mkdtempSync(join(tmpdir(), "extend-"));
    const old = createModel(archSpec("resblock", { nOut: 3 }), { seed: 7 });
    // Make the old bias non-zero so "kept" and "zeroed" can be told apart.
    const bias = old.parameters().find((p) => p.name === HEAD_BIAS)!.variable;
    bias.assign(tf.tensor1d([0.5, -0.25, 1]));
    await saveFresh(join(dir, "checkpoint.bin"), old, ["a", "b", "c"], null);
    const ckpt = await readCheckpoint(join(dir, "checkpoint.bin"));

    const grown = extendHead(ckpt, ["a", "b", "c", "d", "e"], { seed: 1 });
    expect(grown.header.classes).toEqual(["a", "b", "c", "d", "e"]);
    expect(grown.header.arch.nOut).toBe(5);
    const w0 = ckpt.data.get(HEAD_WEIGHT)!;
    const w1 = grown.data.get(HEAD_WEIGHT)!;
    const [inF] = w0.shape as [number, number];
    expect(w1.shape).toEqual([inF, 5]);
    const bound = 1 / Math.sqrt(inF);
    let nonzero = 0;
    for (let r = 0; r < inF; r++) {
      for (let c = 0; c < 3; c++) expect(w1.values[r * 5 + c]).toBe(w0.values[r * 3 + c]);
      for (let c = 3; c < 5; c++) {
        const v = w1.values[r * 5 + c]!;
        expect(Math.abs(v)).toBeLessThanOrEqual(bound);
        if (v !== 0) nonzero++;
      }
    }
    expect(nonzero).toBeGreaterThan(inF); // fresh, not zero
    expect([...grown.data.get(HEAD_BIAS)!.values]).toEqual([0.5, -0.25, 1, 0, 0]);
    for (const [name, e] of ckpt.data) if (name !== HEAD_WEIGHT && name !== HEAD_BIAS) expect(grown.data.get(name)!.values).toBe(e.values);

    // The grown model gives the old model's logits for the old classes, bit for bit.
    const model = createModel(grown.header.arch);
    applyCheckpoint(grown, model);
    const x = tf.randomNormal([2, 37, 45, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    const a = logits(old, x);
    const b = logits(model, x);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) expect(b[n * 5 + c]).toBe(a[n * 3 + c]);
    x.dispose();
    old.dispose();
    model.dispose();

    expect(() => extendHead(ckpt, ["b", "a", "c", "d"])).toThrow(/must start with the checkpoint's 3 classes in order/);
  });

  test("feedback folder: class names follow the class-id rule, with a suggested fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fb-"));
    mkdirSync(join(dir, "train", "red_panda"), { recursive: true });
    writeFileSync(join(dir, "train", "red_panda", "a.jpg"), await makeJpeg(20, 20, 1));
    writeFileSync(join(dir, "train", "red_panda", "notes.txt"), "not an image");
    expect([...(await scanFeedbackFolder(dir))]).toEqual([["red_panda", [join(dir, "train", "red_panda", "a.jpg")]]]);
    mkdirSync(join(dir, "train", "Red Panda!"));
    await expect(scanFeedbackFolder(dir)).rejects.toThrow(/"Red Panda!" .* not a valid class name \(letters, digits.*rename it to Red_Panda/);
    await expect(scanFeedbackFolder(join(dir, "train"))).rejects.toThrow(/has no train\/ folder.*trainer feedback pull/);
  });
});

/** An untrained fcn over Imagenette's classes, saved with its run config as <dir>/base; returns the classes. */
async function saveImagenetteBase(dir: string, overrides: { limit: number; validLimit: number; bs: number }): Promise<string[]> {
  const config = resolveConfig({
    preset: "fcn",
    overrides: { data: IMAGENETTE_DIR, size: 32, presize: 40, ...overrides, backend: "wasm", out: join(dir, "base"), cacheDir: join(dir, "cache") },
  });
  const { classes } = await scanImageFolder(IMAGENETTE_DIR, { limit: 1 });
  const base = createModel(archSpec("fcn", { nOut: classes.length }), { seed: 3 });
  await saveFresh(join(dir, "base", "checkpoint.bin"), base, classes, config);
  base.dispose();
  return classes;
}

describe.skipIf(!hasImagenette)(`fine_tune on a slice of real Imagenette plus feedback with a new class ${hasImagenette ? "" : needs("imagenette")}`, () => {
  test("phase 1 trains the head with the body frozen, phase 2 everything at discriminative LRs; export lists the new class", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "finetune-"));
    const classes = await saveImagenetteBase(dir, { limit: 4, validLimit: 2, bs: 16 });

    // Feedback: a new class "red_panda" and one more image of an existing class (parachute).
    const fb = join(dir, "feedback");
    mkdirSync(join(fb, "train", "red_panda"), { recursive: true });
    mkdirSync(join(fb, "train", "n03888257"), { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(fb, "train", "red_panda", `${i}.jpg`), await makeJpeg(48, 40, 10 + i));
    writeFileSync(join(fb, "train", "n03888257", "x.jpg"), await makeJpeg(40, 48, 99));

    // Watch the learner: body conv weights when phase 1 starts and when each phase ends; group state and LRs per batch.
    const bodyConv = (m: Model) => m.parameters().filter((p) => p.group === "body" && p.kind === "conv-weight").map((p) => [...(p.variable.dataSync() as Float32Array)]);
    const snapshots: number[][][] = [];
    const batches: { frozen: boolean[]; lrs: number[] }[] = [];
    const spy = (learner: Learner): Callback => ({
      name: "spy",
      order: 1,
      beforeFit: () => void (snapshots.length === 0 && snapshots.push(bodyConv(learner.model))),
      afterFit: () => void snapshots.push(bodyConv(learner.model)),
      afterBatch: () => void batches.push({ frozen: learner.opt.groups.map((g) => g.frozen), lrs: learner.opt.groups.map((g) => g.hyper.lr) }),
    });
    const res = await runFinetune({
      from: join(dir, "base"),
      feedback: fb,
      freezeEpochs: 1,
      overrides: { data: IMAGENETTE_DIR, out: join(dir, "tuned"), epochs: 1, lr: 1e-2, limit: 4, validLimit: 2, backend: "wasm" },
      io: quiet(),
      progress: false,
      callbacks: (learner) => [spy(learner)],
    });
    expect(res.added).toEqual(["red_panda"]);
    expect(res.classes).toEqual([...classes, "red_panda"]);
    expect(res.feedbackImages).toBe(5);
    expect(res.records).toHaveLength(2);

    // Phase 1: body frozen (its conv weights did not move), head trained.
    expect(snapshots).toHaveLength(3);
    expect(snapshots[1]).toEqual(snapshots[0]);
    // Phase 2: everything trains, the body at 1/100 of the head's rate.
    expect(snapshots[2]).not.toEqual(snapshots[1]);
    const nIter = batches.length / 2;
    expect(batches.slice(0, nIter).every((b) => b.frozen[0] === true && b.frozen[1] === false)).toBe(true);
    const phase2 = batches.slice(nIter);
    expect(phase2.every((b) => b.frozen.every((f) => !f))).toBe(true);
    for (const b of phase2) expect(b.lrs[0]! / b.lrs[1]!).toBeCloseTo(0.01, 9);

    // The checkpoint exports as-is; the manifest lists the new class with its name as label.
    const ckpt = await readCheckpoint(res.checkpoint);
    expect(ckpt.header.classes).toEqual(res.classes);
    expect(ckpt.header.arch.nOut).toBe(classes.length + 1);
    const exported = await exportRun({ checkpoint: join(dir, "tuned"), out: join(dir, "model"), name: "tuned", version: "v2" });
    const manifest = validateManifest(JSON.parse(readFileSync(join(dir, "model", "manifest.json"), "utf8")));
    expect(manifest.classes.at(-1)).toEqual({ wnid: "red_panda", label: "red_panda" });
    expect(manifest.classes[9]).toEqual({ wnid: "n03888257", label: "parachute" });
    expect(exported.verifiedMaxDiff).toBeLessThan(1e-4);

    // The history is the base run's (one 32-px stage, no epochs) plus this fine-tune as a second stage with
    // both phases' epochs, where it started from (no local path) and this invocation as its session.
    const history = manifest.training!.history as import("../../trainer/src/learner/history.ts").TrainingHistory;
    expect(history.command.slice(0, 2)).toEqual(["trainer", "run"]);
    expect(history.stages.map((s) => [s.stage, s.size, s.epochs, s.epochTable.length, s.finetune?.from])).toEqual([
      [0, 32, 5, 0, undefined],
      [1, 32, 2, 2, "base/checkpoint.bin"],
    ]);
    expect(history.stages[1]!.finetune).toMatchObject({ baseLr: 1e-2, freezeEpochs: 1, lrMult: 100, feedbackImages: 5, added: ["red_panda"] });
    expect(history.stages[1]!.lr).toBe(5e-3); // the unfrozen phase's peak: fastai halves base_lr
    expect(history.stages[1]!.accuracy).toBe(res.records[1]!.accuracy);
    expect(history.stages[1]!.epochTable.every((e) => e.stage === 1)).toBe(true);
    // Like trainer run's epochs, each fine-tune epoch records its input size and when it ended.
    expect(history.stages[1]!.epochTable.map((e) => e.size)).toEqual([32, 32]);
    expect(history.stages[1]!.epochTable.every((e) => typeof e.endedAt === "string" && !Number.isNaN(Date.parse(e.endedAt)))).toBe(true);
    expect(history.sessions).toHaveLength(1);
    expect(history.sessions[0]!.backend).toBe("wasm");
    expect(JSON.stringify(history)).not.toContain(dir);
  });

  test("a checkpoint every epoch; --resume continues across both phases on the same schedule, ending where an uninterrupted fine-tune ends", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "finetune-resume-"));
    await saveImagenetteBase(dir, { limit: 2, validLimit: 1, bs: 10 });
    const fb = join(dir, "feedback");
    mkdirSync(join(fb, "train", "red_panda"), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(fb, "train", "red_panda", `${i}.jpg`), await makeJpeg(48, 40, 20 + i));
    const overrides = { data: IMAGENETTE_DIR, epochs: 2, lr: 1e-2, limit: 2, validLimit: 1, backend: "wasm" as const };
    const lrTrace = (into: number[][]) => (learner: Learner): Callback[] => [
      { name: "lr-trace", order: 1, afterBatch: () => void into.push(learner.opt.groups.map((g) => g.hyper.lr)) },
    ];
    const crashAfter = (n: number): Callback => {
      let seen = 0;
      return { name: "crash", order: 90, afterEpoch: () => { if (++seen === n) throw new Error("simulated crash"); } }; // after the checkpoint
    };

    const fullLrs: number[][] = [];
    const full = await runFinetune({ from: join(dir, "base"), feedback: fb, freezeEpochs: 1, lrMult: 10, overrides: { ...overrides, out: join(dir, "full") }, io: quiet(), progress: false, callbacks: lrTrace(fullLrs) });
    expect(full.records).toHaveLength(3);

    // Killed after the frozen epoch: the checkpoint says the frozen phase is done.
    const out = join(dir, "cut");
    const argv = ["trainer", "finetune", "--from", join(dir, "base"), "--out", out];
    await expect(runFinetune({ from: join(dir, "base"), feedback: fb, freezeEpochs: 1, lrMult: 10, overrides: { ...overrides, out }, io: quiet(), progress: false, callbacks: () => [crashAfter(1)], argv })).rejects.toThrow(/simulated crash/);
    const first = await readCheckpoint(join(out, "checkpoint.bin"));
    expect(first.header.progress).toMatchObject({ stage: 0, epoch: 1, nEpochs: 1, done: false });
    expect(first.header.metrics).toHaveLength(1);
    expect(first.header.optimizer).not.toBeNull();
    // A fresh start on it is refused, and so is trainer run's resume.
    await expect(runFinetune({ from: join(dir, "base"), overrides: { ...overrides, out }, io: quiet(), progress: false })).rejects.toThrow(/already holds a run.*--resume/);
    const runIo = quiet();
    expect(await main(["run", "--resume", "--out", out], runIo)).toBe(1);
    expect(runIo.lines.join("\n")).toMatch(/written by trainer finetune: continue it with trainer finetune --resume --out /);

    // Resumed (flags other than where to compute are ignored; the feedback folder comes from finetune.json), killed
    // again after the first unfrozen epoch, resumed again to the end.
    const lrs: number[][] = [];
    await expect(runFinetune({ resume: true, overrides: { ...overrides, lr: 1, out }, io: quiet(), progress: false, callbacks: (l) => [...lrTrace(lrs)(l), crashAfter(1)], argv: ["trainer", "finetune", "--resume", "--out", out] })).rejects.toThrow(/simulated crash/);
    expect((await readCheckpoint(join(out, "checkpoint.bin"))).header.progress).toMatchObject({ stage: 1, epoch: 1, nEpochs: 2, done: false });
    const io = quiet();
    const last = await runFinetune({ resume: true, overrides: { out }, io, progress: false, callbacks: lrTrace(lrs), argv: ["trainer", "finetune", "--resume", "--out", out] });
    expect(io.lines.some((l) => /^resume: .*unfrozen phase, epoch 1 \(2 epochs done\)/.test(l))).toBe(true);

    const nPerEpoch = fullLrs.length / 3;
    expect(lrs).toEqual(fullLrs.slice(nPerEpoch)); // the unfrozen phase's schedule, split across two invocations
    expect(last.records).toHaveLength(3);
    expect(last.classes).toEqual(full.classes);
    expect(last.records[2]!.accuracy).toBeCloseTo(full.records[2]!.accuracy, 9);
    expect(last.records[2]!.trainLoss).toBeCloseTo(full.records[2]!.trainLoss, 5);
    const [a, b] = [await readCheckpoint(full.checkpoint), await readCheckpoint(last.checkpoint)];
    expect(maxCheckpointDiff(a, b)).toBeLessThan(1e-5);
    expect(b.header.progress.done).toBe(true);
    expect(b.header.finetune).toMatchObject({ from: "base/checkpoint.bin", freezeEpochs: 1, lrMult: 10, feedbackImages: 3, added: ["red_panda"] });
    // The history: the base run's stage, then the fine-tune's three epochs; three invocations, the resumes saying where.
    const history = checkpointHistory(b.header)!;
    expect(history.stages.map((s) => s.epochTable.length)).toEqual([0, 3]);
    expect(history.sessions.map((s) => s.resumedAt)).toEqual([null, { stage: 1, epoch: 1 }, { stage: 1, epoch: 2 }]);
    expect(history.sessions[0]!.argv).toEqual(argv);
    await expect(runFinetune({ resume: true, overrides: { out }, io: quiet(), progress: false })).rejects.toThrow(/finished fine-tune: nothing to resume/);
    // A feedback folder that changed under an interrupted fine-tune is refused rather than silently mixed in.
    const moved = join(dir, "moved");
    await expect(runFinetune({ from: join(dir, "base"), feedback: fb, freezeEpochs: 1, overrides: { ...overrides, out: moved }, io: quiet(), progress: false, callbacks: () => [crashAfter(1)] })).rejects.toThrow(/simulated crash/);
    writeFileSync(join(fb, "train", "red_panda", "new.jpg"), await makeJpeg(40, 40, 77));
    await expect(runFinetune({ resume: true, overrides: { out: moved }, io: quiet(), progress: false })).rejects.toThrow(/data changed since this fine-tune started \(3 feedback images then, 4 now\)/);
  });
});

describe("trainer finetune CLI", () => {
  async function cli(...argv: string[]) {
    const io = quiet();
    const code = await main(argv, io);
    return { code, lines: io.lines };
  }
  function expectUserError(r: { code: number; lines: string[] }, pattern: RegExp): void {
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^error: /);
    expect(r.lines[0]).toMatch(pattern);
  }

  test("--lr-mult 1 with no frozen epochs trains every layer group at the same rate (progressive resizing on the same data)", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "finetune-mult-"));
    await saveImagenetteBase(dir, { limit: 2, validLimit: 1, bs: 10 });
    const lrs: number[][] = [];
    const frozen: boolean[] = [];
    const io = quiet();
    await runFinetune({
      from: join(dir, "base"),
      freezeEpochs: 0,
      lrMult: 1,
      overrides: { data: IMAGENETTE_DIR, out: join(dir, "tuned"), epochs: 1, lr: 1e-2, size: 40, presize: 48, limit: 2, validLimit: 1, backend: "wasm" },
      io,
      progress: false,
      callbacks: (learner) => [{ name: "spy", order: 1, afterBatch: () => {
        lrs.push(learner.opt.groups.map((g) => g.hyper.lr));
        frozen.push(...learner.opt.groups.map((g) => g.frozen));
      } }],
    });
    expect(lrs.length).toBeGreaterThan(0);
    expect(lrs[0]!.length).toBeGreaterThan(1); // body and head groups
    expect(frozen.every((f) => !f)).toBe(true);
    for (const row of lrs) expect(new Set(row).size).toBe(1);
    expect(Math.max(...lrs.map((r) => r[0]!))).toBeGreaterThan(1e-3); // peak: base lr / 2 (fastai), not / 100
    const saved = JSON.parse(readFileSync(join(dir, "tuned", "finetune.json"), "utf8"));
    expect(saved).toMatchObject({ freezeEpochs: 0, lrMult: 1 });
    // No frozen phase: one epoch table (header once), one row.
    expect(io.lines.filter((l) => /^epoch\s+train_loss/.test(l))).toHaveLength(1);
  });

  test("bad flags exit 1 with one actionable line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ftcli-"));
    const ckptDir = join(dir, "run");
    const m = createModel(archSpec("fcn", { nOut: 2 }), { seed: 1 });
    await saveFresh(join(ckptDir, "checkpoint.bin"), m, ["a", "b"], null);
    m.dispose();
    expectUserError(await cli("finetune", "--data", "/d", "--out", dir), /needs --from <run folder or checkpoint\.bin>/);
    expectUserError(await cli("finetune", "--from", join(dir, "nope"), "--data", "/d", "--out", join(dir, "o")), /no checkpoint at .*nope: pass --from/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--out", join(dir, "o")), /needs --data <folder/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--data", "/d"), /needs --out <new run folder>/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--data", "/d", "--out", ckptDir), /is the run being fine-tuned: choose a new folder/);
    expectUserError(await cli("finetune", "--feedbak", "x"), /unknown flag --feedbak \(did you mean --feedback\?\)/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--freeze-epochs", "one"), /--freeze-epochs: expects an integer 0\.\.1000, got "one"/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--lr-mult", "0.5"), /--lr-mult: expects a number >= 1 \(the first layer group trains at lr\/lr-mult\), got "0\.5"/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--data", "/d", "--out", join(dir, "o"), "--epochs", "x"), /--epochs: expects a number/);
    expectUserError(await cli("finetune", "--from", ckptDir, "--data", "/no/such", "--out", join(dir, "o")), /no dataset folder at \/no\/such/);
    const fb = join(dir, "fb");
    mkdirSync(join(fb, "train", "bad name"), { recursive: true });
    const data = join(dir, "data");
    for (const s of ["train", "val"]) {
      mkdirSync(join(data, s, "a"), { recursive: true });
      writeFileSync(join(data, s, "a", "1.jpg"), await makeJpeg(16, 16));
    }
    expectUserError(
      await cli("finetune", "--from", ckptDir, "--data", data, "--feedback", fb, "--out", join(dir, "o")),
      /feedback class folder "bad name" .*rename it to bad_name/,
    );
  });
});
