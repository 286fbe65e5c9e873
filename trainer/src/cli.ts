import { ConfigError, ImageError } from "@resnet-edge/shared/errors";
import { pathToFileURL } from "node:url";
import { closest, CONFIG_KEYS } from "./config.ts";
import { COMMANDS } from "./commands/index.ts";
import { commandHelp, configFlagLines, kebab, ownFlagLines, parseCommandLine, UsageError } from "./commands/flags.ts";
import { DataError } from "./data/errors.ts";
import type { RunIO } from "./learner/setup.ts";
import { PRESETS } from "./presets.ts";

/**
 * `trainer <command> [flags]`: argument parsing, printing and exit codes only. Each command is a module in
 * commands/ (registry: commands/index.ts) whose `run` calls plain functions that tests call directly
 * (runTraining, runLrFind, runEval, ...), loading the training stack only then.
 * Exit codes: 0 ok; 1 a user mistake (bad flag, missing data, wrong layout: one line, no stack);
 * 2 a bug (message and stack).
 */
export { UsageError };

function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const cmds = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  const presets = Object.entries(PRESETS).map(([n, p]) => `  ${n.padEnd(10)} ${p.summary}`);
  const perCommand = Object.entries(COMMANDS).flatMap(([name, c]) => {
    const config = c.config === CONFIG_KEYS ? ["  and every config flag below"] : c.config?.length ? [`  and config flags ${c.config.map((k) => `--${kebab(k)}`).join(" ")}`] : [];
    return [`${name}${c.subcommands ? ` ${c.subcommands.join("|")}` : ""}:`, ...ownFlagLines(c), ...config, ...(c.configNote ? [`  (${c.configNote})`] : [])];
  });
  return [
    "usage: trainer <command> [flags]      trainer <command> --help: that command's flags",
    "",
    "commands:",
    ...cmds,
    "",
    "presets (--preset):",
    ...presets,
    "",
    "command flags:",
    ...perCommand,
    "",
    "config flags (run, lr-find; booleans take --flag / --no-flag; nullable numbers take 'none'):",
    ...configFlagLines(CONFIG_KEYS),
  ].join("\n");
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
    const { values, overrides, sub, help } = parseCommandLine(command, rest);
    if (help) {
      io.write(commandHelp(name, command));
      return 0;
    }
    await command.run({ values, overrides, sub }, io);
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
