import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "./data/errors.ts";

/**
 * Where a run folder (`--out`) keeps its files. A module of its own, free of tfjs, so the CLI can name
 * them without loading the training stack.
 */
export function checkpointPath(out: string): string {
  return join(out, "checkpoint.bin");
}

/** Create an output folder (`--out`) if needed and check it is writable; a DataError says what to do. */
export async function ensureWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new DataError(`cannot write to output folder ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): choose another --out`);
  }
}
