/**
 * The class list of an imported model, from the formats people have:
 *   classes.txt   one class per line, in output order: "tench" or "n01440764 tench, Tinca tinca" (LOC_synset_mapping.txt)
 *   classes.json  ["tench", ...] | [{"wnid", "label"}, ...] | {"0": "tench", ...} | {"0": ["n01440764", "tench"], ...}
 *                 (imagenet_class_index.json) | {"id2label": {...}} (Hugging Face config.json)
 * Each becomes a ClassLabel: the wnid when the file gives one, else an id made from the label
 * ("tabby cat" -> "tabby_cat"), made unique with the class index when two labels collide.
 */
import { readFile } from "node:fs/promises";
import { CLASS_ID_RE, suggestClassId, type ClassLabel } from "@resnet-edge/shared";
import { DataError } from "../data/errors.ts";

const WNID_LINE = /^(n\d{8})\s+(.+)$/;

function fromPairs(pairs: { wnid: string | null; label: string }[], source: string): ClassLabel[] {
  if (pairs.length < 2) throw new DataError(`${source} lists ${pairs.length} class(es); a classifier needs at least 2, one per output, in output order`);
  const seen = new Set<string>();
  return pairs.map(({ wnid, label }, i) => {
    if (label.trim() === "") throw new DataError(`${source}: class ${i} has an empty label`);
    let id = wnid && CLASS_ID_RE.test(wnid) ? wnid : suggestClassId(label) || `class_${i}`;
    if (seen.has(id)) id = `${id.slice(0, 58)}_${i}`;
    seen.add(id);
    return { wnid: id, label: label.trim() };
  });
}

function fromJson(x: unknown, source: string): ClassLabel[] {
  if (typeof x === "object" && x !== null && !Array.isArray(x) && "id2label" in x) return fromJson((x as { id2label: unknown }).id2label, source);
  const entry = (v: unknown, i: number): { wnid: string | null; label: string } => {
    if (typeof v === "string") return { wnid: null, label: v };
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return { wnid: v[0], label: v[1] };
    if (typeof v === "object" && v !== null && typeof (v as { label?: unknown }).label === "string") {
      const o = v as { wnid?: unknown; label: string };
      return { wnid: typeof o.wnid === "string" ? o.wnid : null, label: o.label };
    }
    throw new DataError(`${source}: class ${i} is ${JSON.stringify(v)?.slice(0, 60)}; give a label string, [wnid, label] or {"wnid", "label"}`);
  };
  if (Array.isArray(x)) return fromPairs(x.map(entry), source);
  if (typeof x === "object" && x !== null) {
    const keys = Object.keys(x);
    const indices = keys.map(Number);
    if (!indices.every((k) => Number.isInteger(k) && k >= 0) || new Set(indices).size !== keys.length || Math.max(...indices) !== keys.length - 1) {
      throw new DataError(`${source}: the object's keys must be the class indices 0..${keys.length - 1}`);
    }
    return fromPairs(
      indices.sort((a, b) => a - b).map((k) => entry((x as Record<string, unknown>)[String(k)], k)),
      source,
    );
  }
  throw new DataError(`${source} is not a class list: give an array of labels or an object of index -> label`);
}

export function parseClasses(text: string, source: string): ClassLabel[] {
  if (/\.json$/i.test(source)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${source} is not valid JSON (${(e as Error).message})`);
    }
    return fromJson(parsed, source);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  return fromPairs(
    lines.map((l) => {
      const m = WNID_LINE.exec(l.trim());
      return m ? { wnid: m[1]!, label: m[2]! } : { wnid: null, label: l.trim() };
    }),
    source,
  );
}

export async function readClasses(path: string): Promise<ClassLabel[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new DataError(`cannot read the class list ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): pass --classes classes.txt (one label per line) or classes.json`);
  }
  return parseClasses(text, path);
}
