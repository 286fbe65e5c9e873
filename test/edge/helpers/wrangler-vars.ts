// The [vars] of the project's wrangler.toml, so workerd tests run with the deployed limits.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../helpers/data.ts";

export function wranglerVars(): Record<string, string> {
  const toml = readFileSync(join(repoRoot, "wrangler.toml"), "utf8");
  const section = toml.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/gm)) vars[m[1]!] = m[2]!;
  return vars;
}
