import * as tf from "@tensorflow/tfjs-core";
import type { Parameter } from "../model/types.ts";

/**
 * fastai's default optimiser: Adam with dampened first moment (beta1 = the momentum schedule), beta2
 * 0.99, eps 1e-5, and true (decoupled) weight decay `p *= 1 - lr * wd` applied before the step. BatchNorm
 * and bias parameters get no weight decay (fastai's wd_bn_bias=False).
 *
 * Parameters live in groups ("body", "head") with their own hyper-parameters, so fine-tuning can freeze
 * the body or give it a smaller learning rate (discriminative LRs). A frozen group still trains its
 * BatchNorm parameters (fastai's train_bn=True).
 */
export interface Hyper {
  lr: number;
  mom: number;
  sqrMom: number;
  eps: number;
  wd: number;
}

export interface ParamGroup {
  name: string;
  params: Parameter[];
  hyper: Hyper;
  frozen: boolean;
}

/**
 * A parameter's moments. They live in plain Float32Arrays, not tensors: the update is one fused loop
 * over them (see `step`), and they cost no wasm-heap space.
 */
interface SlotState {
  gradAvg: Float32Array;
  sqrAvg: Float32Array;
  step: number;
}

/** Optimiser state as plain data, for checkpoints. Tensors are keyed by `<param name>.<slot>`. */
export interface OptimizerState {
  groups: { name: string; hyper: Hyper; frozen: boolean }[];
  steps: Record<string, number>;
  tensors: Record<string, tf.Tensor>;
}

export const ADAM_DEFAULTS: Hyper = { lr: 1e-3, mom: 0.9, sqrMom: 0.99, eps: 1e-5, wd: 0.01 };

const NO_DECAY = new Set<Parameter["kind"]>(["bias", "bn-gamma", "bn-beta"]);

export class Adam {
  readonly groups: ParamGroup[];
  private readonly slots = new Map<string, SlotState>();
  /** Parameter shapes by name, for state(). */
  private readonly shapes = new Map<string, number[]>();

  /** Groups in order: "body" first, then "head" (fastai's layer-group order for discriminative LRs). */
  constructor(params: readonly Parameter[], hyper: Partial<Hyper> = {}) {
    const h = { ...ADAM_DEFAULTS, ...hyper };
    const names = ["body", "head"] as const;
    this.groups = names
      .map((name) => ({ name, params: params.filter((p) => p.group === name), hyper: { ...h }, frozen: false }))
      .filter((g) => g.params.length > 0);
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`duplicate parameter name ${p.name}: checkpoints key on unique names`);
      seen.add(p.name);
      this.shapes.set(p.name, p.variable.shape);
    }
  }

  /** Set a hyper-parameter for every group, or per group (`values[i]` for `groups[i]`). */
  setHyper(key: keyof Hyper, values: number | readonly number[]): void {
    this.groups.forEach((g, i) => {
      const v = typeof values === "number" ? values : values[Math.min(i, values.length - 1)]!;
      g.hyper[key] = v;
    });
  }

  /** Freeze all groups but the last (the head); `freezeTo(0)` unfreezes everything. */
  freezeTo(n: number): void {
    const k = n < 0 ? this.groups.length + n : n;
    this.groups.forEach((g, i) => (g.frozen = i < k));
  }

  /** Variables that receive gradients this step (frozen groups contribute their BN params only). */
  trainableVariables(): tf.Variable[] {
    return this.groups.flatMap((g) => g.params.filter((p) => !g.frozen || p.kind.startsWith("bn-")).map((p) => p.variable));
  }

  /**
   * Apply one update. `grads` is keyed by tf variable name, as `tf.variableGrads` returns it.
   *
   * Per parameter, one fused pass in JS over (weight, gradient, two moments) instead of 14 elementwise
   * tensor ops, each a full pass over the parameter with its own allocation. For ResNet-18 (11.2M
   * parameters) on wasm, 2 threads: 111 vs 124 ms per update, interleaved in one process, under load
   * (bench/train/epoch.ts reports it as "of which optimizer"), and the moments (90 MB) leave the 4 GB wasm
   * heap. The weights and gradients cross between the backend and JS once each (a copy each); that
   * assumes the backend keeps tensors in CPU memory (wasm, cpu, tensorflow), which is where this trainer
   * runs. The arithmetic is adamUpdate's in double precision, rounded to float32 once per value.
   */
  step(grads: tf.NamedTensorMap): void {
    for (const g of this.groups) {
      const { lr, mom, sqrMom, eps, wd } = g.hyper;
      for (const p of g.params) {
        const grad = grads[p.variable.name];
        if (!grad) continue;
        const slot = this.slot(p);
        slot.step += 1;
        const decay = wd !== 0 && !NO_DECAY.has(p.kind) ? 1 - lr * wd : 1;
        const out = this.scratch(p.variable.size);
        adamUpdate(p.variable.dataSync() as Float32Array, grad.dataSync() as Float32Array, slot, { lr, mom, sqrMom, eps, decay }, out);
        // tf.tensor copies `out` into the backend, so the buffer is free for the next parameter.
        tf.tidy(() => p.variable.assign(tf.tensor(out, p.variable.shape, "float32")));
      }
    }
  }

  /** One reused buffer for the new weights (the largest parameter's size), so a step allocates no 45 MB. */
  private scratchBuffer = new Float32Array(0);

  private scratch(n: number): Float32Array {
    if (this.scratchBuffer.length < n) this.scratchBuffer = new Float32Array(n);
    return this.scratchBuffer.subarray(0, n);
  }

  private slot(p: Parameter): SlotState {
    let s = this.slots.get(p.name);
    if (!s) {
      s = { gradAvg: new Float32Array(p.variable.size), sqrAvg: new Float32Array(p.variable.size), step: 0 };
      this.slots.set(p.name, s);
    }
    return s;
  }

  /** Copies of the state (caller disposes the tensors). */
  state(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    const steps: Record<string, number> = {};
    for (const [name, s] of this.slots) {
      const shape = this.shapes.get(name)!;
      tensors[`${name}.gradAvg`] = tf.tensor(s.gradAvg.slice(), shape, "float32");
      tensors[`${name}.sqrAvg`] = tf.tensor(s.sqrAvg.slice(), shape, "float32");
      steps[name] = s.step;
    }
    return { groups: this.groups.map((g) => ({ name: g.name, hyper: { ...g.hyper }, frozen: g.frozen })), steps, tensors };
  }

  /** Restore from `state()` output; the caller still owns (and disposes) `state.tensors`. */
  loadState(state: OptimizerState): void {
    const params = new Map(this.groups.flatMap((g) => g.params.map((p) => [p.name, p] as const)));
    for (const gs of state.groups) {
      const g = this.groups.find((x) => x.name === gs.name);
      if (!g) throw new Error(`optimizer state has group ${gs.name} that this model lacks`);
      g.hyper = { ...gs.hyper };
      g.frozen = gs.frozen;
    }
    this.disposeSlots();
    for (const [name, step] of Object.entries(state.steps)) {
      const p = params.get(name);
      const avg = state.tensors[`${name}.gradAvg`];
      const sqr = state.tensors[`${name}.sqrAvg`];
      if (!p || !avg || !sqr) throw new Error(`optimizer state for ${name} does not match the model's parameters`);
      if (avg.shape.join() !== p.variable.shape.join()) {
        throw new Error(`optimizer state for ${name} has shape [${avg.shape}] but the parameter is [${p.variable.shape}]`);
      }
      if (sqr.shape.join() !== p.variable.shape.join()) {
        throw new Error(`optimizer state for ${name} has shape [${sqr.shape}] but the parameter is [${p.variable.shape}]`);
      }
      this.slots.set(name, { gradAvg: Float32Array.from(avg.dataSync()), sqrAvg: Float32Array.from(sqr.dataSync()), step });
    }
  }

  private disposeSlots(): void {
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}

/**
 * One Adam step on flat arrays, in place on the moments, the new weights into `out` (which may be
 * `weights` itself):
 *   avg = mom avg + (1 - mom) g;  sqr = sqrMom sqr + (1 - sqrMom) g^2
 *   w' = decay w - (lr / (1 - mom^t)) avg / (sqrt(sqr / (1 - sqrMom^t)) + eps),   decay = 1 - lr wd (or 1)
 */
export function adamUpdate(
  weights: Float32Array,
  grad: Float32Array,
  slot: { gradAvg: Float32Array; sqrAvg: Float32Array; step: number },
  h: { lr: number; mom: number; sqrMom: number; eps: number; decay: number },
  out: Float32Array,
): void {
  const n = weights.length;
  if (grad.length !== n || slot.gradAvg.length !== n || slot.sqrAvg.length !== n || out.length !== n) {
    throw new Error(`adamUpdate: ${n} weights, ${grad.length} gradients, ${slot.gradAvg.length}/${slot.sqrAvg.length} moments, ${out.length} outputs`);
  }
  const { gradAvg, sqrAvg } = slot;
  const { mom, sqrMom, eps, decay } = h;
  const step = h.lr / (1 - mom ** slot.step);
  const inv2 = 1 / (1 - sqrMom ** slot.step);
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    const a = mom * gradAvg[i]! + (1 - mom) * g;
    const q = sqrMom * sqrAvg[i]! + (1 - sqrMom) * g * g;
    gradAvg[i] = a;
    sqrAvg[i] = q;
    out[i] = decay * weights[i]! - (step * a) / (Math.sqrt(q * inv2) + eps);
  }
}
