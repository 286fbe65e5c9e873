/**
 * A promise-chain mutex: tasks run one at a time, in the order they were queued. A failed task does
 * not poison the queue. The onnxruntime-web wasm backend is not re-entrant, so every call into it
 * (session create, run, release) goes through one of these.
 */
export interface Mutex {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks queued or running right now. */
  readonly pending: number;
}

export function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  let pending = 0;
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      pending++;
      const result = tail.then(task).finally(() => {
        pending--;
      });
      tail = result.catch(() => undefined);
      return result;
    },
    get pending() {
      return pending;
    },
  };
}
