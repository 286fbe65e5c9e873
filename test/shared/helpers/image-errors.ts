// The typed-error assertions the decoder tests share: a promise that must reject with an ImageError of a code.
import { expect } from "vitest";
import { ImageError, type ImageErrorCode } from "../../../shared/src/index.ts";

/** What the promise rejected with, or null when it resolved. */
export async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

/** The ImageError the promise rejects with; fails the test (showing the message) unless it has `code`. */
export async function expectImageError(p: Promise<unknown>, code: ImageErrorCode): Promise<ImageError> {
  const err = await errorOf(p);
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).code, (err as Error).message).toBe(code);
  return err as ImageError;
}
