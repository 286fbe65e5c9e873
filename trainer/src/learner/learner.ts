import * as tf from "@tensorflow/tfjs-core";
import type { BatchSource, DataLoaders, Batch } from "../data/types.ts";
import { makeRng, type Rng } from "../data/random.ts";
import type { Model } from "../model/types.ts";
import type { Callback, EpochPhases, EpochRecord, EventOf, EventType, LearnerEvent } from "./events.ts";
import { correctCount, crossEntropy } from "./loss.ts";
import { Adam, type Hyper } from "./optimizer.ts";
import type { Schedule } from "./schedules.ts";

export interface LearnerOptions {
  labelSmoothing?: number;
  /** Mixup alpha; 0 or undefined disables. */
  mixup?: number;
  wd?: number;
  seed?: number;
  callbacks?: Callback[];
}

export interface FitSchedules {
  /** One lr schedule for all groups, or one per optimiser group (discriminative LRs). */
  lr: Schedule | Schedule[];
  mom: Schedule;
}

export interface FitOptions {
  /** Continue an interrupted fit: skip epochs before this one, schedules keep their positions. */
  startEpoch?: number;
}

const emptyPhases = (): EpochPhases => ({ trainData: 0, step: 0, optimizer: 0, validData: 0, validForward: 0, callbacks: 0 });

/** `source`'s items, adding the seconds spent waiting for each (and for the end) to `wait`. */
async function* timedWait<T>(source: AsyncIterable<T>, wait: (seconds: number) => void): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const t = performance.now();
      const r = await it.next();
      wait((performance.now() - t) / 1000);
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // An early stop (an exception in the loop body) hands the source's prefetched items back.
    if (!done) await it.return?.();
  }
}

/** Smoothing factor of fastai's AvgSmoothLoss. */
const SMOOTH_BETA = 0.98;

/** fastai's AvgSmoothLoss: the debiased exponential moving average of batch losses (beta 0.98). */
export class SmoothLoss {
  private avg = 0;
  private count = 0;

  /** Add a batch loss; returns the smoothed value so far. */
  add(loss: number): number {
    this.avg = SMOOTH_BETA * this.avg + (1 - SMOOTH_BETA) * loss;
    this.count += 1;
    return this.value;
  }

  get value(): number {
    return this.count === 0 ? NaN : this.avg / (1 - SMOOTH_BETA ** this.count);
  }
}

/**
 * Model + data + optimiser + loss, and the loop that trains them. It announces typed events to ordered
 * callbacks (progress bar, epoch table, checkpoints, early stopping: callbacks/) and holds no printing or
 * file I/O itself.
 */
export class Learner {
  readonly opt: Adam;
  readonly callbacks: Callback[];
  /** Set by a callback (e.g. callbacks/early-stopping.ts) to end the fit after the current epoch. */
  stopRequested = false;
  readonly history: EpochRecord[] = [];

  constructor(
    readonly model: Model,
    public dls: DataLoaders,
    readonly options: LearnerOptions = {},
  ) {
    this.opt = new Adam(model.parameters(), { wd: options.wd ?? 0.01 });
    this.callbacks = [...(options.callbacks ?? [])];
  }

  addCallback(cb: Callback): void {
    this.callbacks.push(cb);
  }

  removeCallback(name: string): void {
    const i = this.callbacks.findIndex((c) => c.name === name);
    if (i >= 0) this.callbacks.splice(i, 1);
  }

  /** Phase times of the epoch in progress (see EpochPhases); emit() adds to `callbacks`. */
  private phases: EpochPhases = emptyPhases();

  private async emit<T extends EventType>(event: EventOf<T>): Promise<void> {
    const t0 = performance.now();
    try {
      await this.emitNow(event);
    } finally {
      this.phases.callbacks += (performance.now() - t0) / 1000;
    }
  }

  private async emitNow<T extends EventType>(event: EventOf<T>): Promise<void> {
    const ordered = [...this.callbacks].sort((a, b) => a.order - b.order);
    for (const cb of ordered) {
      const handler = cb[event.type] as ((e: LearnerEvent) => void | Promise<void>) | undefined;
      if (handler) await handler.call(cb, event);
    }
  }

  private setHyper(key: keyof Hyper, sched: Schedule | Schedule[], pos: number): number {
    if (Array.isArray(sched)) {
      const values = sched.map((s) => s(pos));
      this.opt.setHyper(key, values);
      return values[values.length - 1]!;
    }
    const v = sched(pos);
    this.opt.setHyper(key, v);
    return v;
  }

  /** One optimiser step on a batch; returns the loss. Applies mixup when configured. */
  async trainStep(batch: Batch, rng = makeRng(this.options.seed ?? 0)): Promise<number> {
    const alpha = this.options.mixup ?? 0;
    let x = batch.x;
    let mix: { lambda: number; mixLabels: tf.Tensor1D } | undefined;
    let mixedX: tf.Tensor4D | undefined;
    if (alpha > 0) {
      const n = batch.x.shape[0];
      const lam = rng.beta(alpha, alpha);
      const lambda = Math.max(lam, 1 - lam);
      const perm = tf.tensor1d(rng.shuffle(Array.from({ length: n }, (_, i) => i)), "int32");
      mix = { lambda, mixLabels: tf.gather(batch.y, perm) as tf.Tensor1D };
      mixedX = tf.tidy(() => tf.add(tf.mul(batch.x, lambda), tf.mul(tf.gather(batch.x, perm), 1 - lambda)) as tf.Tensor4D);
      perm.dispose();
      x = mixedX;
    }
    const lossOpts = { labelSmoothing: this.options.labelSmoothing ?? 0, ...(mix ? { mix } : {}) };
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(this.model.forward(x, { training: true }), batch.y, lossOpts),
      this.opt.trainableVariables(),
    );
    const t = performance.now();
    this.opt.step(grads);
    this.phases.optimizer += (performance.now() - t) / 1000;
    tf.dispose(grads);
    mixedX?.dispose();
    mix?.mixLabels.dispose();
    const loss = (await value.data())[0]!;
    value.dispose();
    return loss;
  }

  /**
   * The batch step of every loop (fit, lrFind): one optimiser step on `batch` at the current
   * hyper-parameters, then free the batch's tensors. Returns the loss.
   */
  async trainBatch(batch: Batch, rng: Rng): Promise<number> {
    try {
      return await this.trainStep(batch, rng);
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }

  /** Mean loss (same loss function, no mixup) and accuracy over a split, in inference mode. */
  async validate(source: BatchSource = this.dls.valid): Promise<{ loss: number; accuracy: number }> {
    let lossSum = 0;
    let correct = 0;
    let n = 0;
    for await (const batch of timedWait(source.batches(0), (s) => (this.phases.validData += s))) {
      const t = performance.now();
      const [l, c] = tf.tidy(() => {
        const logits = this.model.forward(batch.x, { training: false });
        const loss = crossEntropy(logits, batch.y, { labelSmoothing: this.options.labelSmoothing ?? 0 });
        return [tf.mul(loss, batch.y.shape[0]), correctCount(logits, batch.y)];
      });
      // One read per batch for both numbers.
      const both = tf.stack([l, c]);
      const [batchLoss, batchCorrect] = await both.data();
      both.dispose();
      lossSum += batchLoss!;
      correct += batchCorrect!;
      n += batch.y.shape[0];
      tf.dispose([l, c, batch.x, batch.y]);
      this.phases.validForward += (performance.now() - t) / 1000;
    }
    if (n === 0) return { loss: NaN, accuracy: NaN };
    return { loss: lossSum / n, accuracy: correct / n };
  }

  /**
   * Train for `nEpochs` with hyper-parameters following `schedules` over pos in [0, 1]
   * (pos = iteration / (nEpochs * nBatches)). `startEpoch` resumes mid-schedule.
   */
  async fit(nEpochs: number, schedules: FitSchedules, opts: FitOptions = {}): Promise<EpochRecord[]> {
    const startEpoch = opts.startEpoch ?? 0;
    const nIter = this.dls.train.nBatches;
    if (nIter === 0) throw new Error("the training set yields no batches; it needs at least one image");
    const total = nEpochs * nIter;
    const records: EpochRecord[] = [];
    this.stopRequested = false;
    await this.emit({ type: "beforeFit", nEpochs, startEpoch, nBatches: nIter });
    for (let epoch = startEpoch; epoch < nEpochs && !this.stopRequested; epoch++) {
      const started = performance.now();
      this.phases = emptyPhases();
      await this.emit({ type: "beforeEpoch", epoch, nEpochs });
      const rng = makeRng(this.options.seed ?? 0, epoch, 0x6d1e);
      let iter = 0;
      const smooth = new SmoothLoss();
      let lossSum = 0;
      for await (const batch of timedWait(this.dls.train.batches(epoch), (s) => (this.phases.trainData += s))) {
        const t = performance.now();
        const pos = (epoch * nIter + iter) / total;
        const lr = this.setHyper("lr", schedules.lr, pos);
        const mom = this.setHyper("mom", schedules.mom, pos);
        const loss = await this.trainBatch(batch, rng);
        this.phases.step += (performance.now() - t) / 1000;
        const smoothLoss = smooth.add(loss);
        lossSum += loss;
        iter += 1;
        await this.emit({ type: "afterBatch", epoch, iter, nIter, pos: (epoch * nIter + iter) / total, loss, smoothLoss, lr, mom });
      }
      const smoothLoss = smooth.value;
      await this.emit({ type: "afterTrain", epoch, trainLoss: smoothLoss });
      const { loss: validLoss, accuracy } = await this.validate();
      await this.emit({ type: "afterValidate", epoch, validLoss, accuracy });
      const record: EpochRecord = {
        epoch,
        trainLoss: smoothLoss,
        trainLossMean: lossSum / Math.max(1, iter),
        validLoss,
        accuracy,
        seconds: (performance.now() - started) / 1000,
        phases: { ...this.phases },
      };
      records.push(record);
      this.history.push(record);
      await this.emit({ type: "afterEpoch", epoch, nEpochs, record, pos: ((epoch + 1) * nIter) / total });
    }
    await this.emit({ type: "afterFit", nEpochs, records, stopped: this.stopRequested });
    return records;
  }

  /** Freeze every group but the head (fine_tune's first phase). */
  freeze(): void {
    this.opt.freezeTo(-1);
  }

  unfreeze(): void {
    this.opt.freezeTo(0);
  }

  dispose(): void {
    this.opt.dispose();
  }
}
