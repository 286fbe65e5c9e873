// multipart/form-data (RFC 7578) parsed over the one body buffer: every part's content is a view into the
// body, not a copy. workerd's Request.formData() held a batch about three times (the body, the form's Files,
// and each File's arrayBuffer()), ~62 MiB of JS for a 12.6 MB batch (BENCHMARKS.md, issue 16); this holds it
// once. Only what form-data needs: a boundary, parts with a Content-Disposition name and an optional filename.

/** A file field: the part had a filename parameter (as browsers and curl -F name=@file send). */
export interface FormFile {
  readonly kind: "file";
  readonly filename: string;
  readonly contentType: string | null;
  /** A view into the request body. */
  readonly bytes: Uint8Array;
}

export type FormValue = FormFile | string;

export class MultipartError extends Error {}

export class MultipartForm {
  constructor(private readonly fields: ReadonlyArray<readonly [string, FormValue]>) {}
  get(name: string): FormValue | null {
    return this.fields.find(([n]) => n === name)?.[1] ?? null;
  }
  getAll(name: string): FormValue[] {
    return this.fields.filter(([n]) => n === name).map(([, v]) => v);
  }
  get size(): number {
    return this.fields.length;
  }
}

const MAX_BOUNDARY = 70; // RFC 2046
const MAX_HEADER_BYTES = 16 * 1024; // one part's header block
const MAX_PARTS = 1000;
const CRLF = [13, 10];
const BLANK_LINE = Uint8Array.of(13, 10, 13, 10);

/** The boundary parameter of a multipart/form-data Content-Type. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const b = m ? (m[1] ?? m[2] ?? "") : "";
  if (b === "") throw new MultipartError("the Content-Type has no boundary parameter");
  if (b.length > MAX_BOUNDARY || /[^\x20-\x7e]/.test(b)) throw new MultipartError(`the boundary is not a valid multipart boundary (1-${MAX_BOUNDARY} printable ASCII characters)`);
  return b;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** First index of `needle` in `hay` at or after `from` (Boyer-Moore-Horspool), or -1. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const n = needle.length;
  if (n === 0) return from;
  const skip = new Int32Array(256).fill(n);
  for (let i = 0; i < n - 1; i++) skip[needle[i]!] = n - 1 - i;
  const last = needle[n - 1]!;
  for (let i = from; i + n <= hay.length; ) {
    const c = hay[i + n - 1]!;
    if (c === last) {
      let j = n - 2;
      while (j >= 0 && hay[i + j] === needle[j]) j--;
      if (j < 0) return i;
    }
    i += skip[c]!;
  }
  return -1;
}

/** name="..." / filename="..." of a Content-Disposition value (quoted, with backslash escapes, or a token). */
function dispositionParam(value: string, param: string): string | null {
  const re = new RegExp(`;\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i");
  const m = re.exec(value);
  if (!m) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? "");
}

const utf8 = new TextDecoder("utf-8");

function parseHeaders(block: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  // Header values are read as UTF-8 (browsers send file names so); a line without a colon is damage.
  for (const line of utf8.decode(block).split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MultipartError(`a part header line has no name: ${JSON.stringify(line.slice(0, 40))}`);
    out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

/** Parse `body` (the whole request body) as multipart/form-data with `boundary`. Parts are views into `body`. */
export function parseMultipart(body: Uint8Array, boundary: string): MultipartForm {
  const dash = ascii(`--${boundary}`);
  const delimiter = ascii(`\r\n--${boundary}`);
  // The first boundary may open the body (no preamble) or follow a preamble and a CRLF.
  let at = startsWith(body, dash, 0) ? 0 : indexOfBytes(body, delimiter, 0);
  if (at < 0) throw new MultipartError("the body does not contain the boundary from its Content-Type");
  at += at === 0 && startsWith(body, dash, 0) ? dash.length : delimiter.length;
  const fields: [string, FormValue][] = [];
  for (;;) {
    if (body[at] === 45 && body[at + 1] === 45) return new MultipartForm(fields); // "--": the close delimiter
    // Transport padding, then CRLF.
    while (body[at] === 32 || body[at] === 9) at++;
    if (body[at] !== CRLF[0] || body[at + 1] !== CRLF[1]) throw new MultipartError("a boundary line is not followed by a line break");
    at += 2;
    let headers: Map<string, string>;
    let contentAt: number;
    if (body[at] === 13 && body[at + 1] === 10) {
      headers = new Map(); // a part with no headers at all
      contentAt = at + 2;
    } else {
      const headerEnd = indexOfBytes(body.subarray(0, Math.min(body.length, at + MAX_HEADER_BYTES)), BLANK_LINE, at);
      if (headerEnd < 0) throw new MultipartError(`a part's headers do not end (no blank line within ${MAX_HEADER_BYTES} bytes)`);
      headers = parseHeaders(body.subarray(at, headerEnd));
      contentAt = headerEnd + 4;
    }
    const next = indexOfBytes(body, delimiter, contentAt);
    if (next < 0) throw new MultipartError("the body ends before the closing boundary (truncated upload?)");
    const disposition = headers.get("content-disposition");
    if (!disposition || !/^form-data\b/i.test(disposition)) throw new MultipartError('a part has no "Content-Disposition: form-data" header');
    const name = dispositionParam(disposition, "name");
    if (name === null) throw new MultipartError("a part's Content-Disposition has no name");
    const filename = dispositionParam(disposition, "filename");
    const content = body.subarray(contentAt, next);
    fields.push([name, filename !== null ? { kind: "file", filename, contentType: headers.get("content-type") ?? null, bytes: content } : utf8.decode(content)]);
    if (fields.length > MAX_PARTS) throw new MultipartError(`the body has more than ${MAX_PARTS} parts`);
    at = next + delimiter.length;
  }
}

function startsWith(hay: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > hay.length) return false;
  for (let i = 0; i < needle.length; i++) if (hay[at + i] !== needle[i]) return false;
  return true;
}
