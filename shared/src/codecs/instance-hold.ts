/**
 * Decoder instances across the images of one request.
 *
 * Each wasm decoder (libjpeg-turbo, libwebp, the PNG crate) drops its instance after a decode that grew its
 * memory past a threshold, so that one large image does not pin that memory for the life of the isolate (wasm
 * memory never shrinks). A dropped instance's memory is freed only when V8 collects it, and that does not
 * happen between the images of one request: a batch of three 12 MP progressive JPEGs left three ~37 MiB
 * libjpeg instances alive at once (211 MiB for the isolate, measured in workerd with
 * bench/edge/isolate-memory.ts), where one reused instance needs 37.
 *
 * Inside `holdDecoderInstances`, a decode that succeeds keeps its grown instance for the next image; when the
 * last hold ends, every decoder drops an instance that is over its threshold, as it would have after each
 * decode. A failed decode still drops its instance at once (its heap may hold the failed call's allocations).
 * Decodes are synchronous, so concurrent requests in one isolate simply share the held instance.
 */
let holds = 0;
const releases = new Set<() => void>();

/** Called by each decoder at load: `release` drops its instance if that is over its threshold. */
export function onHoldEnd(release: () => void): void {
  releases.add(release);
}

/** Whether a hold is active: decoders then keep a grown instance after a successful decode. */
export function instancesHeld(): boolean {
  return holds > 0;
}

/** Run `fn` (the decodes of one request) reusing grown decoder instances; drop them when the last hold ends. */
export async function holdDecoderInstances<T>(fn: () => Promise<T>): Promise<T> {
  holds++;
  try {
    return await fn();
  } finally {
    holds--;
    if (holds === 0) for (const release of releases) release();
  }
}
