import { CLASS_ID_RULE, isValidClassId, suggestClassId } from "@resnet-edge/shared";
import { existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "./errors.ts";
import type { ImageFolderSplit, Item } from "./imagenette.ts";

/**
 * The feedback set on disk, as `trainer feedback pull` writes it: <root>/train/<class>/<sha256>.<ext>.
 * A class is an existing wnid or a new name; names follow shared's class-id rule, so they are valid in
 * a model manifest as they are.
 */
const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

/** class -> image paths (sorted), for every class folder with at least one image. */
export async function scanFeedbackFolder(root: string): Promise<Map<string, string[]>> {
  const train = join(root, "train");
  if (!existsSync(train) || !statSync(train).isDirectory()) {
    throw new DataError(
      `feedback folder ${root} has no train/ folder: expected train/<class>/<image> as \`trainer feedback pull --out ${root}\` writes it`,
    );
  }
  const out = new Map<string, string[]>();
  const dirs = (await readdir(train, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const name of dirs) {
    if (!isValidClassId(name)) {
      const hint = suggestClassId(name);
      throw new DataError(
        `feedback class folder ${JSON.stringify(name)} in ${train} is not a valid class name (${CLASS_ID_RULE})${hint ? `: rename it to ${hint}` : ": rename it"}`,
      );
    }
    const files = (await readdir(join(train, name))).filter((f) => IMAGE_EXT.test(f)).sort();
    if (files.length > 0) out.set(name, files.map((f) => join(train, name, f)));
  }
  return out;
}

/**
 * The dataset split re-indexed onto `classes` (which must contain every class of the split and of the
 * feedback), with the feedback images added to training.
 */
export function withFeedback(split: ImageFolderSplit, feedback: ReadonlyMap<string, readonly string[]>, classes: readonly string[]): ImageFolderSplit {
  const index = new Map(classes.map((c, i) => [c, i]));
  const at = (c: string): number => {
    const i = index.get(c);
    if (i === undefined) throw new Error(`withFeedback: class ${c} is missing from the class list`);
    return i;
  };
  const remap = (items: Item[]): Item[] => items.map((it) => ({ path: it.path, label: at(split.classes[it.label]!) }));
  const extra: Item[] = [...feedback].flatMap(([c, paths]) => paths.map((path) => ({ path, label: at(c) })));
  return { classes: [...classes], train: [...remap(split.train), ...extra], valid: remap(split.valid) };
}
