// Issue 11 item 4: the TTA views shared computes from one decode (what ?tta=1 and the trainer's tta run).
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage, DEFAULT_PREPROCESS, preprocess, preprocessImage, resize, shiftOf, TTA_VIEWS, type PreprocessConfig, type RawImage } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { makePng } from "../edge/helpers/images.ts";

function image(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) | 0) * 11) % 251;
  return { data, width, height, channels: 3 };
}

const cfg: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64, align: 32 }, crop: null };

beforeAll(async () => {
  await initCodecs();
});

describe("TTA views", () => {
  it.each(["NCHW", "NHWC"] as const)("center is the main tensor, flip mirrors it, shifts keep its shape and differ (%s)", (layout) => {
    const img = image(150, 97);
    const out = preprocessImage(img, cfg, { layout, views: TTA_VIEWS });
    expect(out.views!.map((v) => v.view)).toEqual(["center", "flip", "shift-tl", "shift-br"]);
    const [center, flip, tl, br] = out.views!;
    expect(center!.data).toEqual(out.data);
    const [h, w] = layout === "NCHW" ? [out.dims[2], out.dims[3]] : [out.dims[1], out.dims[2]];
    expect([h, w]).toEqual([64, 96]);
    const at = (d: Float32Array, c: number, y: number, x: number) => (layout === "NCHW" ? d[(c * h + y) * w + x]! : d[(y * w + x) * 3 + c]!);
    for (const [c, y, x] of [[0, 0, 0], [1, 10, 3], [2, 63, 95], [0, 31, 50]] as const) expect(at(flip!.data, c, y, x)).toBe(at(out.data, c, y, w - 1 - x));
    for (const v of [tl!, br!]) {
      expect(v.dims).toEqual(out.dims);
      expect(v.data).not.toEqual(out.data);
    }
    expect(tl!.data).not.toEqual(br!.data);
  });

  it("shift-tl is the top-left window of the image resized shiftOf() pixels larger (independent of preprocess's own path)", () => {
    const img = image(150, 97);
    const d = shiftOf(96, 64);
    expect(d).toBe(8);
    const big = resize(img, 96 + d, 64 + d);
    const tl = preprocessImage(img, cfg, { views: ["shift-tl"] }).views![0]!;
    // the red channel of pixel (x, y) of the window equals the big image's (x, y) after normalisation
    for (const [y, x] of [[0, 0], [5, 7], [63, 95]] as const) {
      const v = big.data[(y * big.width + x) * 3]! / 255;
      expect(tl.data[y * 96 + x]).toBeCloseTo((v - cfg.mean[0]) / cfg.std[0], 5);
    }
  });

  it("preprocess(bytes) returns the same views as preprocessImage on the decoded pixels, without views when none are asked", async () => {
    const png = makePng(80, 120);
    const a = await preprocess(png, cfg, { views: TTA_VIEWS });
    const b = preprocessImage(await decodeImage(png, { maxPixels: 1e6 }), cfg, { views: TTA_VIEWS });
    expect(a.views!.map((v) => v.data)).toEqual(b.views!.map((v) => v.data));
    expect((await preprocess(png, cfg)).views).toBeUndefined();
  });
});
