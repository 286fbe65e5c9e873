import { ConfigError } from "@resnet-edge/shared/errors";
import { CONFIG_FIELDS, CONFIG_KEYS, closest, DEFAULT_CONFIG, parseStages, validateConfigField, type TrainConfig } from "../config.ts";
import type { RunIO } from "../learner/setup.ts";

/**
 * The one flag schema: a command declares each flag once (kind, limits, help) and this module derives
 * the parser, the validation and the help text from it. Flags are the kebab-case form of their key
 * (`freezeEpochs` -> `--freeze-epochs`). Config flags are TrainConfig keys, parsed and validated by
 * config.ts's CONFIG_FIELDS; they arrive as `overrides`, the rest as typed `values`.
 * Light on purpose: no tfjs and no codecs here or in the command modules' top level; a command loads
 * the training stack inside its `run`.
 */

/** A user mistake in the command line: printed as one line, exit 1. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type Flag =
  /** A string; `value` names it in help and in "needs a value" messages (default VALUE). */
  | { kind: "string"; help: string; value?: string }
  /** Present or absent, takes no value. */
  | { kind: "switch"; help: string }
  /** Bounded numbers; `expects` replaces the generated "an integer min..max" in error messages. */
  | { kind: "int"; help: string; min: number; max: number; value?: string; expects?: string }
  | { kind: "number"; help: string; min: number; max: number; value?: string; expects?: string }
  | { kind: "choice"; help: string; choices: readonly string[] };

export type Flags = Record<string, Flag>;

type ValueOf<F extends Flag> = F extends { kind: "switch" }
  ? boolean
  : F extends { kind: "int" | "number" }
    ? number
    : F extends { kind: "choice"; choices: readonly (infer C)[] }
      ? C
      : string;

/** Parsed command flags by key; absent flags are undefined. */
export type FlagValues<F extends Flags> = { [K in keyof F]?: ValueOf<F[K]> };

export interface CommandInput<F extends Flags> {
  values: FlagValues<F>;
  /** Config flags given on the command line, parsed and validated field by field. */
  overrides: Partial<TrainConfig>;
  /** The sub-command word, for commands that have them (`feedback pull`). */
  sub: string | undefined;
}

export interface Command<F extends Flags = Flags> {
  /** One line for `trainer --help`: what it does, then an example after a colon. */
  summary: string;
  flags: F;
  /** TrainConfig keys accepted as flags (all of them for run and lr-find). */
  config?: readonly (keyof TrainConfig)[];
  /** Where the config flags' defaults come from when not DEFAULT_CONFIG (e.g. the checkpoint's saved
   * config); with a note, help shows the note instead of DEFAULT_CONFIG's values. */
  configNote?: string;
  /** Sub-commands, taken as the first word after the command. */
  subcommands?: readonly string[];
  run(input: CommandInput<F>, io: RunIO): Promise<void>;
}

/** Identity, for type inference: `values` in `run` gets the flags' types. */
export function defineCommand<const F extends Flags>(command: Command<F>): Command<F> {
  return command;
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const HELP: Flag = { kind: "switch", help: "this command's flags" };

/** What a flag on the command line refers to. */
type Entry = { key: string; flag: Flag } | { key: keyof TrainConfig; config: true; negated?: boolean };

function table(command: Command): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const key of command.config ?? []) {
    out.set(kebab(key), { key, config: true });
    if (CONFIG_FIELDS[key].kind === "boolean") out.set(`no-${kebab(key)}`, { key, config: true, negated: true });
  }
  for (const [key, flag] of Object.entries(command.flags)) out.set(kebab(key), { key, flag });
  out.set("help", { key: "help", flag: HELP });
  return out;
}

function takesValue(e: Entry): boolean {
  return "config" in e ? CONFIG_FIELDS[e.key].kind !== "boolean" : e.flag.kind !== "switch";
}

/** A value to show after "e.g.": the config default, or the flag's placeholder. */
function example(e: Entry): string {
  if ("config" in e) {
    const v = DEFAULT_CONFIG[e.key];
    return v === null || (Array.isArray(v) && v.length === 0) ? "<value>" : String(v);
  }
  return "value" in e.flag && e.flag.value ? e.flag.value : "<value>";
}

const orList = (xs: readonly string[]): string => (xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`);

function parseValue(name: string, flag: Flag, raw: string): string | number | boolean {
  const path = `--${name}`;
  switch (flag.kind) {
    case "string":
      return raw;
    case "switch":
      return true;
    case "choice":
      if (!flag.choices.includes(raw)) throw new ConfigError(path, `expects ${orList(flag.choices)}, got ${JSON.stringify(raw)}`);
      return raw;
    case "int":
    case "number": {
      const n = Number(raw);
      const ok = raw.trim() !== "" && Number.isFinite(n) && (flag.kind === "number" || Number.isInteger(n)) && n >= flag.min && n <= flag.max;
      if (!ok) throw new ConfigError(path, `expects ${flag.expects ?? `${flag.kind === "int" ? "an integer" : "a number"} ${flag.min}..${flag.max}`}, got ${JSON.stringify(raw)}`);
      return n;
    }
  }
}

/** A config flag's text -> its typed value, checked by the config schema. */
function parseConfigValue(key: keyof TrainConfig, raw: string, lr: number): unknown {
  const spec = CONFIG_FIELDS[key];
  const path = `--${kebab(key)}`;
  if (spec.nullable && (raw === "none" || raw === "null")) return null;
  switch (spec.kind) {
    case "int":
    case "number":
    case "noise": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) throw new ConfigError(path, `expects a number, got ${JSON.stringify(raw)}`);
      if (spec.kind !== "number" && !Number.isInteger(n)) throw new ConfigError(path, `expects an integer, got ${JSON.stringify(raw)}`);
      return validateConfigField(key, n, path);
    }
    case "stages":
      return parseStages(raw, lr, path);
    default:
      return validateConfigField(key, raw, path);
  }
}

export interface Parsed {
  values: FlagValues<Flags>;
  overrides: Partial<TrainConfig>;
  sub: string | undefined;
  help: boolean;
}

/** Parse `args` (the words after the command name) against the command's schema. */
export function parseCommandLine(command: Command, args: readonly string[]): Parsed {
  const known = table(command);
  const raw = new Map<string, { entry: Entry; text: string | null }>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : arg;
    const entry = arg.startsWith("--") ? known.get(name) : undefined;
    if (!entry) {
      const hint = closest(name.replace(/^-+/, ""), [...known.keys()]);
      throw new UsageError(`unknown flag ${arg.startsWith("--") ? `--${name}` : arg}${hint ? ` (did you mean --${hint}?)` : ""}; see trainer --help`);
    }
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (!takesValue(entry)) {
      if (inline !== undefined) {
        const base = "config" in entry ? `--${kebab(entry.key)}` : `--${name}`;
        throw new UsageError(`--${name} is a switch and takes no value; use ${"config" in entry ? `${base} or --no-${kebab(entry.key)}` : base}`);
      }
      raw.set(name, { entry, text: null });
      continue;
    }
    let text = inline;
    if (text === undefined) {
      text = args[i + 1];
      if (text === undefined) throw new UsageError(`--${name} needs a value, e.g. --${name} ${example(entry)}`);
      if (text.length > 1 && text.startsWith("-")) {
        throw new UsageError(`--${name} ${text} is ambiguous: ${JSON.stringify(text)} looks like a flag; to give a value starting with a dash write --${name}=-XYZ (here --${name}=${text})`);
      }
      i++;
    }
    raw.set(name, { entry, text });
  }

  let sub: string | undefined;
  if (command.subcommands) {
    const [word, ...extra] = positionals;
    if (word === undefined || !command.subcommands.includes(word) || extra.length > 0) {
      throw new UsageError(`${word === undefined ? "missing sub-command" : `unknown sub-command ${JSON.stringify(positionals.join(" "))}`}; expected one of: ${command.subcommands.join(", ")}`);
    }
    sub = word;
  } else if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}: flags take the form --name value; see trainer --help`);
  }

  const values: Record<string, string | number | boolean> = {};
  const overrides: Record<string, unknown> = {};
  // Config flags in schema order (stages after lr: a stage without its own lr takes --lr's).
  const configEntries = [...raw].filter(([, r]) => "config" in r.entry).sort(([, a], [, b]) => CONFIG_KEYS.indexOf(a.entry.key as keyof TrainConfig) - CONFIG_KEYS.indexOf(b.entry.key as keyof TrainConfig));
  for (const [, { entry, text }] of configEntries) {
    if (!("config" in entry)) continue;
    if (text === null) overrides[entry.key] = !entry.negated;
    else overrides[entry.key] = parseConfigValue(entry.key, text, typeof overrides.lr === "number" ? overrides.lr : DEFAULT_CONFIG.lr);
  }
  for (const [name, { entry, text }] of raw) {
    if ("config" in entry) continue;
    values[entry.key] = parseValue(name, entry.flag, text ?? "");
  }
  const help = values.help === true;
  delete values.help;
  return { values, overrides: overrides as Partial<TrainConfig>, sub, help };
}

function flagLine(flag: string, value: string, help: string): string {
  const left = `  ${flag}${value ? ` ${value}` : ""}`;
  return left.length >= 24 ? `${left}\n${" ".repeat(24)}${help}` : `${left.padEnd(24)}${help}`;
}

/** Help lines for a command's own flags. */
export function ownFlagLines(command: Command): string[] {
  return Object.entries(command.flags).map(([key, f]) => {
    const value = f.kind === "switch" ? "" : f.kind === "choice" ? f.choices.join("|") : (f.value ?? "VALUE");
    return flagLine(`--${kebab(key)}`, value, f.help);
  });
}

/** Help lines for config flags, with their defaults. */
export function configFlagLines(keys: readonly (keyof TrainConfig)[], withDefaults = true): string[] {
  return keys.map((k) => {
    const spec = CONFIG_FIELDS[k];
    const flag = spec.kind === "boolean" ? `--[no-]${kebab(k)}` : `--${kebab(k)}`;
    return flagLine(flag, "", `${spec.help}${withDefaults ? ` (default ${JSON.stringify(DEFAULT_CONFIG[k])})` : ""}`);
  });
}

/** `trainer <name> --help`. */
export function commandHelp(name: string, command: Command): string {
  const lines = [`usage: trainer ${name}${command.subcommands ? ` ${command.subcommands.join("|")}` : ""} [flags]`, "", command.summary, "", "flags:", ...ownFlagLines(command)];
  if (command.config?.length) {
    lines.push("", "config flags:", ...configFlagLines(command.config, !command.configNote));
    if (command.configNote) lines.push(`  ${command.configNote}`);
    lines.push("  booleans take --flag / --no-flag;  nullable numbers take 'none'");
  }
  return lines.join("\n");
}
