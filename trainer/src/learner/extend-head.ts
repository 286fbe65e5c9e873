import { DataError } from "../data/errors.ts";
import { linearBound, seededRandom, uniformArray } from "../model/init.ts";
import type { Checkpoint, TensorEntry } from "./checkpoint.ts";

/**
 * Growing a trained classifier by new classes (fine-tuning on feedback that names a class the model has
 * never seen). The old classes keep their index and their head weights exactly; each new class gets a
 * fresh column initialised like a new linear layer (PyTorch's uniform +-1/sqrt(in)) and a zero bias.
 * Everything here is a pure function of checkpoint data.
 */
export const HEAD_WEIGHT = "head.linear.weight";
export const HEAD_BIAS = "head.linear.bias";

export interface ExtendedClasses {
  /** Old classes in their old order, then the new ones sorted. */
  classes: string[];
  /** The new ones, sorted. */
  added: string[];
}

export function extendClasses(old: readonly string[], wanted: Iterable<string>): ExtendedClasses {
  const known = new Set(old);
  const added = [...new Set([...wanted].filter((c) => !known.has(c)))].sort();
  return { classes: [...old, ...added], added };
}

/**
 * The checkpoint with its head widened to `classes` (which must start with the checkpoint's classes).
 * Optimiser state is dropped: fine-tuning starts a fresh optimiser. Returns the input unchanged (minus
 * optimiser state) when nothing is added.
 */
export function extendHead(ckpt: Checkpoint, classes: readonly string[], opts: { seed?: number } = {}): Checkpoint {
  const old = ckpt.header.classes;
  if (classes.length < old.length || old.some((c, i) => classes[i] !== c)) {
    throw new Error(`extendHead: the new class list must start with the checkpoint's ${old.length} classes in order`);
  }
  const w = ckpt.data.get(HEAD_WEIGHT);
  const b = ckpt.data.get(HEAD_BIAS);
  if (!w || !b || w.shape.length !== 2 || b.shape.length !== 1) {
    throw new DataError(
      `the checkpoint has no linear head (${HEAD_WEIGHT} [in, classes] and ${HEAD_BIAS}): fine-tune a checkpoint written by trainer run`,
    );
  }
  const [inFeatures, nOld] = w.shape as [number, number];
  if (nOld !== old.length || b.shape[0] !== nOld) {
    throw new DataError(`the checkpoint's head has ${nOld} outputs but lists ${old.length} classes: it is damaged; use another checkpoint`);
  }
  const nNew = classes.length - nOld;
  const weight = new Float32Array(inFeatures * classes.length);
  const fresh = uniformArray(inFeatures * nNew, linearBound(inFeatures), seededRandom(opts.seed ?? 0));
  for (let r = 0; r < inFeatures; r++) {
    weight.set(w.values.subarray(r * nOld, (r + 1) * nOld), r * classes.length);
    weight.set(fresh.subarray(r * nNew, (r + 1) * nNew), r * classes.length + nOld);
  }
  const bias = new Float32Array(classes.length);
  bias.set(b.values);

  const data: Checkpoint["data"] = new Map();
  for (const [name, entry] of ckpt.data) {
    if (entry.role === "opt") continue;
    if (name === HEAD_WEIGHT) data.set(name, { role: "param", shape: [inFeatures, classes.length], values: weight });
    else if (name === HEAD_BIAS) data.set(name, { role: "param", shape: [classes.length], values: bias });
    else data.set(name, entry);
  }
  let offset = 0;
  const tensors: TensorEntry[] = [...data].map(([name, e]) => {
    const t = { name, role: e.role, shape: e.shape, offset, length: e.values.length };
    offset += e.values.length;
    return t;
  });
  return {
    header: { ...ckpt.header, arch: { ...ckpt.header.arch, nOut: classes.length }, classes: [...classes], optimizer: null, tensors },
    data,
  };
}
