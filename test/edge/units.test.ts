// Pure pieces of the worker: the run() mutex, softmax/top-k, vars parsing, query parsing.
import { describe, expect, it } from "vitest";
import { parseClassifyQuery, resolveTopK } from "../../edge/src/http/query.ts";
import { admitImage, networkPixels } from "../../edge/src/admit.ts";
import { ApiError } from "../../edge/src/http/errors.ts";
import { createMutex } from "../../edge/src/inference/mutex.ts";
import { softmax, topK } from "../../edge/src/inference/postprocess.ts";
import { DEFAULT_DECODE_LIMITS, DEFAULT_LIMITS, LimitsError, parseLimits, PIXEL_LIMIT_VARS } from "../../edge/src/limits.ts";
import { wranglerVars } from "./helpers/wrangler-vars.ts";
import { makePng } from "./helpers/images.ts";
import { planRequest } from "../../edge/src/classify.ts";
import { readCapped } from "../../edge/src/http/body.ts";
import { jpegSof, withJpegSize, withPngSize, withWebpSize } from "../fuzz/mutate.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../helpers/data.ts";
import { IMAGENETTE_CLASSES, defaultEdgeFor, targetSize, validateManifest } from "@resnet-edge/shared";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("createMutex", () => {
  it("never runs two tasks at once and keeps queue order", async () => {
    const m = createMutex();
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const tasks = [30, 5, 20, 0, 10].map((ms, i) =>
      m.run(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(ms);
        order.push(i);
        running--;
        return i * 2;
      }),
    );
    expect(await Promise.all(tasks)).toEqual([0, 2, 4, 6, 8]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(maxRunning).toBe(1);
    expect(m.pending).toBe(0);
  });

  it("keeps going after a task fails", async () => {
    const m = createMutex();
    const failed = m.run(async () => {
      throw new Error("boom");
    });
    const next = m.run(async () => "ok");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("ok");
  });
});

describe("softmax / topK", () => {
  it("gives probabilities that sum to 1 and survive huge logits", () => {
    const p = softmax([1000, 1001, 999]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[1]).toBeGreaterThan(p[0]!);
    expect(Math.log(p[1]! / p[0]!)).toBeCloseTo(1, 9);
  });

  it("returns the k best classes in descending order with their labels", () => {
    const logits = [0.1, 3, -2, 0.5, 2.9, 0, 0, 0, 0, 1];
    const top = topK(logits, IMAGENETTE_CLASSES, 3);
    expect(top.map((p) => p.wnid)).toEqual([IMAGENETTE_CLASSES[1]!.wnid, IMAGENETTE_CLASSES[4]!.wnid, IMAGENETTE_CLASSES[9]!.wnid]);
    expect(top[0]!.label).toBe("English springer");
    expect(top[0]!.score).toBeGreaterThan(top[1]!.score);
  });

  it("refuses logits that do not match the class list", () => {
    expect(() => topK([1, 2, 3], IMAGENETTE_CLASSES, 1)).toThrow(/3 logits but its manifest lists 10 classes/);
  });
});

describe("parseLimits", () => {
  it("uses defaults for missing vars and parses set ones", () => {
    expect(parseLimits({})).toEqual(DEFAULT_LIMITS);
    const l = parseLimits({ MAX_PIXELS_JPEG_PROGRESSIVE: "1_000_000", MAX_JPEG_COEFFICIENT_BYTES: "5000000", MAX_BATCH: "3", MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "tiny-fcn" });
    expect(l).toMatchObject({ maxBatch: 3, pollSeconds: 0, defaultModel: "tiny-fcn" });
    expect(l.decode).toEqual({ maxPixels: { ...DEFAULT_LIMITS.decode.maxPixels, "jpeg-progressive": 1_000_000 }, maxJpegCoefficientBytes: 5_000_000 });
  });

  it("one table: every decode path has its own var and default, wrangler.toml sets each to the default, and each var is read", () => {
    const paths = Object.keys(PIXEL_LIMIT_VARS).sort();
    expect(paths).toEqual(["jpeg-baseline", "jpeg-cmyk", "jpeg-progressive", "png", "png16", "webp", "webp-lossless"]);
    expect(Object.keys(DEFAULT_DECODE_LIMITS.maxPixels).sort()).toEqual(paths);
    expect(new Set(Object.values(PIXEL_LIMIT_VARS)).size).toBe(paths.length);
    const vars = wranglerVars();
    for (const [path, name] of Object.entries(PIXEL_LIMIT_VARS)) {
      expect(Number(vars[name]), name).toBe(DEFAULT_DECODE_LIMITS.maxPixels[path as keyof typeof PIXEL_LIMIT_VARS]);
      const set = parseLimits({ [name]: "12345" });
      expect(set.decode.maxPixels).toEqual({ ...DEFAULT_DECODE_LIMITS.maxPixels, [path]: 12345 });
    }
    expect(Number(vars.MAX_JPEG_COEFFICIENT_BYTES)).toBe(DEFAULT_DECODE_LIMITS.maxJpegCoefficientBytes);
    expect(Number(vars.MAX_BODY_BYTES)).toBe(DEFAULT_LIMITS.maxBodyBytes);
    expect(Number(vars.MAX_TENSOR_PIXELS)).toBe(DEFAULT_LIMITS.maxTensorPixels);
    expect(vars.HOT_SWAP).toBe(DEFAULT_LIMITS.hotSwap);
    expect(vars.MAX_PIXELS).toBeUndefined(); // the single limit is gone
  });

  it("names the var and the fix when a value is wrong", () => {
    expect(() => parseLimits({ MAX_BODY_BYTES: "ten" })).toThrow(LimitsError);
    expect(() => parseLimits({ MAX_BATCH: "0" })).toThrow(/MAX_BATCH="0" is not an integer >= 1: fix it in wrangler.toml/);
    expect(() => parseLimits({ HOT_SWAP: "fast" })).toThrow(/HOT_SWAP="fast" is not "drain" or "overlap": fix it in wrangler.toml/);
    expect(parseLimits({ HOT_SWAP: "overlap" }).hotSwap).toBe("overlap");
    expect(parseLimits({}).hotSwap).toBe("drain");
  });
});

describe("the deployed MAX_TENSOR_PIXELS (61440, edge/README.md \"Memory budget\"), checked from the header", () => {
  const deployed = parseLimits(wranglerVars());
  const manifest = validateManifest(JSON.parse(readFileSync(join(repoRoot, "models", deployed.defaultModel, "manifest.json"), "utf8")));
  const plan = (w: number, h: number, size: "default" | "native") =>
    planRequest(manifest, makePng(w, h), { size, decodeLimits: deployed.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: deployed.maxTensorPixels });

  it("is 61440", () => expect(deployed.maxTensorPixels).toBe(61_440));

  it("default size (the serving short edge, sides rounded to 32): over the cap, the short side is scaled down just enough to fit; what fits at no scale gets 413 with the fix", () => {
    // The serving edge of a width x 64 strip: the manifest's size for that aspect (sizeByAspect; its widest entry here).
    const edgeOf = (width: number) => defaultEdgeFor(manifest.preprocess, width, 64)!;
    // The widest 64-px-high image whose tensor at the serving edge fits the cap as it is (derived: the edge is the manifest's).
    const at = (width: number) => targetSize(width, 64, { mode: "shortest-edge", size: edgeOf(width), align: 32 });
    let w = 4096;
    while (at(w).width * at(w).height > 61_440) w--;
    expect(w).toBeGreaterThan(64);
    const asIs = at(w);
    expect(asIs.width * asIs.height).toBeLessThanOrEqual(61_440);
    expect(plan(w, 64, "default").tensor).toEqual(asIs);
    const over = at(3000);
    expect(over.width * over.height).toBeGreaterThan(61_440);
    const wide = plan(3000, 64, "default").tensor; // 3000x64: a 32-px-high tensor, as native would give
    expect([wide.height, wide.width * wide.height <= 61_440]).toEqual([32, true]);
    // The same fit as native: one rule for both sizes.
    expect(plan(3000, 64, "default").tensor).toEqual(plan(3000, 64, "native").tensor);
    let err: unknown;
    try {
      plan(80_000, 1, "default"); // even at one stride high it is 80000x32
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect([(err as ApiError).status, (err as ApiError).code]).toEqual([413, "image_too_large"]);
    expect((err as ApiError).message).toMatch(/80000x32 tensor \(2560000 pixels\).*at most 61440 \(MAX_TENSOR_PIXELS\): crop it/);
  });

  it("native: 320x192 is used as is; a 1200x900 photo is scaled down to fit, not refused", () => {
    expect(plan(320, 192, "native").tensor).toEqual({ width: 320, height: 192 });
    const t = plan(1200, 900, "native").tensor;
    expect(t.width * t.height).toBeLessThanOrEqual(61_440);
    expect(t.width * t.height).toBeGreaterThan(61_440 / 2);
  });
});

describe("parseClassifyQuery", () => {
  const q = (s: string) => parseClassifyQuery(new URL(`http://x/v1/classify${s}`), "tiny-fcn");
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return [(e as ApiError).status, (e as ApiError).code];
    }
    return null;
  };

  it("defaults", () => {
    expect(q("")).toEqual({ topK: undefined, model: "tiny-fcn", modelNamed: false, size: "default", tta: false });
    expect(q("?top_k=3&model=other&size=native")).toEqual({ topK: 3, model: "other", modelNamed: true, size: "native", tta: false });
    expect(q("?tta=1").tta).toBe(true);
    expect(q("?tta=0").tta).toBe(false);
  });

  it.each(["?top_k=0", "?top_k=-1", "?top_k=2.5", "?top_k=abc", "?size=huge", "?model=Bad%20Name", "?colour=red", "?top_k=1&top_k=2", "?tta=2", "?tta=yes"])(
    "%s is a 422",
    (s) => {
      expect(code(() => q(s))).toEqual([422, "invalid_query"]);
    },
  );

  it("checks top_k against the class count", () => {
    expect(resolveTopK(undefined, 10)).toBe(5);
    expect(resolveTopK(undefined, 3)).toBe(3);
    expect(resolveTopK(10, 10)).toBe(10);
    expect(code(() => resolveTopK(11, 10))).toEqual([422, "invalid_query"]);
  });
});

describe("admitImage: activations bounded, not just H*W (issue 16.1)", () => {
  const limits = { maxPixels: 2_400_000, maxTensorPixels: 240_000 };
  const refusal = (h: number, w: number) => {
    try {
      admitImage({ width: w, height: h }, { width: w, height: h }, limits);
      return null;
    } catch (e) {
      return [(e as ApiError).status, (e as ApiError).code, (e as ApiError).message];
    }
  };

  it("networkPixels is H*W when both sides are multiples of 32, and 2x the pixels for a 1-pixel strip", () => {
    for (const [h, w] of [[32, 7500 - 7500 % 32], [224, 224], [384, 608], [32, 32]] as const) expect(networkPixels(h, w)).toBe(h * w);
    expect(networkPixels(1, 240_000)).toBe(480_000);
    expect(networkPixels(240_000, 1)).toBe(480_000);
    expect(networkPixels(2, 120_000)).toBe(240_000);
    // regular odd shapes cost a few % over H*W (rounding up at each stride)
    expect(networkPixels(489, 490) / (489 * 490)).toBeLessThan(1.01);
    expect(networkPixels(33, 7272) / (33 * 7272)).toBeLessThan(1.05);
  });

  it("refuses a 1x240000 tensor (within MAX_TENSOR_PIXELS) from its size alone; accepts 600x400, 32x7500, 2x120000", () => {
    const thin = refusal(1, 240_000);
    expect(thin?.slice(0, 2)).toEqual([413, "image_too_large"]);
    expect(thin?.[2]).toMatch(/too thin.*MAX_TENSOR_PIXELS.*crop it/);
    expect(refusal(240_000, 1)?.slice(0, 2)).toEqual([413, "image_too_large"]);
    for (const [h, w] of [[400, 600], [600, 400], [32, 7500], [7500, 32], [2, 120_000], [1, 120_000], [489, 490], [33, 7272], [2, 2000]] as const) expect(refusal(h, w), `${h}x${w}`).toBeNull();
    // measured heavier than 600x400 on a fresh isolate: 83-92 MiB against 71.8
    for (const [h, w] of [[5, 48_000], [1, 150_000], [1, 180_000], [3, 80_000]] as const) expect(refusal(h, w)?.[1], `${h}x${w}`).toBe("image_too_large");
  });

  it("keeps the model's pixel cap and the MAX_TENSOR_PIXELS refusals, naming where each comes from", () => {
    expect(refusal(2000, 1300)?.[2]).toMatch(/preprocess\.maxPixels\)/);
    expect(refusal(500, 500)?.[2]).toMatch(/MAX_TENSOR_PIXELS\)/);
  });
});

describe("readCapped: the body held once", () => {
  const req = (chunks: number[][], contentLength?: number) =>
    ({
      headers: new Headers(contentLength === undefined ? {} : { "content-length": String(contentLength) }),
      body: new ReadableStream<Uint8Array>({
        start(c) {
          for (const ch of chunks) c.enqueue(new Uint8Array(ch));
          c.close();
        },
      }),
    }) as unknown as Request;

  it("fills one buffer of the declared length, and still returns every byte when the length lies either way", async () => {
    const exact = await readCapped(req([[1, 2], [3], [4, 5]], 5), 100);
    expect([...exact]).toEqual([1, 2, 3, 4, 5]);
    // the chunks are copied into one buffer of the declared size as they arrive (not kept, then joined)
    const short = await readCapped(req([[1], [2]], 9), 100);
    expect(short.buffer.byteLength).toBe(9);
    // a body in one chunk is not copied at all
    const one = await readCapped(req([[1, 2, 3, 4]], 4), 100);
    expect(one.buffer.byteLength).toBe(4);
    expect([...(await readCapped(req([[1, 2], [3, 4, 5]], 3), 100))]).toEqual([1, 2, 3, 4, 5]); // more than declared
    expect([...(await readCapped(req([[1, 2]], 9), 100))]).toEqual([1, 2]); // less than declared
    expect([...(await readCapped(req([[1, 2], [3]]), 100))]).toEqual([1, 2, 3]); // no Content-Length
  });

  it("refuses more than the limit with 413, declared or not", async () => {
    await expect(readCapped(req([[1, 2, 3]], 3), 2)).rejects.toMatchObject({ status: 413, code: "body_too_large" });
    await expect(readCapped(req([[1, 2], [3]]), 2)).rejects.toMatchObject({ status: 413, code: "body_too_large" });
    await expect(readCapped(req([[1, 2], [3]], 1), 2)).rejects.toMatchObject({ status: 413, code: "body_too_large" });
  });
});

describe("the deployed decode limits, checked from the header (edge/README.md \"Image limits per decode path\")", () => {
  const deployed = parseLimits(wranglerVars());
  const manifest = validateManifest(JSON.parse(readFileSync(join(repoRoot, "models", deployed.defaultModel, "manifest.json"), "utf8")));
  const seed = (f: string) => new Uint8Array(readFileSync(join(repoRoot, "test/fuzz/seeds", f)));
  const plan = (bytes: Uint8Array) => planRequest(manifest, bytes, { size: "default", decodeLimits: deployed.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: deployed.maxTensorPixels });
  const refusal = (bytes: Uint8Array): ApiError => {
    try {
      plan(bytes);
    } catch (e) {
      return e as ApiError;
    }
    throw new Error("accepted");
  };

  it("PNG: 1310720 pixels (1280x1024) is admitted, 1281x1024 gets 413 naming MAX_PIXELS_PNG", () => {
    expect(deployed.decode.maxPixels.png).toBe(1_310_720);
    expect(() => plan(withPngSize(seed("rgb-24x16.png"), 1280, 1024))).not.toThrow();
    const e = refusal(withPngSize(seed("rgb-24x16.png"), 1281, 1024));
    expect([e.status, e.code]).toEqual([413, "image_too_large"]);
    expect(e.message).toMatch(/1281x1024 .*PNG; the limit for a PNG is 1\.3 MP: resize it .*MAX_PIXELS_PNG/);
  });

  it("progressive JPEG decoded at 1/8 (the DC-only decoder, no coefficient buffer): limited like a baseline one, so a 4001x3050 is admitted; 8200x6200 gets 413 naming MAX_PIXELS_JPEG_BASELINE", () => {
    expect(deployed.decode.maxPixels["jpeg-baseline"]).toBe(50_000_000);
    for (const [w, h] of [[4032, 3024], [4001, 3050], [8000, 6000]]) {
      expect(() => plan(withJpegSize(seed("progressive-40x30.jpg"), h!, w!))).not.toThrow();
      expect(() => planRequest(manifest, withJpegSize(seed("progressive-40x30.jpg"), h!, w!), { size: "native", decodeLimits: deployed.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: deployed.maxTensorPixels })).not.toThrow();
    }
    const e = refusal(withJpegSize(seed("progressive-40x30.jpg"), 6200, 8200));
    expect([e.status, e.code]).toEqual([413, "image_too_large"]);
    expect(e.message).toMatch(/8200x6200 \(51 MP\) progressive JPEG decoded at 1\/8; the limit for a baseline JPEG or a progressive JPEG decoded at 1\/8 is 50 MP.*MAX_PIXELS_JPEG_BASELINE/);
  });

  it("progressive JPEG decoded by libjpeg (a recipe that needs 1/4: a model served at 512 px, no tensor cap): a 4032x3024 phone photo is admitted (12.2 MP, 34.9 MiB of coefficients); 4001x3050 gets 413 naming MAX_PIXELS_JPEG_PROGRESSIVE", () => {
    expect(deployed.decode.maxPixels["jpeg-progressive"]).toBe(12_200_000);
    expect(deployed.decode.maxJpegCoefficientBytes).toBe(35 * 2 ** 20);
    const { sizeByAspect: _, ...oneSize } = manifest.preprocess.resize;
    const at512 = { ...manifest, preprocess: { ...manifest.preprocess, resize: { ...oneSize, size: 512 } } };
    const plan512 = (bytes: Uint8Array) => planRequest(at512, bytes, { size: "default", decodeLimits: deployed.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: Infinity });
    expect(() => plan512(withJpegSize(seed("progressive-40x30.jpg"), 3024, 4032))).not.toThrow();
    let e: ApiError | null = null;
    try {
      plan512(withJpegSize(seed("progressive-40x30.jpg"), 3050, 4001));
    } catch (err) {
      e = err as ApiError;
    }
    expect([e?.status, e?.code]).toEqual([413, "image_too_large"]);
    expect(e?.message).toMatch(/4001x3050 .*progressive JPEG; the limit for a progressive JPEG is 12 MP.*MAX_PIXELS_JPEG_PROGRESSIVE/);
  });

  it("lossless WebP: 6000000 pixels (3000x2000) is admitted, 3001x2000 gets 413 naming MAX_PIXELS_WEBP_LOSSLESS; lossy WebP of that size is admitted", () => {
    expect(deployed.decode.maxPixels["webp-lossless"]).toBe(6_000_000);
    expect(() => plan(withWebpSize(seed("lossless-24x16.webp"), 3000, 2000))).not.toThrow();
    const e = refusal(withWebpSize(seed("lossless-24x16.webp"), 3001, 2000));
    expect([e.status, e.code]).toEqual([413, "image_too_large"]);
    expect(e.message).toMatch(/MAX_PIXELS_WEBP_LOSSLESS/);
    expect(() => plan(withWebpSize(seed("lossy-24x16.webp"), 3001, 2000))).not.toThrow();
  });

  /** The JPEG with a fourth component in its frame header (a CMYK frame as far as the header says). */
  const withFourComponents = (b: Uint8Array): Uint8Array => {
    const sof = jpegSof(b);
    const len = (b[sof + 2]! << 8) | b[sof + 3]!;
    const out = new Uint8Array(b.length + 3);
    out.set(b.subarray(0, sof + 2 + len), 0);
    out.set([4, 0x11, 0], sof + 2 + len); // component 4, 1x1 sampling, quant table 0
    out.set(b.subarray(sof + 2 + len), sof + 2 + len + 3);
    out[sof + 2] = (len + 3) >> 8;
    out[sof + 3] = (len + 3) & 255;
    out[sof + 9] = 4;
    return out;
  };

  it("CMYK JPEG: 600000 pixels (800x750) is admitted, 801x750 gets 413 naming MAX_PIXELS_JPEG_CMYK", () => {
    expect(deployed.decode.maxPixels["jpeg-cmyk"]).toBe(600_000);
    const cmyk = withFourComponents(seed("baseline-40x30.jpg")); // the header is all admission reads
    expect(() => plan(withJpegSize(cmyk, 750, 800))).not.toThrow();
    const e = refusal(withJpegSize(cmyk, 750, 801));
    expect([e.status, e.code]).toEqual([413, "image_too_large"]);
    expect(e.message).toMatch(/MAX_PIXELS_JPEG_CMYK/);
  });

  it("a baseline JPEG of the same size is admitted (decoded by rows, shrunk on load)", () => {
    expect(() => plan(withJpegSize(seed("baseline-40x30.jpg"), 3050, 4001))).not.toThrow();
  });
});
