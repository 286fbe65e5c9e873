// Where the team's real data lives. Tests read it in place and never copy it into the project.
// Override with RESNET_EDGE_DATA=/path/to/data; the default is ../shared/data beside the repo.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const DATA_DIR = resolve(repoRoot, process.env.RESNET_EDGE_DATA ?? "../shared/data");
export const ODDIMAGES_DIR = join(DATA_DIR, "oddimages");
export const IMAGENETTE_DIR = join(DATA_DIR, "imagenette");

export const hasOddImages = existsSync(join(ODDIMAGES_DIR, "README.md"));
export const hasImagenette = existsSync(join(IMAGENETTE_DIR, "train"));

/** Reason printed by a skipped suite, so a reader knows what to provide. */
export function needs(what: "oddimages" | "imagenette"): string {
  const dir = what === "oddimages" ? ODDIMAGES_DIR : IMAGENETTE_DIR;
  return `needs ${what} at ${dir} (set RESNET_EDGE_DATA to the team data dir)`;
}

export { repoRoot };
