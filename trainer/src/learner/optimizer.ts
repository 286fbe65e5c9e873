import * as tf from "@tensorflow/tfjs-core";
import { fusedAdamStep } from "../backend/fused-kernels.ts";
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

interface SlotState {
  gradAvg: tf.Variable;
  sqrAvg: tf.Variable;
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

  /** Apply one update. `grads` is keyed by tf variable name, as `tf.variableGrads` returns it. */
  step(grads: tf.NamedTensorMap): void {
    const fused = fusedAdamStep();
    for (const g of this.groups) {
      const { lr, mom, sqrMom, eps, wd } = g.hyper;
      for (const p of g.params) {
        const grad = grads[p.variable.name];
        if (!grad) continue;
        const slot = this.slot(p);
        slot.step += 1;
        const debias1 = 1 - mom ** slot.step;
        const debias2 = 1 - sqrMom ** slot.step;
        const decay = wd !== 0 && !NO_DECAY.has(p.kind) ? 1 - lr * wd : 1;
        if (fused) {
          // one kernel pass (wasm): the same arithmetic as the ops below
          tf.tidy(() => {
            const [param, gradAvg, sqrAvg] = fused(p.variable, grad, slot.gradAvg, slot.sqrAvg, { mom, sqrMom, eps, decay, stepSize: lr / debias1, invDebias2: 1 / debias2 });
            slot.gradAvg.assign(gradAvg);
            slot.sqrAvg.assign(sqrAvg);
            p.variable.assign(param);
          });
          continue;
        }
        tf.tidy(() => {
          const gradAvg = tf.add(tf.mul(slot.gradAvg, mom), tf.mul(grad, 1 - mom));
          const sqrAvg = tf.add(tf.mul(slot.sqrAvg, sqrMom), tf.mul(tf.square(grad), 1 - sqrMom));
          slot.gradAvg.assign(gradAvg);
          slot.sqrAvg.assign(sqrAvg);
          const decayed = decay !== 1 ? tf.mul(p.variable, decay) : p.variable;
          const update = tf.div(gradAvg, tf.add(tf.sqrt(tf.div(sqrAvg, debias2)), eps));
          p.variable.assign(tf.sub(decayed, tf.mul(update, lr / debias1)));
        });
      }
    }
  }

  private slot(p: Parameter): SlotState {
    let s = this.slots.get(p.name);
    if (!s) {
      s = {
        gradAvg: tf.variable(tf.zerosLike(p.variable), false),
        sqrAvg: tf.variable(tf.zerosLike(p.variable), false),
        step: 0,
      };
      this.slots.set(p.name, s);
    }
    return s;
  }

  /** Copies of the state (caller disposes the tensors). */
  state(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    const steps: Record<string, number> = {};
    for (const [name, s] of this.slots) {
      tensors[`${name}.gradAvg`] = s.gradAvg.clone();
      tensors[`${name}.sqrAvg`] = s.sqrAvg.clone();
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
      this.slots.set(name, { gradAvg: tf.variable(avg.clone(), false), sqrAvg: tf.variable(sqr.clone(), false), step });
    }
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.gradAvg.dispose();
      s.sqrAvg.dispose();
    }
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}
