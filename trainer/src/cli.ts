import { ConfigError, ImageError } from "@resnet-edge/shared";
import { pathToFileURL } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest, CONFIG_FIELDS, CONFIG_KEYS, parseStages, resolveConfig, DEFAULT_CONFIG, type TrainConfig } from "./config.ts";
import { DataError } from "./data/errors.ts";
import type { FeedbackSource } from "./feedback/source.ts";
import { checkpointPath } from "./learner/run-training.ts";
import type { RunIO } from "./learner/setup.ts";
import { PRESETS } from "./presets.ts";

/**
 * `trainer <command> [flags]`: argument parsing, printing and exit codes only; the work is done by plain
 * functions (runTraining, runLrFind, runEval) that tests call directly.
 * Exit codes: 0 ok; 1 a user mistake (bad flag, missing data, wrong layout: one line, no stack);
 * 2 a bug (message and stack).
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Command {
  summary: string;
  /** Extra flags beyond the config keys. */
  flags: ParseArgsConfig["options"];
  /** Whether the config keys are accepted as flags. */
  configFlags: boolean;
  /** Sub-commands taken as the first positional word (e.g. `feedback pull`); passed as values._ */
  subcommands?: string[];
  run(values: Record<string, unknown>, io: RunIO): Promise<void>;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Config keys as string-valued flags (booleans also get --no-<flag>). */
function configFlagOptions(): NonNullable<ParseArgsConfig["options"]> {
  const out: NonNullable<ParseArgsConfig["options"]> = {};
  for (const key of CONFIG_KEYS) {
    if (CONFIG_FIELDS[key].kind === "boolean") {
      out[kebab(key)] = { type: "boolean" };
      out[`no-${kebab(key)}`] = { type: "boolean" };
    } else out[kebab(key)] = { type: "string" };
  }
  return out;
}

/** Turn string flag values into typed config overrides; ConfigError names the flag. */
export function flagsToOverrides(values: Record<string, unknown>): Partial<TrainConfig> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const spec = CONFIG_FIELDS[key];
    const flag = `--${kebab(key)}`;
    if (spec.kind === "boolean") {
      if (values[kebab(key)] === true) out[key] = true;
      if (values[`no-${kebab(key)}`] === true) out[key] = false;
      continue;
    }
    const raw = values[kebab(key)];
    if (raw === undefined) continue;
    const text = String(raw);
    if (spec.nullable && (text === "none" || text === "null")) {
      out[key] = null;
      continue;
    }
    switch (spec.kind) {
      case "int":
      case "number":
      case "noise": {
        const n = Number(text);
        if (text.trim() === "" || !Number.isFinite(n)) throw new ConfigError(flag, `expects a number, got ${JSON.stringify(text)}`);
        if (spec.kind !== "number" && !Number.isInteger(n)) throw new ConfigError(flag, `expects an integer, got ${JSON.stringify(text)}`);
        out[key] = n;
        break;
      }
      case "stages":
        out[key] = parseStages(text, Number(values.lr ?? DEFAULT_CONFIG.lr), flag);
        break;
      default:
        out[key] = text;
    }
  }
  return out as Partial<TrainConfig>;
}

function configFrom(values: Record<string, unknown>): TrainConfig {
  const preset = typeof values.preset === "string" ? values.preset : null;
  try {
    return resolveConfig({ preset, overrides: flagsToOverrides(values) });
  } catch (e) {
    // Name flags the way the user typed them: "flags.size: ..." -> "--size: ...".
    if (e instanceof ConfigError && e.path.startsWith("flags.")) {
      throw new ConfigError(`--${kebab(e.path.slice(6).split(/[.[]/)[0]!)}`, e.message.slice(e.path.length + 2));
    }
    throw e;
  }
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: "train a model: trainer run --preset resnet18 --data <dir> --epochs 5 --out runs/<name>",
    flags: { preset: { type: "string" }, resume: { type: "boolean" } },
    configFlags: true,
    async run(values, io) {
      const config = configFrom(values);
      const { runTraining } = await import("./learner/run-training.ts");
      const result = await runTraining(config, { resume: values.resume === true, io });
      const f = result.final;
      io.write(`checkpoint: ${result.checkpoint}${f ? `  (valid_loss ${f.validLoss.toFixed(4)}, accuracy ${f.accuracy.toFixed(4)})` : ""}`);
    },
  },
  "lr-find": {
    summary: "plot loss against learning rate and suggest one: trainer lr-find --preset resnet18 --data <dir>",
    flags: { preset: { type: "string" }, "num-it": { type: "string" }, "start-lr": { type: "string" }, "end-lr": { type: "string" } },
    configFlags: true,
    async run(values, io) {
      const config = configFrom(values);
      const num = (flag: string): number | undefined => {
        if (values[flag] === undefined) return undefined;
        const n = Number(values[flag]);
        if (!(n > 0)) throw new ConfigError(`--${flag}`, `expects a positive number, got ${JSON.stringify(values[flag])}`);
        return n;
      };
      const { runLrFind } = await import("./learner/run-lr-find.ts");
      const numIt = num("num-it");
      const startLr = num("start-lr");
      const endLr = num("end-lr");
      await runLrFind(config, {
        io,
        find: { ...(numIt ? { numIt: Math.round(numIt) } : {}), ...(startLr ? { startLr } : {}), ...(endLr ? { endLr } : {}) },
      });
    },
  },
  eval: {
    summary: "validation loss and accuracy of a checkpoint: trainer eval --out runs/<name> [--data <dir>] [--size N]",
    flags: {
      out: { type: "string" },
      checkpoint: { type: "string" },
      data: { type: "string" },
      size: { type: "string" },
      "valid-limit": { type: "string" },
      limit: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      bs: { type: "string" },
      tta: { type: "boolean" },
    },
    configFlags: false,
    async run(values, io) {
      const path = typeof values.checkpoint === "string" ? values.checkpoint : typeof values.out === "string" ? checkpointPath(values.out) : null;
      if (!path) throw new UsageError("trainer eval needs --out <run folder> or --checkpoint <file>");
      const overrides = flagsToOverrides(values);
      const { runEval } = await import("./learner/run-eval.ts");
      await runEval(path, overrides, { io, tta: values.tta === true });
    },
  },
  export: {
    summary: "checkpoint -> model.onnx + manifest.json: trainer export --checkpoint runs/<name> --out models/<name> [--int8]",
    flags: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      name: { type: "string" },
      version: { type: "string" },
      opset: { type: "string" },
      int8: { type: "boolean" },
      "int8-only": { type: "boolean" },
      "calibration-data": { type: "string" },
      "calibration-per-class": { type: "string" },
      "agreement-per-class": { type: "string" },
      calibration: { type: "string" },
      backend: { type: "string" },
    },
    configFlags: false,
    async run(values, io) {
      const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
      const checkpoint = str("checkpoint");
      const out = str("out");
      if (!checkpoint || !out) throw new UsageError("trainer export needs --checkpoint <run folder or checkpoint.bin> and --out <folder>");
      const int = (flag: string, min: number, max: number): number | undefined => {
        const raw = str(flag);
        if (raw === undefined) return undefined;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${flag}`, `expects an integer ${min}..${max}, got ${JSON.stringify(raw)}`);
        return n;
      };
      const calibration = str("calibration");
      if (calibration !== undefined && calibration !== "minmax" && calibration !== "percentile") {
        throw new ConfigError("--calibration", `expects minmax or percentile, got ${JSON.stringify(calibration)}`);
      }
      const { isBackendChoice, initBackend } = await import("./backend/init-backend.ts");
      const backend = str("backend") ?? "auto";
      if (!isBackendChoice(backend)) throw new ConfigError("--backend", `expects auto, tensorflow, wasm or cpu, got ${JSON.stringify(backend)}`);
      await initBackend(backend, { log: io.log });
      const { exportRun } = await import("./export/export-run.ts");
      const opset = int("opset", 17, 23);
      const perClass = int("calibration-per-class", 1, 1000);
      const agreePerClass = int("agreement-per-class", 1, 100000);
      const res = await exportRun({
        checkpoint,
        out,
        ...(str("name") ? { name: str("name") } : {}),
        ...(str("version") ? { version: str("version") } : {}),
        ...(opset ? { opset } : {}),
        int8: values.int8 === true,
        int8Only: values["int8-only"] === true,
        ...(agreePerClass ? { agreementPerClass: agreePerClass } : {}),
        ...(str("calibration-data") ? { calibrationData: str("calibration-data") } : {}),
        ...(perClass ? { calibrationPerClass: perClass } : {}),
        ...(calibration ? { calibration } : {}),
        log: io.log,
      });
      io.write(`exported ${res.manifest.name}@${res.manifest.version}: ${res.files.join(", ")}`);
    },
  },
  calibrate: {
    summary: "accuracy as served vs input size; writes the best serving size into the manifest: trainer calibrate --model models/<name> --data <dir> [--per-class 50]",
    flags: {
      model: { type: "string" },
      data: { type: "string" },
      "per-class": { type: "string" },
      sizes: { type: "string" },
      aspects: { type: "string" },
      plot: { type: "string" },
      threads: { type: "string" },
      "dry-run": { type: "boolean" },
    },
    configFlags: false,
    async run(values, io) {
      const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
      const model = str("model");
      if (!model) throw new UsageError("trainer calibrate needs --model <folder written by trainer export>");
      const perClass = Number(str("per-class") ?? 50);
      if (!Number.isInteger(perClass) || perClass < 1) throw new ConfigError("--per-class", `expects a positive integer, got ${JSON.stringify(str("per-class"))}`);
      const sizes = str("sizes")?.split(",").map((x) => Number(x));
      if (sizes && sizes.some((x) => !Number.isInteger(x) || x < 8 || x > 1024)) throw new ConfigError("--sizes", `expects short sides 8..1024 separated by commas, e.g. 56,64,96, got ${JSON.stringify(str("sizes"))}`);
      const threads = Number(str("threads") ?? 1);
      const { runCalibrate } = await import("./calibrate/run-calibrate.ts");
      const { parseAspect } = await import("./calibrate/size-curve.ts");
      await runCalibrate({
        model,
        perClass,
        threads,
        ...(str("data") ? { data: str("data") } : {}),
        ...(sizes ? { shortSides: sizes } : {}),
        ...(str("aspects") ? { aspects: str("aspects")!.split(",").map(parseAspect) } : {}),
        ...(str("plot") ? { plot: str("plot") } : {}),
        dryRun: values["dry-run"] === true,
        io,
      });
    },
  },
  finetune: {
    summary: "fastai fine_tune of a checkpoint, new classes from feedback extend the head: trainer finetune --from runs/<name> --data <dir> [--feedback <dir>] --out runs/<new>",
    flags: {
      from: { type: "string" },
      feedback: { type: "string" },
      "freeze-epochs": { type: "string" },
      "lr-mult": { type: "string" },
      ...Object.fromEntries(["data", "out", "epochs", "lr", "size", "presize", "bs", "limit", "valid-limit", "backend", "threads", "cache-dir", "seed"].map((f) => [f, { type: "string" as const }])),
    },
    configFlags: false,
    async run(values, io) {
      const from = typeof values.from === "string" ? values.from : undefined;
      if (!from) throw new UsageError("trainer finetune needs --from <run folder or checkpoint.bin> (the trained model to start from)");
      const raw = values["freeze-epochs"];
      const freezeEpochs = raw === undefined ? undefined : Number(raw);
      if (freezeEpochs !== undefined && !(Number.isInteger(freezeEpochs) && freezeEpochs >= 0 && freezeEpochs <= 1000)) {
        throw new ConfigError("--freeze-epochs", `expects an integer 0..1000, got ${JSON.stringify(raw)}`);
      }
      const rawMult = values["lr-mult"];
      const lrMult = rawMult === undefined ? undefined : Number(rawMult);
      if (lrMult !== undefined && !(Number.isFinite(lrMult) && lrMult >= 1 && lrMult <= 1e6)) {
        throw new ConfigError("--lr-mult", `expects a number >= 1 (the first layer group trains at lr/lr-mult), got ${JSON.stringify(rawMult)}`);
      }
      const { runFinetune } = await import("./learner/run-finetune.ts");
      const res = await runFinetune({
        from,
        feedback: typeof values.feedback === "string" ? values.feedback : null,
        ...(freezeEpochs === undefined ? {} : { freezeEpochs }),
        ...(lrMult === undefined ? {} : { lrMult }),
        overrides: flagsToOverrides(values),
        io,
      });
      const f = res.final;
      io.write(
        `checkpoint: ${res.checkpoint}  (${res.classes.length} classes${res.added.length ? `, new: ${res.added.join(", ")}` : ""}` +
          `${f ? `; valid_loss ${f.validLoss.toFixed(4)}, accuracy ${f.accuracy.toFixed(4)}` : ""})`,
      );
    },
  },
  feedback: {
    summary: "copy the feedback set from R2 into train/<class>/* for finetune --feedback: trainer feedback pull --out <dir> [--persist-to DIR | --worker URL]",
    subcommands: ["pull"],
    flags: {
      out: { type: "string" },
      "persist-to": { type: "string" },
      bucket: { type: "string" },
      worker: { type: "string" },
      remote: { type: "boolean" },
    },
    configFlags: false,
    async run(values, io) {
      const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
      const out = str("out");
      if (!out) throw new UsageError("trainer feedback pull needs --out <folder> (it writes <folder>/train/<class>/<sha256>.<ext>)");
      const worker = str("worker");
      if (values.remote === true && !worker) {
        throw new UsageError("--remote needs --worker https://<your worker>: wrangler cannot list R2 objects, so the deployed worker lists them (GET /v1/feedback with the FEEDBACK_TOKEN secret in your environment)");
      }
      if (worker && str("persist-to")) throw new UsageError("pass --worker <url> (read through a running worker) or --persist-to <dir> (read local state), not both");
      const { pullFeedback } = await import("./feedback/pull.ts");
      let source: FeedbackSource;
      let dispose = async (): Promise<void> => {};
      if (worker) {
        if (!/^https?:\/\//.test(worker)) throw new UsageError(`--worker expects the worker's URL (http://localhost:8787 or https://...), got ${JSON.stringify(worker)}`);
        const token = process.env.FEEDBACK_TOKEN;
        if (!token) throw new UsageError("reading through the worker needs its FEEDBACK_TOKEN secret: export FEEDBACK_TOKEN=<token> first");
        const { workerSource } = await import("./feedback/source.ts");
        source = workerSource({ url: worker, token });
      } else {
        const { bucketFromWranglerToml } = await import("./publish/r2-target.ts");
        const { openLocalBucket } = await import("./feedback/local-bucket.ts");
        const cwd = process.cwd();
        const local = await openLocalBucket({ bucket: str("bucket") ?? (await bucketFromWranglerToml(`${cwd}/wrangler.toml`)), cwd, ...(str("persist-to") ? { persistTo: str("persist-to") } : {}) });
        source = local.source;
        dispose = local.dispose;
      }
      try {
        const res = await pullFeedback(source, out, { log: io.log });
        const classes = Object.entries(res.classes).map(([c, n]) => `${c} ${n}`).join(", ");
        io.write(`feedback from ${source.description} -> ${out}/train: ${res.written} new, ${res.skipped} already there${classes ? ` (${classes})` : " (none stored yet)"}`);
      } finally {
        await dispose();
      }
    },
  },
  publish: {
    summary: "upload an exported model as a new version and activate it: trainer publish --model models/<name> [--name <name>] [--remote]",
    flags: {
      model: { type: "string" },
      name: { type: "string" },
      remote: { type: "boolean" },
      local: { type: "boolean" },
      "persist-to": { type: "string" },
      bucket: { type: "string" },
      "no-activate": { type: "boolean" },
    },
    configFlags: false,
    async run(values, io) {
      const model = typeof values.model === "string" ? values.model : undefined;
      if (!model) throw new UsageError("trainer publish needs --model <folder written by trainer export>");
      if (values.remote === true && values.local === true) throw new UsageError("pass --local (the default: the bucket npm start serves) or --remote, not both");
      const { bucketFromWranglerToml, wranglerR2Target } = await import("./publish/r2-target.ts");
      const { publishModel } = await import("./publish/publish.ts");
      const cwd = process.cwd();
      const bucket = typeof values.bucket === "string" ? values.bucket : await bucketFromWranglerToml(`${cwd}/wrangler.toml`);
      const target = wranglerR2Target({
        bucket,
        mode: values.remote === true ? "remote" : "local",
        cwd,
        ...(typeof values["persist-to"] === "string" ? { persistTo: values["persist-to"] } : {}),
      });
      const res = await publishModel(target, {
        modelDir: model,
        ...(typeof values.name === "string" ? { name: values.name } : {}),
        activate: values["no-activate"] !== true,
        log: io.log,
      });
      io.write(`published ${res.name}@${res.version} to ${target.description}${values["no-activate"] === true ? " (not activated)" : ""}`);
    },
  },
};

function usage(): string {
  const cmds = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  const flags = CONFIG_KEYS.map((k) => `  --${kebab(k).padEnd(16)} ${CONFIG_FIELDS[k].help} (default ${JSON.stringify(DEFAULT_CONFIG[k])})`);
  const presets = Object.entries(PRESETS).map(([n, p]) => `  ${n.padEnd(10)} ${p.summary}`);
  const extra = [
    "  --preset NAME      start from a book experiment (below); flags override it",
    "  --resume           run: continue the interrupted run in --out from its last checkpoint (its saved config wins)",
    "  --num-it N, --start-lr X, --end-lr X   lr-find: sweep length and range (100, 1e-7, 10)",
    "  --out DIR | --checkpoint FILE          eval: what to evaluate; --data/--size/--limit/--valid-limit override",
    "  --tta                                  eval: also fastai's tta (mean softmax of 4 views, as /v1/classify?tta=1)",
    "  --from RUN --data DIR --out DIR [--feedback DIR] [--freeze-epochs 1] [--epochs 1] [--lr 2e-3] [--lr-mult 100]",
    "                     finetune: fastai fine_tune; --feedback is a folder train/<class>/* (trainer feedback pull);",
    "                     classes the checkpoint lacks extend the head; also --size --presize --bs --limit --valid-limit --backend",
    "  export --checkpoint RUN --out DIR [--name N] [--version V] [--opset 19] [--int8 | --int8-only]",
    "                     [--calibration-data DIR] [--calibration-per-class 30] [--calibration minmax|percentile] [--agreement-per-class 20]",
    "                     --int8 adds model.int8.onnx; --int8-only writes it as the manifest's model (no fp32 file: for git)",
    "  calibrate --model DIR [--data DIR] [--per-class 50] [--sizes 56,64,...,160] [--aspects 9:16,3:4,1:1,4:3,16:9]",
    "                     [--plot FILE] [--threads 1] [--dry-run]: top-1 as served per short side x aspect; writes the best size",
    "                     (if at least as accurate as the training size) into the manifest's preprocess, and the curve",
    "  feedback pull --out DIR [--persist-to DIR] [--bucket NAME] | [--worker URL [--remote]]",
    "                     local R2 state (default .wrangler/state) or a running worker's GET /v1/feedback (needs FEEDBACK_TOKEN env)",
    "  --no-augment       booleans take --flag / --no-flag;  nullable numbers take 'none'",
  ];
  return [
    "usage: trainer <command> [flags]",
    "",
    "commands:",
    ...cmds,
    "",
    "presets (--preset):",
    ...presets,
    "",
    "command flags:",
    ...extra,
    "",
    "config flags (run, lr-find):",
    ...flags,
  ].join("\n");
}

function parse(command: Command, args: string[]): Record<string, unknown> {
  const options = { ...(command.configFlags ? configFlagOptions() : {}), ...command.flags, help: { type: "boolean" as const } };
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: Boolean(command.subcommands) });
    if (command.subcommands) {
      const [sub, ...extra] = parsed.positionals;
      if (sub === undefined || !command.subcommands.includes(sub) || extra.length > 0) {
        throw new UsageError(`${sub === undefined ? "missing sub-command" : `unknown sub-command ${JSON.stringify([sub, ...extra].join(" "))}`}; expected one of: ${command.subcommands.join(", ")}`);
      }
      return { ...parsed.values, _: sub };
    }
    return parsed.values as Record<string, unknown>;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as Error & { code?: string };
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(err.message)?.[1];
    if (unknown) {
      const hint = closest(unknown.replace(/^-+/, ""), Object.keys(options));
      throw new UsageError(`unknown flag ${unknown}${hint ? ` (did you mean --${hint}?)` : ""}; see trainer --help`);
    }
    const missing = /Option '(?:-\w, )?(--[^ ]+) <value>' argument missing/.exec(err.message)?.[1];
    if (missing) throw new UsageError(`${missing} needs a value, e.g. ${missing} ${valueExample(camel(missing.slice(2)))}`);
    const positional = /Unexpected argument '([^']+)'/.exec(err.message)?.[1];
    if (positional) throw new UsageError(`unexpected argument ${JSON.stringify(positional)}: flags take the form --name value; see trainer --help`);
    const boolWithValue = /Option '(--[^']+)' does not take an argument/.exec(err.message)?.[1];
    if (boolWithValue) throw new UsageError(`${boolWithValue} is a switch and takes no value; use ${boolWithValue} or --no-${boolWithValue.slice(2)}`);
    throw new UsageError(`${err.message}; see trainer --help`);
  }
}

function valueExample(key: string): string {
  const v = (DEFAULT_CONFIG as unknown as Record<string, unknown>)[key];
  return v === undefined || v === null ? "<value>" : String(v);
}

function isUserError(e: unknown): e is Error {
  return e instanceof UsageError || e instanceof ConfigError || e instanceof DataError || e instanceof ImageError;
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: RunIO = { log: (l) => process.stderr.write(`${l}\n`), write: (l) => process.stdout.write(`${l}\n`) }): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      io.write(usage());
      return name === undefined ? 1 : 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      const hint = closest(name, Object.keys(COMMANDS));
      throw new UsageError(`unknown command ${JSON.stringify(name)}${hint ? ` (did you mean ${hint}?)` : ""}; commands: ${Object.keys(COMMANDS).join(", ")}`);
    }
    const values = parse(command, rest);
    if (values.help) {
      io.write(usage());
      return 0;
    }
    await command.run(values, io);
    return 0;
  } catch (e) {
    if (isUserError(e)) {
      io.log(`error: ${e.message.replace(/\s*\n\s*/g, " ")}`);
      return 1;
    }
    io.log(`internal error (a bug, please report it with this trace):\n${(e as Error)?.stack ?? String(e)}`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Exit explicitly: with --threads > 1 the wasm backend's pthread workers keep the event loop alive (and
  // spin a core) after the command is done. stdout/stderr writes are synchronous on Linux files, pipes, TTYs.
  process.exit(await main(process.argv.slice(2)));
}
