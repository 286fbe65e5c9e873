import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../../trainer/src/cli.ts";
import { DEFAULT_CONFIG, resolveConfig, validateTrainConfig } from "../../trainer/src/config.ts";
import { hasImagenette, IMAGENETTE_DIR, repoRoot } from "../helpers/data.ts";

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { log: (l) => void err.push(l), write: (l) => void out.push(l) });
  return { code, out, err };
}

/** A user mistake: exit 1, exactly one line on stderr, starting with "error:", no stack trace. */
function expectUserError(r: { code: number; err: string[] }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.err.join("\n").split("\n");
  expect(lines.filter((l) => l.startsWith("error:"))).toHaveLength(1);
  expect(lines.some((l) => /^\s+at /.test(l))).toBe(false);
  expect(r.err.at(-1)).toMatch(pattern);
}

describe("config resolution", () => {
  test("defaults <- preset <- flags, validated", () => {
    const c = resolveConfig({ preset: "resnet50", overrides: { epochs: 1, data: "/d" } });
    expect(c.arch).toBe("resnet50");
    expect(c.size).toBe(224); // from the preset
    expect(c.presize).toBe(320);
    expect(c.epochs).toBe(1); // flag beats preset
    expect(c.wd).toBe(DEFAULT_CONFIG.wd); // default
    expect(c.out).toBe("runs/resnet50");
    expect(validateTrainConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    expect(() => validateTrainConfig({ ...c, extra: 1 })).toThrow(/config\.extra: unknown key/);
    expect(() => validateTrainConfig({ ...c, bs: "64" })).toThrow(/config\.bs: must be an integer/);
  });
});

describe("trainer CLI", () => {
  test("help and usage", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).toMatch(/usage: trainer <command>[\s\S]*resnet50[\s\S]*--label-smoothing/);
    expect((await cli()).code).toBe(1);
    // Each command's help comes from its flag schema.
    const run = await cli("run", "--help");
    expect(run.code).toBe(0);
    expect(run.out.join("\n")).toMatch(/usage: trainer run[\s\S]*--resume[\s\S]*--\[no-\]augment/);
    const ft = await cli("finetune", "--help");
    expect(ft.out.join("\n")).toMatch(/--freeze-epochs N .*\(default 1\)[\s\S]*--lr-mult X .*\(default 100\)/);
  });

  test("bad flags exit 1 with one line that says how to fix it", async () => {
    expectUserError(await cli("rn"), /unknown command "rn" \(did you mean run\?\)/);
    expectUserError(await cli("run", "--sise", "64"), /unknown flag --sise \(did you mean --size\?\)/);
    expectUserError(await cli("run", "--size", "big"), /--size: expects a number, got "big"/);
    expectUserError(await cli("run", "--size"), /--size needs a value, e.g. --size 128/);
    expectUserError(await cli("run", "--epochs", "1.5"), /--epochs: expects an integer/);
    expectUserError(await cli("run", "--lr=-1"), /--lr: must be >= 0/);
    expectUserError(await cli("run", "--lr", "-1"), /--lr.*ambiguous.*--lr=-XYZ/);
    expectUserError(await cli("run", "--arch", "vgg"), /--arch: must be one of fcn, resblock/);
    expectUserError(await cli("run", "--backend", "gpu"), /--backend: must be one of auto, tensorflow, wasm, cpu/);
    expectUserError(await cli("run", "--preset", "resnet9"), /unknown preset "resnet9"; choose one of fcn/);
    expectUserError(await cli("run", "--size", "256", "--presize", "160"), /presize.*smaller than size.*--presize >= --size/);
    expectUserError(await cli("run", "--stages", "224"), /--stages\[0\].*size:epochs\[:lr\]/);
    expectUserError(await cli("run", "stray"), /unexpected argument "stray"/);
    expectUserError(await cli("eval"), /needs --out <run folder> or --checkpoint <file>/);
    expectUserError(await cli("eval", "--out", "x", "--bs", "0"), /--bs: must be >= 1, got 0/);
    expectUserError(await cli("export", "--opset", "99"), /--opset: expects an integer 17\.\.23, got "99"/);
    expectUserError(await cli("export", "--calibration", "mean"), /--calibration: expects minmax or percentile, got "mean"/);
    expectUserError(await cli("run", "--augment=yes"), /--augment is a switch and takes no value; use --augment or --no-augment/);
    expectUserError(await cli("publish", "--int8"), /unknown flag --int8/);
  });

  test("missing data or a wrong layout exit 1 before any work", async () => {
    const out = mkdtempSync(join(tmpdir(), "cli-"));
    expectUserError(await cli("run", "--out", join(out, "a"), "--epochs", "1"), /no dataset given: pass --data/);
    expectUserError(await cli("run", "--data", "/no/such/dir", "--out", join(out, "b")), /no dataset folder at \/no\/such\/dir/);
    const flat = join(out, "flat");
    mkdirSync(join(flat, "images"), { recursive: true });
    writeFileSync(join(flat, "images", "x.JPEG"), "x");
    expectUserError(await cli("lr-find", "--data", flat, "--out", join(out, "c")), /has no train\/ folder: expected train\/<wnid>\/\*\.JPEG/);
    expectUserError(await cli("eval", "--out", join(out, "nothing-here")), /no checkpoint at .*checkpoint\.bin/);
    expectUserError(await cli("run", "--resume", "--out", join(out, "nothing-here"), "--data", flat), /no checkpoint at/);
  });

  test("as a process: npm run trainer with a bad flag exits 1 with one stderr line", () => {
    const r = spawnSync("npx", ["tsx", "trainer/src/cli.ts", "run", "--bs", "lots"], { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    const errLines = r.stderr.split("\n").filter((l) => l.trim() !== "");
    expect(errLines).toEqual(['error: --bs: expects a number, got "lots"']);
    expect(r.stdout).toBe("");
  });

  test.skipIf(!hasImagenette)("as a process: a run with 2 wasm threads exits by itself when done (pthread workers do not keep it alive)", () => {
    const out = join(mkdtempSync(join(tmpdir(), "cli-threads-")), "run");
    const r = spawnSync(
      process.execPath,
      ["trainer/bin/trainer.mjs", "run", "--preset", "fcn", "--data", IMAGENETTE_DIR, "--size", "32", "--presize", "40", "--limit", "2", "--valid-limit", "1", "--epochs", "1", "--bs", "8", "--backend", "wasm", "--threads", "2", "--out", out],
      // Without VITEST in its environment: the trainer only skips its tfjs resolve hook under vitest's own loader.
      { cwd: repoRoot, encoding: "utf8", timeout: 120_000, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST"))) },
    );
    expect(r.signal, `killed after 120 s: the process did not exit\n${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("wasm (2 threads)");
    expect(r.stdout).toMatch(/checkpoint: .*checkpoint\.bin/);
  });

  test("--help and publish load neither tfjs nor the image codecs; eval does load tfjs (the recorder sees it)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-loads-"));
    /** Run the CLI in a process that records every module URL it loads; returns them. */
    const loads = (name: string, ...argv: string[]): { status: number | null; stderr: string; urls: string[] } => {
      const file = join(dir, `${name}.txt`);
      writeFileSync(file, "");
      const r = spawnSync(process.execPath, ["--import", "tsx", "--import", "./test/helpers/record-loads.mjs", "trainer/src/cli.ts", ...argv], {
        cwd: repoRoot,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, RECORD_LOADS: file },
      });
      return { status: r.status, stderr: r.stderr, urls: readFileSync(file, "utf8").split("\n").filter(Boolean) };
    };
    const heavy = (urls: string[]) => urls.filter((u) => /@tensorflow|\/shared\/src\/(codecs|decode)|@jsquash|jpeg-js|onnxruntime/.test(u));

    const help = loads("help", "--help");
    expect(help.status).toBe(0);
    expect(help.urls.some((u) => u.endsWith("/trainer/src/commands/run.ts"))).toBe(true);
    expect(heavy(help.urls)).toEqual([]);

    const model = join(dir, "model");
    mkdirSync(model);
    writeFileSync(join(model, "manifest.json"), "{}");
    const publish = loads("publish", "publish", "--model", model, "--bucket", "b", "--persist-to", join(dir, "state"));
    expect(publish.stderr).toMatch(/manifest\.json is invalid/); // it got as far as reading the manifest
    expect(publish.urls.some((u) => u.endsWith("/trainer/src/publish/publish.ts"))).toBe(true);
    expect(heavy(publish.urls)).toEqual([]);

    const evalRun = loads("eval", "eval", "--checkpoint", join(dir, "none.bin"));
    expect(evalRun.stderr).toMatch(/no checkpoint at/);
    expect(heavy(evalRun.urls).some((u) => u.includes("@tensorflow"))).toBe(true);
  });
});
