import { describe, expect, test } from "vitest";
import { boundaryOf, indexOfBytes, MultipartError, parseMultipart, type FormFile } from "../../edge/src/http/multipart.ts";

/** A real multipart body, as a client (undici's FormData serialiser) writes it. */
async function encode(form: FormData): Promise<{ body: Uint8Array; contentType: string }> {
  const req = new Request("http://x/", { method: "POST", body: form });
  return { body: new Uint8Array(await req.arrayBuffer()), contentType: req.headers.get("content-type")! };
}

const bytes = (n: number, seed: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + (i >> 7)) & 255);
const enc = new TextEncoder();

describe("multipart/form-data over the body buffer", () => {
  test("files and text fields of a client-written body come back byte for byte, as views into the body", async () => {
    const a = bytes(70_001, 1);
    const b = enc.encode("line\r\n--not-the-boundary\r\n\r\nmore");
    const form = new FormData();
    form.append("image", new Blob([a], { type: "image/jpeg" }), "a.jpg");
    form.append("label", "parachute ünïcode");
    form.append("image", new Blob([b]), 'we"ird name.png');
    form.append("image", new Blob([]), "empty.png");
    const { body, contentType } = await encode(form);
    const parsed = parseMultipart(body, boundaryOf(contentType));
    expect(parsed.size).toBe(4);
    const images = parsed.getAll("image") as FormFile[];
    expect(images.map((f) => f.filename)).toEqual(["a.jpg", expect.stringContaining("ird name.png"), "empty.png"]);
    expect(images[0]!.contentType).toBe("image/jpeg");
    expect(images[0]!.bytes).toEqual(a);
    expect(images[1]!.bytes).toEqual(b);
    expect(images[2]!.bytes.byteLength).toBe(0);
    expect(parsed.get("label")).toBe("parachute ünïcode");
    expect(parsed.get("nope")).toBeNull();
    // No copy: the part is a window on the body's own buffer.
    expect(images[0]!.bytes.buffer).toBe(body.buffer);
  });

  test("quoted boundary, preamble, epilogue, transport padding, a part without headers", () => {
    const boundary = boundaryOf('multipart/form-data; boundary="b x:1"; charset=utf-8');
    expect(boundary).toBe("b x:1");
    const body = enc.encode(
      'preamble text\r\n--b x:1\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n\r\nPNGDATA\r\n--b x:1  \r\nContent-Disposition: form-data; name="label"\r\n\r\ncat\r\n--b x:1--\r\nepilogue',
    );
    const form = parseMultipart(body, boundary);
    expect((form.get("image") as FormFile).bytes).toEqual(enc.encode("PNGDATA"));
    expect(form.get("label")).toBe("cat");
    // A part with no headers has no name: refused, not guessed.
    expect(() => parseMultipart(enc.encode("--b\r\n\r\nno headers\r\n--b--"), "b")).toThrow(/Content-Disposition/);
    const ok = enc.encode('--zz\r\nContent-Disposition: form-data; name=label\r\n\r\ndog\r\n--zz--');
    expect(parseMultipart(ok, boundaryOf("multipart/form-data; boundary=zz")).get("label")).toBe("dog");
  });

  test("what is not a complete form-data body is a MultipartError with the reason", () => {
    const good = enc.encode('--q\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\nabc\r\n--q--\r\n');
    expect((parseMultipart(good, "q").get("image") as FormFile).bytes).toEqual(enc.encode("abc"));
    expect(() => parseMultipart(good.subarray(0, good.length - 9), "q")).toThrow(/ends before the closing boundary/);
    expect(() => parseMultipart(good, "other")).toThrow(/does not contain the boundary/);
    expect(() => parseMultipart(enc.encode("--q\r\nContent-Disposition: form-data; name=\"a\""), "q")).toThrow(/headers do not end/);
    expect(() => parseMultipart(enc.encode("--q\r\nX-Other: 1\r\n\r\nabc\r\n--q--"), "q")).toThrow(/Content-Disposition/);
    expect(() => parseMultipart(enc.encode("--qjunk\r\n"), "q")).toThrow(/not followed by a line break/);
    expect(() => boundaryOf("multipart/form-data")).toThrow(MultipartError);
    expect(() => boundaryOf(`multipart/form-data; boundary=${"x".repeat(71)}`)).toThrow(/1-70/);
    const many = "--q\r\n" + 'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n--q\r\n'.repeat(1001) + 'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n--q--';
    expect(() => parseMultipart(enc.encode(many), "q")).toThrow(/more than 1000 parts/);
  });

  test("indexOfBytes agrees with a naive search", () => {
    const hay = bytes(5000, 3);
    for (const [at, n] of [[0, 1], [17, 5], [4990, 10], [1234, 40]] as const) {
      const needle = hay.slice(at, at + n);
      let naive = -1;
      for (let i = 0; i + n <= hay.length && naive < 0; i++) if (hay.subarray(i, i + n).every((v, j) => v === needle[j])) naive = i;
      expect(indexOfBytes(hay, needle)).toBe(naive);
    }
    expect(indexOfBytes(hay, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))).toBe(-1);
  });
});
