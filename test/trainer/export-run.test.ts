import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { validateManifest } from "@resnet-edge/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { sha256Hex } from "../../trainer/src/export/manifest.ts";
import { exportOnnx } from "../../trainer/src/export/onnx-export.ts";
import { saveCheckpoint } from "../../trainer/src/learner/checkpoint.ts";
import type { TrainingHistory } from "../../trainer/src/learner/history.ts";
import { resolveConfig } from "../../trainer/src/config.ts";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";

const WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"];
const PYTHON = "/usr/bin/python3";

function hasPythonOnnx(): boolean {
  try {
    execFileSync(PYTHON, ["-c", "import onnx"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** onnx.checker.check_model(full_check=True). Debian's python3-onnx (1.12) predates IR version 9 and
 * refuses any IR-9 file outright; our files use no IR-9 feature, so the copy checked here declares
 * IR 8 and the checker then validates every node against the newest schemas it knows. */
function onnxCheck(path: string): string {
  return execFileSync(
    PYTHON,
    ["-c", "import onnx,sys\nm=onnx.load(sys.argv[1])\nm.ir_version=min(m.ir_version,onnx.IR_VERSION)\nonnx.checker.check_model(m, full_check=True)\nprint('ok', m.opset_import[0].version)", path],
    { encoding: "utf8" },
  ).trim();
}

describe("trainer export", () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend("wasm");
    dir = mkdtempSync(join(tmpdir(), "export-run-"));
    const model = createModel(archSpec("resnet18", { nOut: 10 }), { seed: 5 });
    await saveCheckpoint(join(dir, "run1", "checkpoint.bin"), {
      model,
      classes: WNIDS,
      config: null,
      progress: { stage: 0, epoch: 1, nEpochs: 1, pos: 1, done: true },
      metrics: [{ epoch: 0, trainLoss: 1.5, trainLossMean: 1.6, validLoss: 1.4, accuracy: 0.55, seconds: 10 }],
    });
    model.dispose();
  });

  it("records the training history (stages, epoch tables, invocations) without this machine's paths", async () => {
    const model = createModel(archSpec("resnet18", { nOut: 10 }), { seed: 6 });
    const data = join(dir, "data", "imagenette");
    const config = resolveConfig({ preset: "resnet18", overrides: { data, out: join(dir, "run2"), size: 64, epochs: 1, stages: [{ size: 128, epochs: 1, lr: 1e-3 }] } });
    const host = { cpus: 2, cpuModel: "test cpu", memoryGiB: 8, platform: "linux-x64", node: "v20" };
    await saveCheckpoint(join(dir, "run2", "checkpoint.bin"), {
      model,
      classes: WNIDS,
      config,
      progress: { stage: 1, epoch: 1, nEpochs: 1, pos: 1, done: true },
      metrics: [
        { epoch: 0, trainLoss: 1.5, trainLossMean: 1.6, validLoss: 1.4, accuracy: 0.55, seconds: 10, stage: 0, size: 64 },
        { epoch: 0, trainLoss: 1.2, trainLossMean: 1.3, validLoss: 1.1, accuracy: 0.65, seconds: 30, stage: 1, size: 128 },
      ],
      sessions: [
        { argv: ["trainer", "run", "--data", data, "--out", join(dir, "run2")], startedAt: "2026-12-02T10:00:00.000Z", resumedAt: null, host, backend: "wasm", threads: 2 },
        { argv: ["trainer", "run", "--resume", "--out", join(dir, "run2")], startedAt: "2026-12-02T11:00:00.000Z", resumedAt: { stage: 1, epoch: 0 }, host, backend: "wasm", threads: 2 },
      ],
    });
    model.dispose();
    const out = join(dir, "models", "run2");
    await exportRun({ checkpoint: join(dir, "run2"), out, version: "v2" });
    const text = readFileSync(join(out, "manifest.json"), "utf8");
    expect(text).not.toContain(dir);
    const history = (JSON.parse(text) as { training: { history: TrainingHistory } }).training.history;
    expect(history.stages.map((s) => [s.size, s.epochs, s.seconds, s.accuracy])).toEqual([[64, 1, 10, 0.55], [128, 1, 30, 0.65]]);
    expect(history.sessions.map((s) => s.argv)).toEqual([["trainer", "run", "--data", "imagenette", "--out", "run2"], ["trainer", "run", "--resume", "--out", "run2"]]);
    expect(history.sessions[1]!.resumedAt).toEqual({ stage: 1, epoch: 0 });
    expect(history.command).toEqual(expect.arrayContaining(["--data", "imagenette", "--stages", "128:1:0.001"]));
    expect(history.totalSeconds).toBe(40);
  });

  it("writes model.onnx and a valid manifest whose sha256 and logits match the checkpoint", async () => {
    const out = join(dir, "models", "run1");
    const res = await exportRun({ checkpoint: join(dir, "run1"), out, version: "v1" });
    expect(res.verifiedMaxDiff).toBeLessThan(1e-4);
    const onnx = readFileSync(join(out, "model.onnx"));
    const manifest = validateManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    expect(manifest.name).toBe("run1");
    expect(manifest.version).toBe("v1");
    expect(manifest.model.sha256).toBe(sha256Hex(onnx));
    expect(manifest.model.bytes).toBe(onnx.byteLength);
    expect(manifest.classes.find((c) => c.wnid === "n03888257")?.label).toBe("parachute");
    expect(manifest.metrics).toEqual({ valAccuracy: 0.55, valLoss: 1.4, trainLoss: 1.5 });
    expect(manifest.architecture.name).toBe("resnet18");
    // The net's total stride, from the architecture table, and the serving recipe that uses it (issue 11).
    expect(manifest.stride).toBe(32);
    expect(manifest.preprocess.resize).toEqual({ mode: "shortest-edge", size: 128, align: 32 });
    expect(manifest.preprocess.crop).toBeNull();
    // No path of this machine in the manifest (issue 16.8): the checkpoint is named by its run.
    expect(manifest.training?.checkpoint).toBe("run1/checkpoint.bin");
    expect(readFileSync(join(out, "manifest.json"), "utf8")).not.toContain(dir);

    // Independently: a model rebuilt from the same seed exports to identical bytes.
    const again = createModel(archSpec("resnet18", { nOut: 10 }), { seed: 5 });
    expect(sha256Hex(await exportOnnx(again))).toBe(manifest.model.sha256);
    again.dispose();

    const session = await ort.InferenceSession.create(onnx);
    expect(session.inputNames).toEqual(["input"]);
    const out1 = await session.run({ input: new ort.Tensor("float32", new Float32Array(2 * 3 * 61 * 90).fill(0.5), [2, 3, 61, 90]) });
    expect(out1.logits!.dims).toEqual([2, 10]);
  });

  it.skipIf(!hasPythonOnnx())("passes onnx.checker full_check (needs Debian python3-onnx)", async () => {
    const out = join(dir, "models", "checked");
    await exportRun({ checkpoint: join(dir, "run1", "checkpoint.bin"), out });
    expect(onnxCheck(join(out, "model.onnx"))).toBe("ok 19");
    const out17 = join(dir, "models", "checked17");
    await exportRun({ checkpoint: join(dir, "run1"), out: out17, opset: 17 });
    expect(onnxCheck(join(out17, "model.onnx"))).toBe("ok 17");
  });

  it("says what to do for a missing checkpoint, a foreign file, an unknown architecture and an unwritable output", async () => {
    await expect(exportRun({ checkpoint: join(dir, "nope"), out: join(dir, "o1") })).rejects.toThrow(/no checkpoint at .*nope.*trainer run --out/);
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, "not a checkpoint at all");
    await expect(exportRun({ checkpoint: junk, out: join(dir, "o2") })).rejects.toThrow(/not a resnet-edge checkpoint/);

    const alien = createModel(archSpec("fcn", { nOut: 10 }));
    await saveCheckpoint(join(dir, "alien", "checkpoint.bin"), {
      model: { ...alien, arch: { ...alien.arch, name: "vgg16", stem: undefined, block: undefined } },
      classes: WNIDS,
      config: null,
      progress: { stage: 0, epoch: 0, nEpochs: 1, pos: 0, done: false },
      metrics: [],
    });
    alien.dispose();
    await expect(exportRun({ checkpoint: join(dir, "alien"), out: join(dir, "o3") })).rejects.toThrow(/unknown architecture.*vgg16/);

    // A folder cannot be created inside a regular file (root ignores permission bits, so use that).
    await expect(exportRun({ checkpoint: join(dir, "run1"), out: join(junk, "sub") })).rejects.toThrow(/cannot write to output folder .*choose another --out/);
    expect(existsSync(join(dir, "o3", "model.onnx"))).toBe(false);
  });
});
