/**
 * Keep up to `depth` items of an async iterable in flight ahead of the consumer, so whatever in the
 * producer is truly asynchronous (file reads, decoders that yield) overlaps the consumer's work. When
 * the consumer stops early, items already produced are handed to `dispose`.
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number, dispose: (item: T) => void): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  const fill = (): void => {
    while (queue.length < depth + 1) queue.push(it.next());
  };
  let finished = false;
  try {
    for (;;) {
      fill();
      const r = await queue.shift()!;
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) {
      for (const p of queue) {
        const r = await p.catch(() => null);
        if (r && !r.done) dispose(r.value);
      }
      await it.return?.();
    }
  }
}
