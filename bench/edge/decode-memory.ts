// Memory the shared decoders keep after decoding one image at the default serving size, in a fresh
// process (wasm memories never shrink): node --expose-gc --import tsx bench/edge/decode-memory.ts <WxH> [jpeg|png]
// Prints arrayBuffers (which includes wasm memories) before and after, after a full GC.
import { DEFAULT_PREPROCESS, preprocess } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { makeJpeg, makePng } from "../../test/edge/helpers/images.ts";

const [w, h] = process.argv[2]!.split("x").map(Number) as [number, number];
const format = process.argv[3] ?? "jpeg";
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
await initCodecs();
const bytes = format === "png" ? makePng(w, h) : await makeJpeg(w, h);
const warm = await makeJpeg(8, 8);
await preprocess(warm, DEFAULT_PREPROCESS); // instantiate the decoder first
gc();
const before = process.memoryUsage().arrayBuffers;
let peak = before;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
const r = await preprocess(bytes, { ...DEFAULT_PREPROCESS, maxPixels: 50_000_000 });
peak = Math.max(peak, process.memoryUsage().arrayBuffers);
clearInterval(timer);
const withResult = process.memoryUsage().arrayBuffers;
gc();
const after = process.memoryUsage().arrayBuffers;
const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
console.log(JSON.stringify({ image: `${w}x${h} ${format}`, pixels: w * h, bytes: bytes.length, tensor: r.dims, retainedMiB: MiB(after - before), withResultMiB: MiB(withResult - before), bytesPerPixelRetained: ((after - before) / (w * h)).toFixed(2) }));
