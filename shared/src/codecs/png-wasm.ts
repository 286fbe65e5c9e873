/**
 * One instance of @jsquash/png's squoosh_png_bg.wasm (the Rust `png` crate) with the small wasm-bindgen
 * glue it imports, so that we can create a fresh instance whenever we want. The package's own glue
 * (codec/pkg/squoosh_png.js) keeps a single instance per JS realm forever: its memory only grows, and a
 * failed decode (a Rust panic surfaces as a thrown "unwrap_throw failed") leaks the input copy. Owning the
 * instance lets decodePng drop it after a failure or a large image, like the JPEG decoder does.
 *
 * The import names below are those of @jsquash/png 3.1.1 (pinned in shared/package.json); another build
 * would fail loudly at instantiation with a LinkError naming the missing import.
 */
interface PngExports {
  memory: WebAssembly.Memory;
  decode(ptr: number, len: number): number;
  decode_rgba16(ptr: number, len: number): number;
  imagedatargba16_width(handle: number): number;
  imagedatargba16_height(handle: number): number;
  imagedatargba16_data(handle: number): number;
  __wbg_imagedatargba16_free(handle: number): void;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
}

export interface PngPixels<T extends Uint8Array | Uint16Array> {
  data: T;
  width: number;
  height: number;
}

/** wasm-bindgen's JS object table: slots below 132 are reserved (128-131 hold undefined, null, true, false). */
class ObjectTable {
  private readonly slots: unknown[] = [...new Array(128).fill(undefined), undefined, null, true, false];
  private next = this.slots.length;

  add(value: unknown): number {
    if (this.next === this.slots.length) this.slots.push(this.slots.length + 1);
    const index = this.next;
    this.next = this.slots[index] as number;
    this.slots[index] = value;
    return index;
  }

  take(index: number): unknown {
    const value = this.slots[index];
    if (index >= 132) {
      this.slots[index] = this.next;
      this.next = index;
    }
    return value;
  }

  get(index: number): unknown {
    return this.slots[index];
  }
}

export class PngWasmInstance {
  private readonly exports: PngExports;
  private readonly objects = new ObjectTable();

  constructor(module: WebAssembly.Module) {
    const objects = this.objects;
    const memory = (): WebAssembly.Memory => this.exports.memory;
    const wbg = {
      __wbindgen_memory: () => objects.add(memory()),
      __wbg_buffer_a448f833075b71ba: (m: number) => objects.add((objects.get(m) as WebAssembly.Memory).buffer),
      __wbg_newwithbyteoffsetandlength_099217381c451830: (buffer: number, offset: number, length: number) =>
        objects.add(new Uint16Array(objects.get(buffer) as ArrayBuffer, offset >>> 0, length >>> 0)),
      __wbindgen_object_drop_ref: (index: number) => void objects.take(index),
      __wbg_newwithownedu8clampedarrayandsh_91db5987993a08fb: (ptr: number, len: number, width: number, height: number) => {
        const data = new Uint8Array(memory().buffer, ptr >>> 0, len).slice();
        this.exports.__wbindgen_free(ptr, len, 1);
        return objects.add({ data, width: width >>> 0, height: height >>> 0 });
      },
      __wbindgen_throw: (ptr: number, len: number) => {
        throw new Error(new TextDecoder().decode(new Uint8Array(memory().buffer, ptr >>> 0, len)));
      },
    };
    this.exports = new WebAssembly.Instance(module, { wbg }).exports as unknown as PngExports;
  }

  /** Bytes of wasm memory this instance holds (it never shrinks). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  private pass(bytes: Uint8Array): number {
    const ptr = this.exports.__wbindgen_malloc(bytes.length, 1) >>> 0;
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  /** Any PNG expanded to 8-bit RGBA (16-bit samples truncated: use decodeRgba16 for those). */
  decodeRgba8(bytes: Uint8Array): PngPixels<Uint8Array> {
    const handle = this.exports.decode(this.pass(bytes), bytes.length);
    return this.objects.take(handle) as PngPixels<Uint8Array>;
  }

  /** Any PNG expanded to 16-bit RGBA, copied out of wasm memory. */
  decodeRgba16(bytes: Uint8Array): PngPixels<Uint16Array> {
    const handle = this.exports.decode_rgba16(this.pass(bytes), bytes.length) >>> 0;
    try {
      const width = this.exports.imagedatargba16_width(handle) >>> 0;
      const height = this.exports.imagedatargba16_height(handle) >>> 0;
      const view = this.objects.take(this.exports.imagedatargba16_data(handle)) as Uint16Array;
      return { data: view.slice(), width, height };
    } finally {
      this.exports.__wbg_imagedatargba16_free(handle);
    }
  }
}
