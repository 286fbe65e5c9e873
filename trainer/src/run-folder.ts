import { join } from "node:path";

/**
 * Where a run folder (`--out`) keeps its files. A module of its own, free of tfjs, so the CLI can name
 * them without loading the training stack.
 */
export function checkpointPath(out: string): string {
  return join(out, "checkpoint.bin");
}
