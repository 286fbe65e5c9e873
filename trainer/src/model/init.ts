/**
 * Deterministic weight initialisation, identical on every backend: values come from a seeded
 * JS generator, not from a backend's random ops.
 */

/** mulberry32: small, fast, good enough for weight init. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) samples by Box-Muller. */
export function normalArray(size: number, std: number, random: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const u1 = 1 - random(); // (0, 1]: log is finite
    const u2 = random();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < size) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export function uniformArray(size: number, bound: number, random: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * random() - 1) * bound;
  return out;
}

/** Kaiming normal (fan_in, ReLU gain), as fastai's ConvLayer does: std = sqrt(2 / (kh * kw * in)). */
export function kaimingStd(fanIn: number): number {
  return Math.sqrt(2 / fanIn);
}

/** PyTorch nn.Linear default init bound: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
export function linearBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
