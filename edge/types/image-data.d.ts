// workers-types has no DOM ImageData, but the shared decoders (@jsquash) name it in their types. The
// worker never constructs one; this is the shape the decoders return.
interface ImageData {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly colorSpace?: string;
}
