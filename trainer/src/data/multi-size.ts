/**
 * Multi-size training (issue 11 item 3): each batch's input shape is drawn from stride-aligned sizes around
 * the target size and an aspect range, so the net sees several final-map shapes (1x1 to 3x4 cells at 64 px
 * with stride 32) instead of only the square one it is validated and served at; the book trains at one
 * fixed square size (`--no-multi-size`).
 */
import { alignSide } from "@resnet-edge/shared";
import type { Rng } from "./random.ts";

/** Widest aspect (long / short) a batch is drawn at: 4:3. */
export const MULTI_SIZE_MAX_ASPECT = 4 / 3;

/**
 * The short sides a batch is drawn from: the target rounded to the stride, one stride less and one stride
 * more; `minSize` (the trainer's --multi-size-min) extends the set down to that size (rounded to the stride,
 * at least one stride), so a late, large stage still sees the small sizes the model will be served at; it
 * never narrows the default set. Empty below two strides: a target that small trains at its fixed size. With drawBatchShape's
 * aspects the mean batch area is 1.32x the fixed square's at 64 px and 1.20x at 128 px (stride 32; the
 * squares of 32, 64, 96 average 1.17x 64^2, and the long side only rounds up or stays), so an epoch
 * costs about that much more compute than `--no-multi-size` (test/trainer/multi-size.test.ts).
 */
export function multiSizeSet(size: number, stride: number, minSize: number | null = null): number[] {
  if (size < 2 * stride) return [];
  const s = alignSide(size, stride);
  const lo = Math.min(s - stride, minSize === null ? Infinity : alignSide(minSize, stride));
  const out: number[] = [];
  for (let x = Math.max(stride, lo); x <= s + stride; x += stride) out.push(x);
  return out;
}

/** One batch's [height, width]: a short side from the set, an aspect log-uniform in [1/max, max], the long side rounded to the stride. */
export function drawBatchShape(rng: Rng, size: number, stride: number, opts: { maxAspect?: number; minSize?: number | null } = {}): [number, number] {
  const maxAspect = opts.maxAspect ?? MULTI_SIZE_MAX_ASPECT;
  const set = multiSizeSet(size, stride, opts.minSize ?? null);
  if (set.length === 0) return [size, size];
  const short = set[rng.int(set.length)]!;
  const aspect = Math.exp(rng.uniform(-Math.log(maxAspect), Math.log(maxAspect)));
  const long = alignSide(short * Math.max(aspect, 1 / aspect), stride);
  return aspect >= 1 ? [short, long] : [long, short];
}
