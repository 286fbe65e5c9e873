import type { ClassLabel } from "@resnet-edge/shared";

export interface Prediction {
  label: string;
  wnid: string;
  score: number;
}

/** Numerically stable softmax (float64 accumulation). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The `k` most probable classes, highest first (ties keep class order). */
export function topK(logits: ArrayLike<number>, classes: readonly ClassLabel[], k: number): Prediction[] {
  if (logits.length !== classes.length) {
    throw new Error(`model produced ${logits.length} logits but its manifest lists ${classes.length} classes`);
  }
  const probs = softmax(logits);
  return [...probs]
    .map((score, i) => ({ score, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, k)
    .map(({ score, i }) => ({ label: classes[i]!.label, wnid: classes[i]!.wnid, score }));
}
