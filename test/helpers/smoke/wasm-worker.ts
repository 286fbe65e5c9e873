import jpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
export default { async fetch() { return new Response(String(jpegWasm instanceof WebAssembly.Module)); } };
