/**
 * What the training loop announces, in order, to its callbacks:
 * beforeFit -> (beforeEpoch -> afterBatch* -> afterTrain -> afterValidate -> afterEpoch)* -> afterFit
 */
export interface EpochRecord {
  epoch: number;
  /** fastai's train_loss: the exponentially smoothed loss at the end of the epoch. */
  trainLoss: number;
  /** Plain mean of the batch losses over the epoch. */
  trainLossMean: number;
  validLoss: number;
  accuracy: number;
  seconds: number;
  /** Where the epoch's wall time went (seconds); absent in records written before it was measured. */
  phases?: EpochPhases;
  /** The run's stage (0 = the first --size stage) and its size; absent in records written before they were kept. */
  stage?: number;
  size?: number;
  /** When the epoch ended (ISO time). */
  endedAt?: string;
}

/**
 * Wall seconds of one epoch by phase. The data phases are the time the loop waited for the next batch
 * (what prefetching did not hide); `callbacks` is every event handler up to afterValidate (afterEpoch's,
 * e.g. the checkpoint, run after the record is made: bench/train/epoch.ts times that one itself).
 */
export interface EpochPhases {
  trainData: number;
  step: number;
  /**
   * The optimiser update, a part of `step`. Kernels on the wasm and cpu backends run when called, so this is
   * their time; on an asynchronous backend (webgpu) it is only the time to issue them.
   */
  optimizer: number;
  validData: number;
  validForward: number;
  callbacks: number;
}

export type LearnerEvent =
  | { type: "beforeFit"; nEpochs: number; startEpoch: number; nBatches: number }
  | { type: "beforeEpoch"; epoch: number; nEpochs: number }
  | { type: "afterBatch"; epoch: number; iter: number; nIter: number; pos: number; loss: number; smoothLoss: number; lr: number; mom: number }
  | { type: "afterTrain"; epoch: number; trainLoss: number }
  | { type: "afterValidate"; epoch: number; validLoss: number; accuracy: number }
  | { type: "afterEpoch"; epoch: number; nEpochs: number; record: EpochRecord; pos: number }
  | { type: "afterFit"; nEpochs: number; records: EpochRecord[]; stopped: boolean };

export type EventType = LearnerEvent["type"];
export type EventOf<T extends EventType> = Extract<LearnerEvent, { type: T }>;

/** A callback reacts to some events; lower `order` runs first (fastai's Callback.order). */
export type Callback = {
  name: string;
  order: number;
} & { [T in EventType]?: (event: EventOf<T>) => void | Promise<void> };
