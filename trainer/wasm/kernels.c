/*
 * Training kernels for tfjs-backend-wasm, in wasm SIMD (built by build.sh into kernels.wasm and
 * kernels-shared.wasm). The module has no runtime, no static data and no stack use: it imports
 * tfjs's own WebAssembly.Memory and works on tensor pointers (byte offsets into that memory), so
 * nothing is copied. Each function computes a slice of its output (a range of output channels),
 * so the caller can split one call across threads that share the memory.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/*
 * Filter gradient of y = conv2d(x, w, stride s, pads padTop/padLeft), NHWC, for output channels
 * [o_begin, o_end):
 *   dw[i, j, c, o] = sum_{n, p, q} x[n, s*p + i - padTop, s*q + j - padLeft, c] * dy[n, p, q, o]
 * (terms outside x are zero). dw is [kh, kw, Ci, Co] and is overwritten in that channel range.
 *
 * The sum over k = (n, p, q) runs in chunks of output rows (about CHUNK_K positions), so that the
 * chunk's dy and x stay in cache while every (tap, c-block, o-block) tile of dw passes over it.
 * The inner tile is 4 input channels x 8 output channels: 8 f32x4 accumulators, per k one 8-wide
 * load of dy and 4 splatted loads of x.
 */
#define CHUNK_K 256

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
/* ceil(a / b) for b > 0, any sign of a */
static inline int cdiv(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
/* floor(a / b) for b > 0, any sign of a */
static inline int fdiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

EXPORT(conv2d_filter_grad)
void conv2d_filter_grad(const float *x, const float *dy, float *dw, int N, int H, int W, int Ci, int Ho, int Wo,
                        int Co, int kh, int kw, int s, int padTop, int padLeft, int o_begin, int o_end) {
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++)
      for (int c = 0; c < Ci; c++) {
        float *d = dw + ((i * kw + j) * Ci + c) * Co;
        for (int o = o_begin; o < o_end; o++) d[o] = 0.f;
      }
  const int rows = N * Ho;
  const int rowsPerChunk = imax(1, CHUNK_K / imax(1, Wo));
  const int xStep = s * Ci;
  for (int r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const int r1 = imin(rows, r0 + rowsPerChunk);
    for (int i = 0; i < kh; i++) {
      for (int j = 0; j < kw; j++) {
        /* q range whose column s*q + j - padLeft lies in [0, W) */
        const int qLo = imin(Wo, imax(0, cdiv(padLeft - j, s)));
        const int qHi = imax(qLo, imin(Wo, fdiv(W - 1 + padLeft - j, s) + 1));
        if (qLo == qHi) continue;
        float *dwTap = dw + (i * kw + j) * Ci * Co;
        int o0 = o_begin;
        for (; o0 + 8 <= o_end; o0 += 8) {
          int c0 = 0;
          for (; c0 + 4 <= Ci; c0 += 4) {
            float *d = dwTap + c0 * Co + o0;
            v128_t a00 = wasm_v128_load(d), a01 = wasm_v128_load(d + 4);
            v128_t a10 = wasm_v128_load(d + Co), a11 = wasm_v128_load(d + Co + 4);
            v128_t a20 = wasm_v128_load(d + 2 * Co), a21 = wasm_v128_load(d + 2 * Co + 4);
            v128_t a30 = wasm_v128_load(d + 3 * Co), a31 = wasm_v128_load(d + 3 * Co + 4);
            for (int r = r0; r < r1; r++) {
              const int n = r / Ho, p = r - n * Ho;
              const int row = s * p + i - padTop;
              if (row < 0 || row >= H) continue;
              const float *xp = x + ((n * H + row) * W + s * qLo + j - padLeft) * Ci + c0;
              const float *gp = dy + (r * Wo + qLo) * Co + o0;
              for (int q = qLo; q < qHi; q++, xp += xStep, gp += Co) {
                const v128_t g0 = wasm_v128_load(gp), g1 = wasm_v128_load(gp + 4);
                v128_t b = wasm_v128_load32_splat(xp);
                a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(b, g0));
                a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(b, g1));
                b = wasm_v128_load32_splat(xp + 1);
                a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(b, g0));
                a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(b, g1));
                b = wasm_v128_load32_splat(xp + 2);
                a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(b, g0));
                a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(b, g1));
                b = wasm_v128_load32_splat(xp + 3);
                a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(b, g0));
                a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(b, g1));
              }
            }
            wasm_v128_store(d, a00); wasm_v128_store(d + 4, a01);
            wasm_v128_store(d + Co, a10); wasm_v128_store(d + Co + 4, a11);
            wasm_v128_store(d + 2 * Co, a20); wasm_v128_store(d + 2 * Co + 4, a21);
            wasm_v128_store(d + 3 * Co, a30); wasm_v128_store(d + 3 * Co + 4, a31);
          }
          for (; c0 < Ci; c0++) { /* leftover input channels: one row of 8 */
            float *d = dwTap + c0 * Co + o0;
            v128_t a0 = wasm_v128_load(d), a1 = wasm_v128_load(d + 4);
            for (int r = r0; r < r1; r++) {
              const int n = r / Ho, p = r - n * Ho;
              const int row = s * p + i - padTop;
              if (row < 0 || row >= H) continue;
              const float *xp = x + ((n * H + row) * W + s * qLo + j - padLeft) * Ci + c0;
              const float *gp = dy + (r * Wo + qLo) * Co + o0;
              for (int q = qLo; q < qHi; q++, xp += xStep, gp += Co) {
                const v128_t b = wasm_v128_load32_splat(xp);
                a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(b, wasm_v128_load(gp)));
                a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(b, wasm_v128_load(gp + 4)));
              }
            }
            wasm_v128_store(d, a0); wasm_v128_store(d + 4, a1);
          }
        }
        for (; o0 < o_end; o0++) { /* leftover output channels: scalar */
          for (int c = 0; c < Ci; c++) {
            float acc = dwTap[c * Co + o0];
            for (int r = r0; r < r1; r++) {
              const int n = r / Ho, p = r - n * Ho;
              const int row = s * p + i - padTop;
              if (row < 0 || row >= H) continue;
              const float *xp = x + ((n * H + row) * W + s * qLo + j - padLeft) * Ci + c;
              const float *gp = dy + (r * Wo + qLo) * Co + o0;
              for (int q = qLo; q < qHi; q++, xp += xStep, gp += Co) acc += *xp * *gp;
            }
            dwTap[c * Co + o0] = acc;
          }
        }
      }
    }
  }
}
