/**
 * A small seeded PRNG (sfc32) so shuffles, augmentations and mixup are reproducible from `seed` and
 * the epoch index alone: resuming at epoch k draws exactly what an uninterrupted run would have.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(lo: number, hi: number): number;
  /** Integer in [0, n). */
  int(n: number): number;
  normal(): number;
  /** Gamma(shape, 1) (Marsaglia-Tsang). */
  gamma(shape: number): number;
  /** Beta(a, b). */
  beta(a: number, b: number): number;
  bernoulli(p: number): boolean;
  /** A new array with the items in random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

/** Hash any number of integers into a 32-bit seed (so `makeRng(seed, epoch, 7)` streams are independent). */
function mixSeed(parts: readonly number[]): [number, number, number, number] {
  let h1 = 0x9e3779b9;
  let h2 = 0x243f6a88;
  for (const p of parts) {
    const v = Math.floor(p) >>> 0;
    h1 = Math.imul(h1 ^ v, 0x85ebca6b);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ (v + 0x632be5ab), 0xc2b2ae35);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  return [h1 >>> 0, h2 >>> 0, (h1 ^ h2) >>> 0, parts.length >>> 0];
}

export function makeRng(...seedParts: number[]): Rng {
  let [a, b, c, d] = mixSeed(seedParts);
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  const normal = (): number => {
    const u = 1 - next();
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const gamma = (shape: number): number => {
    if (shape < 1) return gamma(shape + 1) * next() ** (1 / shape);
    const d3 = shape - 1 / 3;
    const c3 = 1 / Math.sqrt(9 * d3);
    for (;;) {
      const x = normal();
      const v = (1 + c3 * x) ** 3;
      if (v <= 0) continue;
      const u = next();
      if (Math.log(u) < 0.5 * x * x + d3 - d3 * v + d3 * Math.log(v)) return d3 * v;
    }
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    normal,
    gamma,
    beta: (x, y) => {
      const g1 = gamma(x);
      return g1 / (g1 + gamma(y));
    },
    bernoulli: (p) => next() < p,
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}
