// The pixel limit is enforced from the header, before any decoder runs or any pixel memory is allocated.
// This file never registers the codecs: if decodeImage reached a decoder it would throw "codecs are not
// registered" instead of the typed image_too_large error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, ImageError, codecsRegistered, decodeImage, preprocess, readImageHeader } from "../../shared/src/index.ts";
import { ODDIMAGES_DIR, hasOddImages, needs } from "../helpers/data.ts";

describe.skipIf(!hasOddImages)(`pixel bomb: sharp__giant-image.jpg (20000x14000) ${hasOddImages ? "" : needs("oddimages")}`, () => {
  const bytes = hasOddImages ? new Uint8Array(readFileSync(join(ODDIMAGES_DIR, "sharp__giant-image.jpg"))) : new Uint8Array();

  it("readImageHeader reports its size from the header alone", () => {
    expect(readImageHeader(bytes)).toEqual({ format: "jpeg", width: 20000, height: 14000, orientation: 1, path: "jpeg-baseline", coefficientBytes: 0 });
  });

  it("decodeImage and preprocess refuse it with image_too_large before reaching a decoder", async () => {
    expect(codecsRegistered()).toBe(false);
    for (const attempt of [
      () => decodeImage(bytes, { maxPixels: DEFAULT_PREPROCESS.maxPixels }),
      () => preprocess(bytes, DEFAULT_PREPROCESS),
    ]) {
      const err = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe("image_too_large");
      expect((err as ImageError).message).toBe(
        "the image is 20000x14000 (280 MP); the limit is 60 MP: resize it to fewer pixels or raise maxPixels",
      );
    }
  });

  it("a small image in the same unregistered process does reach the decoder step (the control)", async () => {
    const small = new Uint8Array(readFileSync(join(ODDIMAGES_DIR, "pillow__app13.jpg")));
    await expect(decodeImage(small, { maxPixels: DEFAULT_PREPROCESS.maxPixels })).rejects.toThrow(/codecs are not registered/);
  });
});
