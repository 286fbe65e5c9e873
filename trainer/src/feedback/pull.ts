/**
 * `trainer feedback pull`: copy the feedback set into the folder layout `trainer finetune --feedback`
 * reads: <out>/train/<class>/<sha256>.<ext>. Objects are content-addressed, so a file already present
 * with the right hash is skipped and a re-pull only fetches what is new. Every download is checked
 * against the sha256 in its key before it is written.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "../data/errors.ts";
import { sha256Hex } from "../hash.ts";
import { parseFeedbackKey } from "@resnet-edge/shared";
import type { FeedbackSource } from "./source.ts";

export interface PullResult {
  /** Images per class in the output folder after the pull (new and already present). */
  classes: Record<string, number>;
  written: number;
  skipped: number;
  /** Keys under feedback/ that are not feedback images (ignored). */
  ignored: string[];
}

export async function pullFeedback(source: FeedbackSource, out: string, opts: { log?: (line: string) => void } = {}): Promise<PullResult> {
  const log = opts.log ?? (() => {});
  await mkdir(join(out, "train"), { recursive: true });
  const result: PullResult = { classes: {}, written: 0, skipped: 0, ignored: [] };
  for await (const obj of source.list()) {
    const parsed = parseFeedbackKey(obj.key);
    if (!parsed) {
      result.ignored.push(obj.key);
      continue;
    }
    const { label, sha256: hash, ext } = parsed;
    const dir = join(out, "train", label);
    const file = join(dir, `${hash}.${ext}`);
    result.classes[label] = (result.classes[label] ?? 0) + 1;
    if (existsSync(file) && sha256Hex(new Uint8Array(await readFile(file))) === hash) {
      result.skipped++;
      continue;
    }
    const bytes = await source.get(obj.key);
    if (!bytes) {
      log(`skipped ${obj.key}: deleted while pulling`);
      result.classes[label]!--;
      continue;
    }
    if (sha256Hex(bytes) !== hash) throw new DataError(`${obj.key} from ${source.description} does not match the sha256 in its key: the object is damaged; delete it from R2`);
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    result.written++;
  }
  if (result.ignored.length > 0) log(`ignored ${result.ignored.length} objects under feedback/ that are not feedback/<class>/<sha256>.<jpg|png|webp> (e.g. ${result.ignored[0]})`);
  return result;
}
