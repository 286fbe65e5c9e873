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
 * acc + a * b, the convolutions' multiply-add. Built with -DRELAXED_MADD (kernels-relaxed.wasm,
 * kernels-shared-relaxed.wasm) it is one f32x4.relaxed_madd, a fused multiply-add on CPUs with FMA
 * (relaxed-SIMD proposal; Node 20's V8 needs --experimental-wasm-relaxed-simd, set by the loader).
 * clang 14 knows the instruction only by its prototype name and opcode (__builtin_wasm_fma_f32x4,
 * 0xfd 0xaf 0x01); build.sh rewrites that opcode to the standard relaxed_madd (0xfd 0x85 0x02), which
 * computes op1 * op2 + op3: so the accumulator is passed last. Without it, a separate mul and add.
 */
#ifdef RELAXED_MADD
#define MADD(acc, a, b) __builtin_wasm_fma_f32x4((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

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
                a00 = MADD(a00, b, g0);
                a01 = MADD(a01, b, g1);
                b = wasm_v128_load32_splat(xp + 1);
                a10 = MADD(a10, b, g0);
                a11 = MADD(a11, b, g1);
                b = wasm_v128_load32_splat(xp + 2);
                a20 = MADD(a20, b, g0);
                a21 = MADD(a21, b, g1);
                b = wasm_v128_load32_splat(xp + 3);
                a30 = MADD(a30, b, g0);
                a31 = MADD(a31, b, g1);
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
                a0 = MADD(a0, b, wasm_v128_load(gp));
                a1 = MADD(a1, b, wasm_v128_load(gp + 4));
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

/*
 * BatchNorm's per-channel sums over the rows of an [M, C] matrix (NHWC with M = N*H*W), for rows
 * [r_begin, r_end): each thread streams its own rows whole (channels inner, vectorised) and writes
 * its partial sums to its own slot of `partials` (slot * stride floats on, stride = 2 * cp, cp = C
 * rounded up to 16 floats so no two threads share a cache line); the caller adds the slots up. (Split
 * by channels instead, each thread read every row and the threads' running sums shared cache lines:
 * slower on 2 threads than on 1.) Rows are summed in blocks of ROW_BLOCK into the slot's second half
 * and the block sums added to the totals: shorter float sums than one running total over M rows.
 */
#define ROW_BLOCK 256

static inline void zero(float *p, int n) {
  for (int k = 0; k < n; k++) p[k] = 0.f;
}

/* t[k] += s[k] for k < n */
static inline void add_into(float *t, const float *s, int n) {
  int k = 0;
  for (; k + 4 <= n; k += 4) wasm_v128_store(t + k, wasm_f32x4_add(wasm_v128_load(t + k), wasm_v128_load(s + k)));
  for (; k < n; k++) t[k] += s[k];
}

/*
 * mean == 0: partial[c] = sum_r x[r, c]; otherwise partial[c] = sum_r (x[r, c] - mean[c])^2 (the
 * variance's second pass). Slot layout: [C partial sums | pad to cp | C block sums | pad].
 */
EXPORT(bn_partial_moments)
void bn_partial_moments(const float *x, int M, int C, int cp, const float *mean, float *partials, int r_begin, int r_end, int slot) {
  (void)M;
  float *total = partials + (long)slot * 2 * cp, *blk = total + cp;
  zero(total, C);
  for (int r0 = r_begin; r0 < r_end; r0 += ROW_BLOCK) {
    const int r1 = imin(r_end, r0 + ROW_BLOCK);
    zero(blk, C);
    for (int r = r0; r < r1; r++) {
      const float *row = x + (long)r * C;
      if (!mean) {
        add_into(blk, row, C);
        continue;
      }
      int k = 0;
      for (; k + 4 <= C; k += 4) {
        const v128_t d = wasm_f32x4_sub(wasm_v128_load(row + k), wasm_v128_load(mean + k));
        wasm_v128_store(blk + k, wasm_f32x4_add(wasm_v128_load(blk + k), wasm_f32x4_mul(d, d)));
      }
      for (; k < C; k++) {
        const float d = row[k] - mean[k];
        blk[k] += d * d;
      }
    }
    add_into(total, blk, C);
  }
}

/*
 * partial sum_dy[c] = sum_r dy[r, c] and sum_dyx[c] = sum_r dy[r, c] * x[r, c] over this thread's
 * rows (one pass over both). Slot layout (stride 4 * cp): [sum_dy | sum_dyx | block sum_dy | block sum_dyx].
 */
EXPORT(bn_partial_grad_sums)
void bn_partial_grad_sums(const float *dy, const float *x, int M, int C, int cp, float *partials, int r_begin, int r_end, int slot) {
  (void)M;
  float *sa = partials + (long)slot * 4 * cp, *sb = sa + cp, *ba = sb + cp, *bb = ba + cp;
  zero(sa, C);
  zero(sb, C);
  for (int r0 = r_begin; r0 < r_end; r0 += ROW_BLOCK) {
    const int r1 = imin(r_end, r0 + ROW_BLOCK);
    zero(ba, C);
    zero(bb, C);
    for (int r = r0; r < r1; r++) {
      const float *g = dy + (long)r * C;
      const float *xr = x + (long)r * C;
      int k = 0;
      for (; k + 4 <= C; k += 4) {
        const v128_t gv = wasm_v128_load(g + k);
        wasm_v128_store(ba + k, wasm_f32x4_add(wasm_v128_load(ba + k), gv));
        wasm_v128_store(bb + k, wasm_f32x4_add(wasm_v128_load(bb + k), wasm_f32x4_mul(gv, wasm_v128_load(xr + k))));
      }
      for (; k < C; k++) {
        ba[k] += g[k];
        bb[k] += g[k] * xr[k];
      }
    }
    add_into(sa, ba, C);
    add_into(sb, bb, C);
  }
}

/*
 * out[r, c] = a[r, c] * ka[c] + b[r, c] * kb[c] + bias[c] for rows [r_begin, r_end) (b may be 0:
 * then out = a * ka + bias). The BatchNorm forward (a = x) and its input gradient (a = dy, b = x).
 */
EXPORT(channel_affine)
void channel_affine(const float *a, const float *b, const float *ka, const float *kb, const float *bias, float *out,
                    int M, int C, int r_begin, int r_end) {
  (void)M;
  const int vn = C / 4;
  for (int r = r_begin; r < r_end; r++) {
    const float *ar = a + (long)r * C;
    float *o = out + (long)r * C;
    if (b) {
      const float *br = b + (long)r * C;
      for (int v = 0; v < vn; v++) {
        const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(ar + 4 * v), wasm_v128_load(ka + 4 * v)),
                                        wasm_f32x4_mul(wasm_v128_load(br + 4 * v), wasm_v128_load(kb + 4 * v)));
        wasm_v128_store(o + 4 * v, wasm_f32x4_add(t, wasm_v128_load(bias + 4 * v)));
      }
      for (int k = 4 * vn; k < C; k++) o[k] = ar[k] * ka[k] + br[k] * kb[k] + bias[k];
    } else {
      for (int v = 0; v < vn; v++)
        wasm_v128_store(o + 4 * v, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(ar + 4 * v), wasm_v128_load(ka + 4 * v)),
                                                  wasm_v128_load(bias + 4 * v)));
      for (int k = 4 * vn; k < C; k++) o[k] = ar[k] * ka[k] + bias[k];
    }
  }
}

/*
 * AvgPool gradient, NHWC, windows that do not overlap (kh <= sh, kw <= sw; ResNet's shortcut pool:
 * 2x2, stride 2), images [n_begin, n_end): dx (overwritten) gets dy[n, p, q, c] / count(p, q) in each
 * in-bounds cell of window (p, q), count being the window's in-bounds cells (what AvgPool divides by
 * with 'same' padding, and PyTorch's ceil_mode with padding 0), and zero in the cells of no window.
 * tfjs's own AvgPoolGrad (wasm and cpu) divides by kh * kw everywhere, which is not the gradient of
 * its forward pass on a window cut by the edge (an odd map: 1/4 where it should be 1/2 or 1).
 */
EXPORT(avgpool_grad)
void avgpool_grad(const float *dy, float *dx, int N, int H, int W, int C, int Ho, int Wo, int kh, int kw, int sh, int sw,
                  int padTop, int padLeft, int n_begin, int n_end) {
  for (int n = n_begin; n < n_end; n++) {
    for (int r = 0; r < H; r++) {
      const int p = (r + padTop) / sh, i = r + padTop - p * sh;
      const int r0 = p * sh - padTop;
      const int rows = imin(H, r0 + kh) - imax(0, r0);
      float *dxr = dx + ((long)n * H + r) * W * C;
      for (int col = 0; col < W; col++) {
        const int q = (col + padLeft) / sw, j = col + padLeft - q * sw;
        float *d = dxr + (long)col * C;
        if (p >= Ho || i >= kh || q >= Wo || j >= kw) {
          zero(d, C);
          continue;
        }
        const int c0 = q * sw - padLeft;
        const float k = 1.f / (float)(rows * (imin(W, c0 + kw) - imax(0, c0)));
        const v128_t kv = wasm_f32x4_splat(k);
        const float *g = dy + (((long)n * Ho + p) * Wo + q) * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) wasm_v128_store(d + c, wasm_f32x4_mul(wasm_v128_load(g + c), kv));
        for (; c < C; c++) d[c] = g[c] * k;
      }
    }
  }
}

/*
 * MaxPool gradient, NHWC, for images [n_begin, n_end): dx (same shape as x, overwritten) receives
 * each dy[n, p, q, c] at the first position (row-major in the window) holding the window's maximum,
 * the maximum taken with a strict '>' from -inf over the in-bounds cells: tfjs's cpu backend's rule
 * (a window with no value above -inf, e.g. all -inf or NaN, passes nothing on). Vectorised over 4
 * channels: a running max and its window index per lane, then each window cell adds dy where the
 * index matches.
 */
EXPORT(maxpool_grad)
void maxpool_grad(const float *x, const float *dy, float *dx, int N, int H, int W, int C, int Ho, int Wo, int kh, int kw,
                  int sh, int sw, int padTop, int padLeft, int n_begin, int n_end) {
  (void)N;
  const int vn = C / 4;
  const float ninf = -__builtin_inff();
  for (int n = n_begin; n < n_end; n++) {
    float *dxn = dx + (long)n * H * W * C;
    const float *xn = x + (long)n * H * W * C;
    zero(dxn, H * W * C);
    for (int p = 0; p < Ho; p++) {
      const int r0 = p * sh - padTop;
      const int rLo = imax(0, r0), rHi = imin(H, r0 + kh);
      for (int q = 0; q < Wo; q++) {
        const int c0 = q * sw - padLeft;
        const int cLo = imax(0, c0), cHi = imin(W, c0 + kw);
        const float *g = dy + (((long)n * Ho + p) * Wo + q) * C;
        for (int v = 0; v < vn; v++) {
          v128_t best = wasm_f32x4_splat(ninf);
          v128_t at = wasm_i32x4_splat(-1);
          for (int r = rLo; r < rHi; r++)
            for (int c = cLo; c < cHi; c++) {
              const v128_t val = wasm_v128_load(xn + ((long)r * W + c) * C + 4 * v);
              const v128_t gt = wasm_f32x4_gt(val, best);
              best = wasm_v128_bitselect(val, best, gt);
              at = wasm_v128_bitselect(wasm_i32x4_splat(r * W + c), at, gt);
            }
          const v128_t gv = wasm_v128_load(g + 4 * v);
          for (int r = rLo; r < rHi; r++)
            for (int c = cLo; c < cHi; c++) {
              float *d = dxn + ((long)r * W + c) * C + 4 * v;
              const v128_t hit = wasm_i32x4_eq(at, wasm_i32x4_splat(r * W + c));
              wasm_v128_store(d, wasm_f32x4_add(wasm_v128_load(d), wasm_v128_and(gv, hit)));
            }
        }
        for (int k = 4 * vn; k < C; k++) {
          float best = ninf;
          int at = -1;
          for (int r = rLo; r < rHi; r++)
            for (int c = cLo; c < cHi; c++) {
              const float val = xn[((long)r * W + c) * C + k];
              if (val > best) { best = val; at = r * W + c; }
            }
          if (at >= 0) dxn[(long)at * C + k] += g[k];
        }
      }
    }
  }
}

/* dst[0 .. n-1] = the first n lanes of v (n < 4; no stack) */
static inline void store_lanes(float *dst, v128_t v, int n) {
  if (n > 0) dst[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) dst[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) dst[2] = wasm_f32x4_extract_lane(v, 2);
}

/* y[0 .. n-1] = the first n of the 8 lanes of (lo, hi), n <= 8 */
static inline void store8(float *y, v128_t lo, v128_t hi, int n) {
  if (n >= 8) {
    wasm_v128_store(y, lo);
    wasm_v128_store(y + 4, hi);
  } else if (n >= 4) {
    wasm_v128_store(y, lo);
    store_lanes(y + 4, hi, n - 4);
  } else {
    store_lanes(y, lo, n);
  }
}

/*
 * The forward convolution's 4x8 tile: 4 output pixels (their windows' top-left corners at xb,
 * xb + xs, xb + 2 xs, xb + 3 xs: neighbours in a row, or one pixel of 4 images) x 8 output
 * channels of the packed filter block wb, over filter rows [iLo, iHi) and columns [jLo, jHi) (the
 * taps inside x; xb may point outside x, only those taps are read). Stores the 4 pixels ys apart.
 */
static inline void conv_tile_4x8(const float *xb, long xs, int W, int Ci, const float *wb, int kw, int iLo, int iHi,
                                 int jLo, int jHi, float *yp, long ys, int on) {
  v128_t a00 = wasm_f32x4_splat(0.f), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (int i = iLo; i < iHi; i++) {
    for (int j = jLo; j < jHi; j++) {
      const float *xp = xb + ((long)i * W + j) * Ci;
      const float *wq = wb + ((i * kw + j) * Ci) * 8;
      for (int c = 0; c < Ci; c++, wq += 8) {
        const v128_t w0 = wasm_v128_load(wq), w1 = wasm_v128_load(wq + 4);
        v128_t b = wasm_v128_load32_splat(xp + c);
        a00 = MADD(a00, b, w0);
        a01 = MADD(a01, b, w1);
        b = wasm_v128_load32_splat(xp + xs + c);
        a10 = MADD(a10, b, w0);
        a11 = MADD(a11, b, w1);
        b = wasm_v128_load32_splat(xp + 2 * xs + c);
        a20 = MADD(a20, b, w0);
        a21 = MADD(a21, b, w1);
        b = wasm_v128_load32_splat(xp + 3 * xs + c);
        a30 = MADD(a30, b, w0);
        a31 = MADD(a31, b, w1);
      }
    }
  }
  store8(yp, a00, a01, on);
  store8(yp + ys, a10, a11, on);
  store8(yp + 2 * ys, a20, a21, on);
  store8(yp + 3 * ys, a30, a31, on);
}

/* One output pixel of the same (two accumulator pairs, even and odd c, for independent add chains). */
static inline void conv_pixel_8(const float *xb, int W, int Ci, const float *wb, int kw, int iLo, int iHi, int jLo, int jHi,
                                float *yp, int on) {
  v128_t a0 = wasm_f32x4_splat(0.f), a1 = a0, e0 = a0, e1 = a0;
  for (int i = iLo; i < iHi; i++) {
    for (int j = jLo; j < jHi; j++) {
      const float *xp = xb + ((long)i * W + j) * Ci;
      const float *wq = wb + ((i * kw + j) * Ci) * 8;
      int c = 0;
      for (; c + 2 <= Ci; c += 2, wq += 16) {
        const v128_t b = wasm_v128_load32_splat(xp + c), d = wasm_v128_load32_splat(xp + c + 1);
        a0 = MADD(a0, b, wasm_v128_load(wq));
        a1 = MADD(a1, b, wasm_v128_load(wq + 4));
        e0 = MADD(e0, d, wasm_v128_load(wq + 8));
        e1 = MADD(e1, d, wasm_v128_load(wq + 12));
      }
      if (c < Ci) {
        const v128_t b = wasm_v128_load32_splat(xp + c);
        a0 = MADD(a0, b, wasm_v128_load(wq));
        a1 = MADD(a1, b, wasm_v128_load(wq + 4));
      }
    }
  }
  store8(yp, wasm_f32x4_add(a0, e0), wasm_f32x4_add(a1, e1), on);
}

/*
 * Forward convolution, NHWC, filter [kh, kw, Ci, Co], stride s, dilation 1, pads padTop/padLeft
 * (zeros), for output channels [o_begin, o_end) (o_begin a multiple of 8):
 *   y[n, p, q, o] = sum_{i, j, c} x[n, s*p + i - padTop, s*q + j - padLeft, c] * w[i, j, c, o]
 * or, with `flip`, w[kh-1-i, kw-1-j, o, c] of a [kh, kw, Co, Ci] filter (the input gradient of the
 * convolution by that filter, without materialising the rotated, transposed copy).
 * `wp` is scratch for the packed filter: ceil(Co / 8) blocks of kh*kw*Ci x 8 floats (each thread
 * packs its own blocks). Tiles of 4 output pixels x 8 output channels (8 f32x4 accumulators, per
 * filter tap and input channel 2 loads of the packed filter and 4 splatted loads of x): 4 neighbours
 * in a row where their windows lie inside it, else the same pixel of 4 images (a small map's pixels
 * are all edge pixels: on 2x2 maps they went one at a time at 2/3 the multiply-adds per load, slower
 * than Winograd; batched they skip the padding taps as before). The blocks are visited in groups whose
 * packed filter fits in ~128 KB, each group over all pixels, so a pixel tile's inputs are reused
 * from L1 across the group's blocks.
 */
EXPORT(conv2d_forward)
void conv2d_forward(const float *x, const float *w, float *y, float *wp, int N, int H, int W, int Ci, int Ho, int Wo,
                    int Co, int kh, int kw, int s, int padTop, int padLeft, int flip, int o_begin, int o_end) {
  const int KK = kh * kw * Ci;
  if (!flip) {
    /* two whole blocks at a time, vector copies: a block's rows are Co floats apart, so packing one
       block at a time read a 64-byte line for 8 of its 16 floats (scalar, one block at a time, packing
       took 30% of a 2x2-map layer; each row's whole range of channels at once was slower still) */
    int o0 = o_begin;
    for (; o0 + 16 <= imin(o_end, Co); o0 += 16) {
      float *d0 = wp + (long)(o0 / 8) * KK * 8, *d1 = d0 + (long)KK * 8;
      for (int t = 0; t < KK; t++) {
        const float *src = w + (long)t * Co + o0;
        wasm_v128_store(d0 + t * 8, wasm_v128_load(src));
        wasm_v128_store(d0 + t * 8 + 4, wasm_v128_load(src + 4));
        wasm_v128_store(d1 + t * 8, wasm_v128_load(src + 8));
        wasm_v128_store(d1 + t * 8 + 4, wasm_v128_load(src + 12));
      }
    }
    for (; o0 < o_end; o0 += 8) {
      float *dst = wp + (long)(o0 / 8) * KK * 8;
      const int on = imin(8, Co - o0);
      for (int t = 0; t < KK; t++)
        for (int l = 0; l < 8; l++) dst[t * 8 + l] = l < on ? w[(long)t * Co + o0 + l] : 0.f;
    }
  }
  for (int o0 = o_begin; o0 < o_end && flip; o0 += 8) {
    float *dst = wp + (long)(o0 / 8) * KK * 8;
    const int on = imin(8, Co - o0);
    /* flip: w is a [kh, kw, Co, Ci] filter used rotated by 180 degrees with its channels swapped (an input gradient) */
    for (int i = 0; i < kh; i++)
      for (int j = 0; j < kw; j++) {
        const float *tap = w + ((long)((kh - 1 - i) * kw + (kw - 1 - j)) * Co) * Ci;
        float *dt = dst + (long)(i * kw + j) * Ci * 8;
        int c = 0;
        if (on == 8) /* 4 input channels of the 8 output channels at a time: two 4x4 transposes */
          for (; c + 4 <= Ci; c += 4) {
            const float *src = tap + (long)o0 * Ci + c;
#define R(l) const v128_t r##l = wasm_v128_load(src + (long)(l) * Ci);
            R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7)
#undef R
#define T4(a, b, c_, d, h)                                                                  \
  {                                                                                         \
    const v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(c_, d, 0, 4, 1, 5); \
    const v128_t t2 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(c_, d, 2, 6, 3, 7); \
    wasm_v128_store(dt + (long)(c + 0) * 8 + h, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));  \
    wasm_v128_store(dt + (long)(c + 1) * 8 + h, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));  \
    wasm_v128_store(dt + (long)(c + 2) * 8 + h, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));  \
    wasm_v128_store(dt + (long)(c + 3) * 8 + h, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));  \
  }
            T4(r0, r1, r2, r3, 0)
            T4(r4, r5, r6, r7, 4)
#undef T4
          }
        for (; c < Ci; c++)
          for (int l = 0; l < 8; l++) dt[(long)c * 8 + l] = l < on ? tap[(long)(o0 + l) * Ci + c] : 0.f;
      }
  }
  const int blocksPerGroup = imax(1, (128 * 1024 / 4) / (KK * 8));
  /* pixels whose whole window lies inside the row: s*q - padLeft >= 0 and s*q - padLeft + kw <= W;
     from qs on, whole tiles of 4 such pixels up to qt */
  const int qs = imin(Wo, imax(0, cdiv(padLeft, s)));
  const int qe = imin(Wo, imax(qs, fdiv(W - kw + padLeft, s) + 1));
  const int qt = qs + ((qe - qs) & ~3);
  const long img = (long)H * W * Ci, yimg = (long)Ho * Wo * Co;
  for (int g0 = o_begin; g0 < o_end; g0 += 8 * blocksPerGroup) {
    const int g1 = imin(o_end, g0 + 8 * blocksPerGroup);
    /* row tiles: 4 neighbouring pixels of a row, whole windows along it */
    for (int n = 0; n < N; n++) {
      for (int p = 0; p < Ho; p++) {
        const int r0 = s * p - padTop;
        const int iLo = imax(0, -r0), iHi = imin(kh, H - r0);
        for (int q = qs; q < qt; q += 4) {
          const float *xb = x + ((long)n * H + r0) * W * Ci + (long)(s * q - padLeft) * Ci;
          float *yp = y + (((long)n * Ho + p) * Wo + q) * Co;
          for (int o0 = g0; o0 < g1; o0 += 8)
            conv_tile_4x8(xb, (long)s * Ci, W, Ci, wp + (long)(o0 / 8) * KK * 8, kw, iLo, iHi, 0, kw, yp + o0, Co, imin(8, Co - o0));
        }
      }
    }
    /* the other pixels (windows crossing the left or right edge, a row's leftovers: every pixel of a
       small map): the same pixel of 4 images per tile, which share their window */
    for (int p = 0; p < Ho; p++) {
      const int r0 = s * p - padTop;
      const int iLo = imax(0, -r0), iHi = imin(kh, H - r0);
      for (int q = (qs == 0 ? qt : 0); q < Wo; q = (q + 1 == qs ? qt : q + 1)) {
        const int c0 = s * q - padLeft;
        const int jLo = imax(0, -c0), jHi = imin(kw, W - c0);
        const float *xb = x + (long)r0 * W * Ci + (long)c0 * Ci;
        float *yb = y + ((long)p * Wo + q) * Co;
        int n = 0;
        for (; n + 4 <= N; n += 4)
          for (int o0 = g0; o0 < g1; o0 += 8)
            conv_tile_4x8(xb + n * img, img, W, Ci, wp + (long)(o0 / 8) * KK * 8, kw, iLo, iHi, jLo, jHi, yb + n * yimg + o0, yimg, imin(8, Co - o0));
        for (; n < N; n++)
          for (int o0 = g0; o0 < g1; o0 += 8)
            conv_pixel_8(xb + n * img, W, Ci, wp + (long)(o0 / 8) * KK * 8, kw, iLo, iHi, jLo, jHi, yb + n * yimg + o0, imin(8, Co - o0));
      }
    }
  }
}

/*
 * z[r][0..7] += sum over n packed positions of v[i][r] * e[i][0..7], for the first `rows` (1..4) of the
 * 4 rows of z, which are `zs` floats apart (v: 4 floats per position, e: 8). The 4x8 tile of the filter
 * gradients' products: straight into dw rows (packed kernel), or into a contiguous 32-float tile
 * (Winograd, 1x1: zs 8, rows 4).
 */
static inline void accumulate_4x8(float *z, long zs, int rows, const float *vp, const float *ep, int n) {
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  v128_t a00 = wasm_v128_load(z), a01 = wasm_v128_load(z + 4);
  v128_t a10 = rows > 1 ? wasm_v128_load(z + zs) : zero4, a11 = rows > 1 ? wasm_v128_load(z + zs + 4) : zero4;
  v128_t a20 = rows > 2 ? wasm_v128_load(z + 2 * zs) : zero4, a21 = rows > 2 ? wasm_v128_load(z + 2 * zs + 4) : zero4;
  v128_t a30 = rows > 3 ? wasm_v128_load(z + 3 * zs) : zero4, a31 = rows > 3 ? wasm_v128_load(z + 3 * zs + 4) : zero4;
  for (int i = 0; i < n; i++, vp += 4, ep += 8) {
    const v128_t g0 = wasm_v128_load(ep), g1 = wasm_v128_load(ep + 4);
    v128_t bv = wasm_v128_load32_splat(vp);
    a00 = MADD(a00, bv, g0);
    a01 = MADD(a01, bv, g1);
    bv = wasm_v128_load32_splat(vp + 1);
    a10 = MADD(a10, bv, g0);
    a11 = MADD(a11, bv, g1);
    bv = wasm_v128_load32_splat(vp + 2);
    a20 = MADD(a20, bv, g0);
    a21 = MADD(a21, bv, g1);
    bv = wasm_v128_load32_splat(vp + 3);
    a30 = MADD(a30, bv, g0);
    a31 = MADD(a31, bv, g1);
  }
  wasm_v128_store(z, a00); wasm_v128_store(z + 4, a01);
  if (rows > 1) { wasm_v128_store(z + zs, a10); wasm_v128_store(z + zs + 4, a11); }
  if (rows > 2) { wasm_v128_store(z + 2 * zs, a20); wasm_v128_store(z + 2 * zs + 4, a21); }
  if (rows > 3) { wasm_v128_store(z + 3 * zs, a30); wasm_v128_store(z + 3 * zs + 4, a31); }
}

/*
 * The filter gradient again (same definition as conv2d_filter_grad), as a packed GEMM: for each
 * chunk of output rows and each filter tap, the tap's valid positions k are gathered once into
 * contiguous panels, x as [Ci/4][k][4] (zero-padded channels) and, per block of 8 output channels,
 * dy as [k][8], so the 4x8 tile loop reads only contiguous memory: with the plain strided layout,
 * channel counts that are powers of two put a chunk's rows in a few L1 sets (256 channels: 4 sets).
 * Output channels [o_begin, o_end), o_begin a multiple of 8; channels beyond the last whole block of
 * 8 go through the strided kernel. `scratch` + slot * (chunkRows*Wo*(ceil4(Ci) + 8) + chunkRows*Wo)
 * floats is this thread's: the x panel, the dy panel, then the positions' dy offsets (ints).
 */
EXPORT(conv2d_filter_grad_packed)
void conv2d_filter_grad_packed(const float *x, const float *dy, float *dw, float *scratch, int N, int H, int W, int Ci,
                               int Ho, int Wo, int Co, int kh, int kw, int s, int padTop, int padLeft, int chunkRows,
                               int o_begin, int o_end, int slot) {
  const int ci4 = (Ci + 3) & ~3;
  const int kMax = chunkRows * Wo;
  float *xpan = scratch + (long)slot * ((long)kMax * (ci4 + 8) + kMax);
  float *dpan = xpan + (long)kMax * ci4;
  int *offs = (int *)(dpan + (long)kMax * 8);
  const int oFull = o_begin + ((o_end - o_begin) / 8) * 8; /* end of the whole 8-blocks */
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++)
      for (int c = 0; c < Ci; c++) {
        float *d = dw + ((i * kw + j) * Ci + c) * Co;
        for (int o = o_begin; o < oFull; o++) d[o] = 0.f;
      }
  const int rows = N * Ho;
  for (int r0 = 0; r0 < rows; r0 += chunkRows) {
    const int r1 = imin(rows, r0 + chunkRows);
    for (int i = 0; i < kh; i++) {
      for (int j = 0; j < kw; j++) {
        const int qLo = imin(Wo, imax(0, cdiv(padLeft - j, s)));
        const int qHi = imax(qLo, imin(Wo, fdiv(W - 1 + padLeft - j, s) + 1));
        if (qLo == qHi) continue;
        /* gather this tap's positions: x panel and dy offsets */
        int K = 0;
        for (int r = r0; r < r1; r++) {
          const int n = r / Ho, p = r - n * Ho;
          const int row = s * p + i - padTop;
          if (row < 0 || row >= H) continue;
          const float *xr = x + (((long)n * H + row) * W + s * qLo + j - padLeft) * Ci;
          for (int q = qLo; q < qHi; q++, xr += s * Ci, K++) {
            offs[K] = (r * Wo + q) * Co;
            int c = 0;
            for (; c + 4 <= Ci; c += 4) wasm_v128_store(xpan + ((long)(c / 4) * kMax + K) * 4, wasm_v128_load(xr + c));
            if (c < Ci) {
              float *dst = xpan + ((long)(c / 4) * kMax + K) * 4;
              for (int l = 0; l < 4; l++) dst[l] = c + l < Ci ? xr[c + l] : 0.f;
            }
          }
        }
        if (K == 0) continue;
        float *dwTap = dw + (i * kw + j) * Ci * Co;
        for (int o0 = o_begin; o0 < oFull; o0 += 8) {
          for (int k = 0; k < K; k++) {
            const float *g = dy + offs[k] + o0;
            wasm_v128_store(dpan + k * 8, wasm_v128_load(g));
            wasm_v128_store(dpan + k * 8 + 4, wasm_v128_load(g + 4));
          }
          for (int c0 = 0; c0 < Ci; c0 += 4)
            accumulate_4x8(dwTap + c0 * Co + o0, Co, imin(4, Ci - c0), xpan + (long)(c0 / 4) * kMax * 4, dpan, K);
        }
      }
    }
  }
  if (oFull < o_end)
    conv2d_filter_grad(x, dy, dw, N, H, W, Ci, Ho, Wo, Co, kh, kw, s, padTop, padLeft, oFull, o_end);
}

/*
 * Winograd F(2x2, 3x3) for the 3x3 stride-1 convolutions (the forward pass and their input
 * gradients): each 2x2 block of output pixels ("tile") is computed from its 4x4 input patch d as
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * so the 36 multiply-adds per tile, input and output channel of the direct convolution become 16,
 * done as 16 independent matrix products (one per position k of the 4x4 transformed tile):
 *   M_k [tiles x Co] = V_k [tiles x Ci] * U_k [Ci x Co],  V = B^T d B (input),  U = G g G^T (filter).
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). With the coefficients
 * 0, +-1 and 1/2 the rounding error stays within a few ulps of the direct sum's.
 *
 * winograd_filter_transform: u = [16][ceil(Co/8)][Ci][8] (zero beyond Co) for output channels
 * [o_begin, o_end), o_begin a multiple of 8; with `flip`, of the rotated, channel-swapped [3, 3, Co, Ci]
 * filter w (as conv2d_forward).
 */
/* The 4 lanes of x at p (channels c .. c+3), or fewer (zeros after the first n) */
static inline v128_t load_upto4(const float *p, int n) {
  if (n >= 4) return wasm_v128_load(p);
  return wasm_f32x4_make(p[0], n > 1 ? p[1] : 0.f, n > 2 ? p[2] : 0.f, 0.f);
}

EXPORT(winograd_filter_transform)
void winograd_filter_transform(const float *w, float *u, int Ci, int Co, int flip, int o_begin, int o_end) {
  const int blocks = (Co + 7) / 8;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int o0 = o_begin; o0 < o_end; o0 += 8) {
    for (int h = 0; h < 8; h += 4) { /* 4 output channels at a time (vectorised) */
      const int on = imin(4, Co - o0 - h);
      for (int c = 0; c < Ci; c++) {
        const float *g = w + (long)c * Co + o0 + h;
        const long tap = (long)Ci * Co;
        /* flip: w is [3, 3, Co, Ci], used rotated with its channels swapped (see conv2d_forward) */
        const float *gf = w + (long)(o0 + h) * Ci + c;
#define GF(t, l) (on > (l) ? gf[(long)(t) * tap + (long)(l) * Ci] : 0.f)
#define G(i, j) (on <= 0 ? wasm_f32x4_splat(0.f)                                                                      \
                 : !flip ? load_upto4(g + ((i) * 3 + (j)) * tap, on)                                                  \
                 : wasm_f32x4_make(GF(8 - (i) * 3 - (j), 0), GF(8 - (i) * 3 - (j), 1), GF(8 - (i) * 3 - (j), 2), GF(8 - (i) * 3 - (j), 3)))
        /* t = G g (rows 0..3 of a 4x3), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] */
#define TCOL(j)                                                                            \
  const v128_t g0##j = G(0, j), g1##j = G(1, j), g2##j = G(2, j);                          \
  const v128_t t0##j = g0##j, t3##j = g2##j;                                               \
  const v128_t t1##j = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_add(g0##j, g1##j), g2##j)); \
  const v128_t t2##j = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_sub(g0##j, g1##j), g2##j));
        TCOL(0) TCOL(1) TCOL(2)
#undef TCOL
#undef G
#undef GF
        /* U = t G^T: row i -> (t_i0, .5(t_i0 + t_i1 + t_i2), .5(t_i0 - t_i1 + t_i2), t_i2) */
        float *up = u + ((long)o0 / 8 * Ci + c) * 8 + h;
        const long uk = (long)blocks * Ci * 8;
#define UROW(i)                                                                                           \
  wasm_v128_store(up + ((i) * 4 + 0) * uk, t##i##0);                                                      \
  wasm_v128_store(up + ((i) * 4 + 1) * uk, wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_add(t##i##0, t##i##1), t##i##2))); \
  wasm_v128_store(up + ((i) * 4 + 2) * uk, wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_sub(t##i##0, t##i##1), t##i##2))); \
  wasm_v128_store(up + ((i) * 4 + 3) * uk, t##i##2);
        UROW(0) UROW(1) UROW(2) UROW(3)
#undef UROW
      }
    }
  }
}

/*
 * The products of a Winograd chunk: M_k [rows x co8] = V_k [rows x Ci] U_k [Ci x co8] for the npos
 * positions k, tiles of 4 rows x 8 output channels (rows a multiple of 4; V_k rows ci4 apart, the
 * matrices vk and mk floats apart; U_k packed [co8/8][Ci][8]).
 */
static inline void winograd_products(const float *V, const float *u, float *M, int npos, long vk, long mk, int rows, int Ci, int ci4, int co8) {
  const int blocks = co8 / 8;
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  for (int k = 0; k < npos; k++) {
    const float *Vk = V + k * vk;
    float *Mk = M + k * mk;
    for (int ob = 0; ob < blocks; ob++) {
      const float *Ub = u + ((long)k * blocks + ob) * Ci * 8;
      for (int r = 0; r < rows; r += 4) {
        const float *v0 = Vk + (long)r * ci4, *v1 = v0 + ci4, *v2 = v1 + ci4, *v3 = v2 + ci4;
        v128_t a00 = zero4, a01 = zero4, a10 = zero4, a11 = zero4, a20 = zero4, a21 = zero4, a30 = zero4, a31 = zero4;
        const float *uq = Ub;
        for (int c = 0; c < Ci; c++, uq += 8) {
          const v128_t w0 = wasm_v128_load(uq), w1 = wasm_v128_load(uq + 4);
          v128_t bv = wasm_v128_load32_splat(v0 + c);
          a00 = MADD(a00, bv, w0);
          a01 = MADD(a01, bv, w1);
          bv = wasm_v128_load32_splat(v1 + c);
          a10 = MADD(a10, bv, w0);
          a11 = MADD(a11, bv, w1);
          bv = wasm_v128_load32_splat(v2 + c);
          a20 = MADD(a20, bv, w0);
          a21 = MADD(a21, bv, w1);
          bv = wasm_v128_load32_splat(v3 + c);
          a30 = MADD(a30, bv, w0);
          a31 = MADD(a31, bv, w1);
        }
        float *mp = Mk + (long)r * co8 + ob * 8;
        wasm_v128_store(mp, a00); wasm_v128_store(mp + 4, a01);
        wasm_v128_store(mp + co8, a10); wasm_v128_store(mp + co8 + 4, a11);
        wasm_v128_store(mp + 2 * co8, a20); wasm_v128_store(mp + 2 * co8 + 4, a21);
        wasm_v128_store(mp + 3 * co8, a30); wasm_v128_store(mp + 3 * co8 + 4, a31);
      }
    }
  }
}

/*
 * winograd_conv: y = conv(x, w) (3x3, stride 1, pads padTop/padLeft, output Ho x Wo) for tiles
 * [t_begin, t_end) of the N * ceil(Ho/2) * ceil(Wo/2) tiles (in image, tile-row, tile-column order),
 * from u = winograd_filter_transform(w). Tiles go in chunks of `chunk` (a multiple of 4): the chunk's
 * V = [16][chunk][ci4] and M = [16][chunk][co8] (each of the 16 padded by 16 floats) live in this
 * thread's part of `scratch`, slot * 16 * (chunk * (ci4 + co8) + 32) floats on.
 */
EXPORT(winograd_conv)
void winograd_conv(const float *x, const float *u, float *y, float *scratch, int N, int H, int W, int Ci, int Ho, int Wo,
                   int Co, int padTop, int padLeft, int chunk, int t_begin, int t_end, int slot) {
  const int ci4 = (Ci + 3) & ~3, co8 = (Co + 7) & ~7;
  const int th = (Ho + 1) / 2, tw = (Wo + 1) / 2;
  /* stride between the 16 matrices: one cache line more than their size, so that the 16 stores of a
     transform do not all land in one L1 set (the sizes are powers of two: 32 KB strides took 1.4x) */
  const long vk = (long)chunk * ci4 + 16, mk = (long)chunk * co8 + 16;
  float *V = scratch + (long)slot * 16 * (vk + mk);
  float *M = V + 16 * vk;
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  for (int t0 = t_begin; t0 < t_end; t0 += chunk) {
    const int tn = imin(chunk, t_end - t0);
    const int rows = (tn + 3) & ~3;
    /* ---- input transform: V[k][t][c] */
    for (int tt = 0; tt < rows; tt++) {
      if (tt >= tn) { /* padding rows of the last row quad: zeros */
        for (int k = 0; k < 16; k++)
          for (int c = 0; c < ci4; c += 4) wasm_v128_store(V + k * vk + (long)tt * ci4 + c, zero4);
        continue;
      }
      const int t = t0 + tt;
      const int n = t / (th * tw), rem = t - n * th * tw, a = rem / tw, b = rem - a * tw;
      const int r0 = 2 * a - padTop, c0 = 2 * b - padLeft;
      const float *xn = x + (long)n * H * W * Ci;
      /* which of the patch's 4 rows and columns lie inside x (the rest is zero padding) */
      const int rin0 = r0 >= 0 && r0 < H, rin1 = r0 + 1 >= 0 && r0 + 1 < H, rin2 = r0 + 2 >= 0 && r0 + 2 < H, rin3 = r0 + 3 >= 0 && r0 + 3 < H;
      const int cin0 = c0 >= 0 && c0 < W, cin1 = c0 + 1 >= 0 && c0 + 1 < W, cin2 = c0 + 2 >= 0 && c0 + 2 < W, cin3 = c0 + 3 >= 0 && c0 + 3 < W;
      for (int c = 0; c < ci4; c += 4) {
        const int cn = imin(4, Ci - c);
        const float *px = xn + ((long)r0 * W + c0) * Ci + c; /* may point outside x: only read where inside */
#define LD(i, j) ((rin##i && cin##j) ? load_upto4(px + ((long)(i) * W + (j)) * Ci, cn) : zero4)
        /* d B for each row i (B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], so d B has columns d0-d2, d1+d2, d2-d1, d1-d3) */
#define ROW(i)                                                                                  \
  const v128_t d##i##0 = LD(i, 0), d##i##1 = LD(i, 1), d##i##2 = LD(i, 2), d##i##3 = LD(i, 3);  \
  const v128_t e##i##0 = wasm_f32x4_sub(d##i##0, d##i##2), e##i##1 = wasm_f32x4_add(d##i##1, d##i##2), \
               e##i##2 = wasm_f32x4_sub(d##i##2, d##i##1), e##i##3 = wasm_f32x4_sub(d##i##1, d##i##3);
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
#undef LD
        /* then B^T (d B): rows e0-e2, e1+e2, e2-e1, e1-e3; V[i*4 + j] */
        float *vp = V + (long)tt * ci4 + c;
#define COL(j)                                                                  \
  wasm_v128_store(vp + (0 * 4 + j) * vk, wasm_f32x4_sub(e0##j, e2##j));        \
  wasm_v128_store(vp + (1 * 4 + j) * vk, wasm_f32x4_add(e1##j, e2##j));        \
  wasm_v128_store(vp + (2 * 4 + j) * vk, wasm_f32x4_sub(e2##j, e1##j));        \
  wasm_v128_store(vp + (3 * 4 + j) * vk, wasm_f32x4_sub(e1##j, e3##j));
        COL(0) COL(1) COL(2) COL(3)
#undef COL
      }
    }
    /* ---- 16 products M_k = V_k U_k, tiles of 4 rows x 8 output channels */
    winograd_products(V, u, M, 16, vk, mk, rows, Ci, ci4, co8);
    /* ---- output transform: Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1] */
    for (int tt = 0; tt < tn; tt++) {
      const int t = t0 + tt;
      const int n = t / (th * tw), rem = t - n * th * tw, a = rem / tw, b = rem - a * tw;
      const int p0 = 2 * a, q0 = 2 * b;
      const int two_rows = p0 + 1 < Ho, two_cols = q0 + 1 < Wo;
      float *y00 = y + (((long)n * Ho + p0) * Wo + q0) * Co;
      for (int o = 0; o < Co; o += 4) {
        const int on = imin(4, Co - o);
        const float *mp = M + (long)tt * co8 + o;
        /* A^T M: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (rows of the 4x4 M) */
#define MM(i, j) wasm_v128_load(mp + ((i) * 4 + (j)) * mk)
#define COLS(j)                                                                                     \
  const v128_t m0##j = MM(0, j), m1##j = MM(1, j), m2##j = MM(2, j), m3##j = MM(3, j);              \
  const v128_t s0_##j = wasm_f32x4_add(wasm_f32x4_add(m0##j, m1##j), m2##j);                        \
  const v128_t s1_##j = wasm_f32x4_sub(wasm_f32x4_sub(m1##j, m2##j), m3##j);
        COLS(0) COLS(1) COLS(2) COLS(3)
#undef COLS
#undef MM
        const v128_t s0[4] = {s0_0, s0_1, s0_2, s0_3}, s1[4] = {s1_0, s1_1, s1_2, s1_3};
        const v128_t o00 = wasm_f32x4_add(wasm_f32x4_add(s0[0], s0[1]), s0[2]);
        const v128_t o01 = wasm_f32x4_sub(wasm_f32x4_sub(s0[1], s0[2]), s0[3]);
        const v128_t o10 = wasm_f32x4_add(wasm_f32x4_add(s1[0], s1[1]), s1[2]);
        const v128_t o11 = wasm_f32x4_sub(wasm_f32x4_sub(s1[1], s1[2]), s1[3]);
        if (on == 4) {
          wasm_v128_store(y00 + o, o00);
          if (two_cols) wasm_v128_store(y00 + Co + o, o01);
          if (two_rows) {
            wasm_v128_store(y00 + (long)Wo * Co + o, o10);
            if (two_cols) wasm_v128_store(y00 + (long)(Wo + 1) * Co + o, o11);
          }
        } else {
          store_lanes(y00 + o, o00, on);
          if (two_cols) store_lanes(y00 + Co + o, o01, on);
          if (two_rows) {
            store_lanes(y00 + (long)Wo * Co + o, o10, on);
            if (two_cols) store_lanes(y00 + (long)(Wo + 1) * Co + o, o11, on);
          }
        }
      }
    }
  }
}

/*
 * The filter gradient of a 3x3 stride-1 convolution as Winograd F(3x3, 2x2): per 2x2 tile of dy
 * (zero beyond Ho x Wo) and its 4x4 patch X of x (zero outside x: the padding), the tile's share of
 * dw[i][j] = sum_{u,v} X[u+i][v+j] dy[u][v] is A^T [ (B^T X B) .* (G D G^T) ] A, with
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1],  G = [1 0; .5 .5; .5 -.5; 0 1],  A^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1].
 * Summed over tiles before the output transform: Z_k [Ci x Co] = sum_t V_k[t]^T E_k[t] for the 16
 * positions k, then dw = A^T Z A once. 16 multiply-adds per tile, input and output channel instead of 36.
 *
 * This thread computes input channels [c_begin, c_end) (c_begin a multiple of 4) for every output
 * channel; its part of `scratch` (slot * 16 * (chunk * (ci4 + co8) + ci4 * co8 + 48) floats on) holds
 * a chunk's V = [16][cq][chunk][4] and E = [16][co8/8][chunk][8] and the sums Z = [16][cq][co8/8][4][8],
 * each of the 16 padded by 16 floats.
 */
EXPORT(winograd_filter_grad)
void winograd_filter_grad(const float *x, const float *dy, float *dw, float *scratch, int N, int H, int W, int Ci, int Ho, int Wo,
                          int Co, int padTop, int padLeft, int chunk, int c_begin, int c_end, int slot) {
  const int ci4 = (Ci + 3) & ~3, co8 = (Co + 7) & ~7, blocks = co8 / 8;
  const int cq = (c_end - c_begin + 3) / 4;
  const int th = (Ho + 1) / 2, tw = (Wo + 1) / 2, T = N * th * tw;
  /* the 16 matrices of each are one cache line (16 floats) apart beyond their size (see winograd_conv) */
  const long vk = (long)cq * chunk * 4 + 16, ek = (long)blocks * chunk * 8 + 16, zk = (long)cq * blocks * 32 + 16;
  float *V = scratch + (long)slot * 16 * ((long)chunk * (ci4 + co8) + (long)ci4 * co8 + 48);
  float *E = V + 16 * vk;
  float *Z = E + 16 * ek;
  const v128_t zero4 = wasm_f32x4_splat(0.f), half = wasm_f32x4_splat(0.5f);
  for (long k = 0; k < 16 * zk; k += 4) wasm_v128_store(Z + k, zero4); /* zk is a multiple of 4 */
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int tn = imin(chunk, T - t0);
    for (int tt = 0; tt < tn; tt++) {
      const int t = t0 + tt;
      const int n = t / (th * tw), rem = t - n * th * tw, a = rem / tw, b = rem - a * tw;
      /* ---- V = B^T X B for this thread's channels */
      const int r0 = 2 * a - padTop, c0 = 2 * b - padLeft;
      const int rin0 = r0 >= 0 && r0 < H, rin1 = r0 + 1 >= 0 && r0 + 1 < H, rin2 = r0 + 2 >= 0 && r0 + 2 < H, rin3 = r0 + 3 >= 0 && r0 + 3 < H;
      const int cin0 = c0 >= 0 && c0 < W, cin1 = c0 + 1 >= 0 && c0 + 1 < W, cin2 = c0 + 2 >= 0 && c0 + 2 < W, cin3 = c0 + 3 >= 0 && c0 + 3 < W;
      const float *xn = x + (long)n * H * W * Ci;
      for (int q = 0; q < cq; q++) {
        const int c = c_begin + 4 * q, cn = imin(4, c_end - c);
        const float *px = xn + ((long)r0 * W + c0) * Ci + c; /* may point outside x: only read where inside */
#define LD(i, j) ((rin##i && cin##j) ? load_upto4(px + ((long)(i) * W + (j)) * Ci, cn) : zero4)
        /* X B for each row i: columns x0-x2, x1+x2, x2-x1, x3-x1 */
#define ROW(i)                                                                                  \
  const v128_t d##i##0 = LD(i, 0), d##i##1 = LD(i, 1), d##i##2 = LD(i, 2), d##i##3 = LD(i, 3);  \
  const v128_t e##i##0 = wasm_f32x4_sub(d##i##0, d##i##2), e##i##1 = wasm_f32x4_add(d##i##1, d##i##2), \
               e##i##2 = wasm_f32x4_sub(d##i##2, d##i##1), e##i##3 = wasm_f32x4_sub(d##i##3, d##i##1);
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
#undef LD
        float *vp = V + ((long)q * chunk + tt) * 4;
#define COL(j)                                                                  \
  wasm_v128_store(vp + (0 * 4 + j) * vk, wasm_f32x4_sub(e0##j, e2##j));        \
  wasm_v128_store(vp + (1 * 4 + j) * vk, wasm_f32x4_add(e1##j, e2##j));        \
  wasm_v128_store(vp + (2 * 4 + j) * vk, wasm_f32x4_sub(e2##j, e1##j));        \
  wasm_v128_store(vp + (3 * 4 + j) * vk, wasm_f32x4_sub(e3##j, e1##j));
        COL(0) COL(1) COL(2) COL(3)
#undef COL
      }
      /* ---- E = G D G^T for every output channel (D: the 2x2 dy tile) */
      const int p0 = 2 * a, q0 = 2 * b;
      const int two_rows = p0 + 1 < Ho, two_cols = q0 + 1 < Wo;
      const float *g00 = dy + (((long)n * Ho + p0) * Wo + q0) * Co;
      for (int o = 0; o < co8; o += 4) {
        const int on = imin(4, Co - o);
        const v128_t D00 = on > 0 ? load_upto4(g00 + o, on) : zero4;
        const v128_t D01 = on > 0 && two_cols ? load_upto4(g00 + Co + o, on) : zero4;
        const v128_t D10 = on > 0 && two_rows ? load_upto4(g00 + (long)Wo * Co + o, on) : zero4;
        const v128_t D11 = on > 0 && two_rows && two_cols ? load_upto4(g00 + (long)(Wo + 1) * Co + o, on) : zero4;
        /* G D: rows D0, (D0+D1)/2, (D0-D1)/2, D1 (D0, D1 the tile's rows), then each row (r0, r1) ->
           (r0, (r0+r1)/2, (r0-r1)/2, r1) */
        const v128_t s00 = D00, s01 = D01;
        const v128_t s10 = wasm_f32x4_mul(half, wasm_f32x4_add(D00, D10)), s11 = wasm_f32x4_mul(half, wasm_f32x4_add(D01, D11));
        const v128_t s20 = wasm_f32x4_mul(half, wasm_f32x4_sub(D00, D10)), s21 = wasm_f32x4_mul(half, wasm_f32x4_sub(D01, D11));
        const v128_t s30 = D10, s31 = D11;
        float *ep = E + ((long)(o / 8) * chunk + tt) * 8 + (o & 4);
#define EROW(i)                                                                                              \
  wasm_v128_store(ep + ((i) * 4 + 0) * ek, s##i##0);                                                         \
  wasm_v128_store(ep + ((i) * 4 + 1) * ek, wasm_f32x4_mul(half, wasm_f32x4_add(s##i##0, s##i##1)));          \
  wasm_v128_store(ep + ((i) * 4 + 2) * ek, wasm_f32x4_mul(half, wasm_f32x4_sub(s##i##0, s##i##1)));          \
  wasm_v128_store(ep + ((i) * 4 + 3) * ek, s##i##1);
        EROW(0) EROW(1) EROW(2) EROW(3)
#undef EROW
      }
    }
    /* ---- Z_k += V_k^T E_k over the chunk's tiles, 4 input x 8 output channels at a time */
    for (int k = 0; k < 16; k++) {
      for (int q = 0; q < cq; q++) {
        const float *vq = V + k * vk + (long)q * chunk * 4;
        for (int ob = 0; ob < blocks; ob++) {
          const float *eb = E + k * ek + (long)ob * chunk * 8;
          float *z = Z + k * zk + ((long)q * blocks + ob) * 32;
          accumulate_4x8(z, 8, 4, vq, eb, tn);
        }
      }
    }
  }
  /* ---- dw = A^T Z A: rows (z0 + z1 + z2, z1 - z2, z1 + z2 + z3), then the same on columns */
  for (int q = 0; q < cq; q++) {
    for (int l = 0; l < 4 && c_begin + 4 * q + l < c_end; l++) {
      const int c = c_begin + 4 * q + l;
      for (int o = 0; o < Co; o += 4) {
        const int on = imin(4, Co - o);
        const float *zp = Z + ((long)q * blocks + o / 8) * 32 + l * 8 + (o & 4);
#define ZZ(i, j) wasm_v128_load(zp + ((i) * 4 + (j)) * zk)
#define COLS(j)                                                                                  \
  const v128_t z0##j = ZZ(0, j), z1##j = ZZ(1, j), z2##j = ZZ(2, j), z3##j = ZZ(3, j);           \
  const v128_t r0_##j = wasm_f32x4_add(wasm_f32x4_add(z0##j, z1##j), z2##j);                     \
  const v128_t r1_##j = wasm_f32x4_sub(z1##j, z2##j);                                            \
  const v128_t r2_##j = wasm_f32x4_add(wasm_f32x4_add(z1##j, z2##j), z3##j);
        COLS(0) COLS(1) COLS(2) COLS(3)
#undef COLS
#undef ZZ
#define OUT(i)                                                                                                    \
  {                                                                                                               \
    const v128_t w0 = wasm_f32x4_add(wasm_f32x4_add(r##i##_0, r##i##_1), r##i##_2);                               \
    const v128_t w1 = wasm_f32x4_sub(r##i##_1, r##i##_2);                                                         \
    const v128_t w2 = wasm_f32x4_add(wasm_f32x4_add(r##i##_1, r##i##_2), r##i##_3);                               \
    float *d = dw + ((long)((i) * 3) * Ci + c) * Co + o;                                                          \
    if (on == 4) {                                                                                                \
      wasm_v128_store(d, w0); wasm_v128_store(d + (long)Ci * Co, w1); wasm_v128_store(d + 2L * Ci * Co, w2);     \
    } else {                                                                                                      \
      store_lanes(d, w0, on); store_lanes(d + (long)Ci * Co, w1, on); store_lanes(d + 2L * Ci * Co, w2, on);     \
    }                                                                                                             \
  }
        OUT(0) OUT(1) OUT(2)
#undef OUT
      }
    }
  }
}

/*
 * The filter gradient of a 1x1 stride-1 unpadded convolution, a plain matrix product over the R =
 * N*H*W pixels: dw[c][o] = sum_r x[r][c] dy[r][o], for input channels [c_begin, c_end) (a multiple of
 * 4) and every output channel. Rows go in chunks: the chunk's x columns are packed as [cq][chunk][4]
 * and dy as [co8/8][chunk][8], so the 4x8 tiles read contiguous memory; the sums Z = [cq][co8/8][4][8]
 * stay in this thread's part of `scratch` (slot * (chunk * (ci4 + co8) + ci4 * co8) floats on) until
 * they are written out.
 */
EXPORT(conv1x1_filter_grad)
void conv1x1_filter_grad(const float *x, const float *dy, float *dw, float *scratch, int R, int Ci, int Co, int chunk,
                         int c_begin, int c_end, int slot) {
  const int ci4 = (Ci + 3) & ~3, co8 = (Co + 7) & ~7, blocks = co8 / 8;
  const int cq = (c_end - c_begin + 3) / 4;
  float *V = scratch + (long)slot * ((long)chunk * (ci4 + co8) + (long)ci4 * co8);
  float *E = V + (long)cq * chunk * 4;
  float *Z = E + (long)blocks * chunk * 8;
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  for (long k = 0; k < (long)cq * blocks * 32; k += 4) wasm_v128_store(Z + k, zero4);
  for (int r0 = 0; r0 < R; r0 += chunk) {
    const int rn = imin(chunk, R - r0);
    for (int rr = 0; rr < rn; rr++) {
      const float *xr = x + (long)(r0 + rr) * Ci;
      for (int q = 0; q < cq; q++) {
        const int c = c_begin + 4 * q;
        wasm_v128_store(V + ((long)q * chunk + rr) * 4, load_upto4(xr + c, imin(4, c_end - c)));
      }
      const float *g = dy + (long)(r0 + rr) * Co;
      for (int o = 0; o < co8; o += 4) {
        const int on = Co - o;
        wasm_v128_store(E + ((long)(o / 8) * chunk + rr) * 8 + (o & 4), on > 0 ? load_upto4(g + o, on) : zero4);
      }
    }
    for (int q = 0; q < cq; q++) {
      for (int ob = 0; ob < blocks; ob++) {
        float *z = Z + ((long)q * blocks + ob) * 32;
        accumulate_4x8(z, 8, 4, V + (long)q * chunk * 4, E + (long)ob * chunk * 8, rn);
      }
    }
  }
  for (int q = 0; q < cq; q++)
    for (int l = 0; l < 4 && c_begin + 4 * q + l < c_end; l++) {
      float *d = dw + (long)(c_begin + 4 * q + l) * Co;
      for (int o = 0; o < Co; o += 4) {
        const v128_t v = wasm_v128_load(Z + ((long)q * blocks + o / 8) * 32 + l * 8 + (o & 4));
        if (Co - o >= 4) wasm_v128_store(d + o, v);
        else store_lanes(d + o, v, Co - o);
      }
    }
}

/*
 * One Adam step with decoupled weight decay (trainer/src/learner/optimizer.ts) over elements
 * [begin, end), in one pass instead of a dozen tfjs ops:
 *   m' = mom * m + (1 - mom) * g,  v' = sqrMom * v + (1 - sqrMom) * g^2,
 *   p' = decay * p - stepSize * m' / (sqrt(v' * invDebias2) + eps).
 * hyper = [mom, sqrMom, eps, decay, stepSize, invDebias2] (floats in memory: the thread pool passes
 * only ints).
 */
EXPORT(adam_step)
void adam_step(const float *p, const float *g, const float *m, const float *v, float *p2, float *m2, float *v2,
               const float *hyper, int begin, int end) {
  const float mom = hyper[0], sqrMom = hyper[1], eps = hyper[2], decay = hyper[3], stepSize = hyper[4], invDebias2 = hyper[5];
  const v128_t vmom = wasm_f32x4_splat(mom), vmom1 = wasm_f32x4_splat(1.f - mom), vsq = wasm_f32x4_splat(sqrMom),
               vsq1 = wasm_f32x4_splat(1.f - sqrMom), veps = wasm_f32x4_splat(eps), vdecay = wasm_f32x4_splat(decay),
               vstep = wasm_f32x4_splat(stepSize), vinv = wasm_f32x4_splat(invDebias2);
  int i = begin;
  for (; i + 4 <= end; i += 4) {
    const v128_t gv = wasm_v128_load(g + i);
    const v128_t mv = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vmom), wasm_f32x4_mul(gv, vmom1));
    const v128_t vv = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vsq), wasm_f32x4_mul(wasm_f32x4_mul(gv, gv), vsq1));
    const v128_t den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_mul(vv, vinv)), veps);
    wasm_v128_store(m2 + i, mv);
    wasm_v128_store(v2 + i, vv);
    wasm_v128_store(p2 + i, wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(p + i), vdecay), wasm_f32x4_mul(wasm_f32x4_div(mv, den), vstep)));
  }
  for (; i < end; i++) {
    const float mv = m[i] * mom + g[i] * (1.f - mom);
    const float vv = v[i] * sqrMom + g[i] * g[i] * (1.f - sqrMom);
    m2[i] = mv;
    v2[i] = vv;
    p2[i] = p[i] * decay - mv / (__builtin_sqrtf(vv * invDebias2) + eps) * stepSize;
  }
}

/* ReLU's input gradient over elements [begin, end): dx = x > 0 ? dy : 0 (tfjs's dy * step(x) in one pass). */
EXPORT(relu_grad)
void relu_grad(const float *dy, const float *x, float *dx, int begin, int end) {
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  int i = begin;
  for (; i + 4 <= end; i += 4)
    wasm_v128_store(dx + i, wasm_v128_and(wasm_v128_load(dy + i), wasm_f32x4_gt(wasm_v128_load(x + i), zero4)));
  for (; i < end; i++) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
}

/*
 * Winograd F(4x4, 3x3): 4x4 output tiles from 6x6 input patches, 36 multiply-adds per tile and channel
 * pair where the direct convolution does 144 (F(2x2, 3x3): 64 for the same 4x4). Lavin & Gray's
 * points 0, +-1, +-2, infinity:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * Its larger coefficients round more than F(2x2, 3x3)'s (about 1e-5 of the largest value in fp32
 * against 1e-6). Same layout and threading as winograd_conv, with 36 matrices instead of 16.
 */
#define F43_BT(t, d)                                                                                                   \
  do {                                                                                                                 \
    const v128_t four = wasm_f32x4_splat(4.f), five = wasm_f32x4_splat(5.f), two = wasm_f32x4_splat(2.f);              \
    t[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four, d[0]), wasm_f32x4_mul(five, d[2])), d[4]);               \
    t[1] = wasm_f32x4_sub(wasm_f32x4_add(d[3], d[4]), wasm_f32x4_mul(four, wasm_f32x4_add(d[1], d[2])));               \
    t[2] = wasm_f32x4_add(wasm_f32x4_sub(d[4], d[3]), wasm_f32x4_mul(four, wasm_f32x4_sub(d[1], d[2])));               \
    t[3] = wasm_f32x4_add(wasm_f32x4_sub(d[4], d[2]), wasm_f32x4_mul(two, wasm_f32x4_sub(d[3], d[1])));                \
    t[4] = wasm_f32x4_add(wasm_f32x4_sub(d[4], d[2]), wasm_f32x4_mul(two, wasm_f32x4_sub(d[1], d[3])));                \
    t[5] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four, d[1]), wasm_f32x4_mul(five, d[3])), d[5]);               \
  } while (0)

EXPORT(winograd43_filter_transform)
void winograd43_filter_transform(const float *w, float *u, int Ci, int Co, int flip, int o_begin, int o_end) {
  const int blocks = (Co + 7) / 8;
  const long uk = (long)blocks * Ci * 8;
  const v128_t q4 = wasm_f32x4_splat(0.25f), s6 = wasm_f32x4_splat(1.f / 6.f), s12 = wasm_f32x4_splat(1.f / 12.f),
               s24 = wasm_f32x4_splat(1.f / 24.f);
  for (int o0 = o_begin; o0 < o_end; o0 += 8) {
    for (int h = 0; h < 8; h += 4) {
      const int on = imin(4, Co - o0 - h);
      for (int c = 0; c < Ci; c++) {
        const float *g = w + (long)c * Co + o0 + h;
        const long tap = (long)Ci * Co;
        const float *gf = w + (long)(o0 + h) * Ci + c;
#define GF(t, l) (on > (l) ? gf[(long)(t) * tap + (long)(l) * Ci] : 0.f)
#define G(i, j) (on <= 0 ? wasm_f32x4_splat(0.f)                                                                      \
                 : !flip ? load_upto4(g + ((i) * 3 + (j)) * tap, on)                                                  \
                 : wasm_f32x4_make(GF(8 - (i) * 3 - (j), 0), GF(8 - (i) * 3 - (j), 1), GF(8 - (i) * 3 - (j), 2), GF(8 - (i) * 3 - (j), 3)))
        v128_t t[6][3];
#pragma clang loop unroll(full)
        for (int j = 0; j < 3; j++) {
          const v128_t g0 = G(0, j), g1 = G(1, j), g2 = G(2, j);
          t[0][j] = wasm_f32x4_mul(q4, g0);
          t[1][j] = wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_add(wasm_f32x4_add(g0, g1), g2)));
          t[2][j] = wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_add(wasm_f32x4_sub(g0, g1), g2)));
          t[3][j] = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(s24, g0), wasm_f32x4_mul(s12, g1)), wasm_f32x4_mul(s6, g2));
          t[4][j] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(s24, g0), wasm_f32x4_mul(s12, g1)), wasm_f32x4_mul(s6, g2));
          t[5][j] = g2;
        }
#undef G
#undef GF
        float *up = u + ((long)o0 / 8 * Ci + c) * 8 + h;
#pragma clang loop unroll(full)
        for (int i = 0; i < 6; i++) {
          const v128_t a = t[i][0], b = t[i][1], d = t[i][2];
          wasm_v128_store(up + (i * 6 + 0) * uk, wasm_f32x4_mul(q4, a));
          wasm_v128_store(up + (i * 6 + 1) * uk, wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_add(wasm_f32x4_add(a, b), d))));
          wasm_v128_store(up + (i * 6 + 2) * uk, wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_add(wasm_f32x4_sub(a, b), d))));
          wasm_v128_store(up + (i * 6 + 3) * uk, wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(s24, a), wasm_f32x4_mul(s12, b)), wasm_f32x4_mul(s6, d)));
          wasm_v128_store(up + (i * 6 + 4) * uk, wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(s24, a), wasm_f32x4_mul(s12, b)), wasm_f32x4_mul(s6, d)));
          wasm_v128_store(up + (i * 6 + 5) * uk, d);
        }
      }
    }
  }
}

EXPORT(winograd43_conv)
void winograd43_conv(const float *x, const float *u, float *y, float *scratch, int N, int H, int W, int Ci, int Ho, int Wo,
                     int Co, int padTop, int padLeft, int chunk, int t_begin, int t_end, int slot) {
  const int ci4 = (Ci + 3) & ~3, co8 = (Co + 7) & ~7;
  const int th = (Ho + 3) / 4, tw = (Wo + 3) / 4;
  const long vk = (long)chunk * ci4 + 16, mk = (long)chunk * co8 + 16;
  float *V = scratch + (long)slot * 36 * (vk + mk);
  float *M = V + 36 * vk;
  const v128_t zero4 = wasm_f32x4_splat(0.f);
  for (int t0 = t_begin; t0 < t_end; t0 += chunk) {
    const int tn = imin(chunk, t_end - t0);
    const int rows = (tn + 3) & ~3;
    for (int tt = 0; tt < rows; tt++) {
      if (tt >= tn) {
        for (int k = 0; k < 36; k++)
          for (int c = 0; c < ci4; c += 4) wasm_v128_store(V + k * vk + (long)tt * ci4 + c, zero4);
        continue;
      }
      const int t = t0 + tt;
      const int n = t / (th * tw), rem = t - n * th * tw, a = rem / tw, b = rem - a * tw;
      const int r0 = 4 * a - padTop, c0 = 4 * b - padLeft;
      const float *xn = x + (long)n * H * W * Ci;
      for (int c = 0; c < ci4; c += 4) {
        const int cn = imin(4, Ci - c);
        v128_t e[6][6];
#pragma clang loop unroll(full)
        for (int i = 0; i < 6; i++) {
          const int r = r0 + i;
          const int rin = r >= 0 && r < H;
          v128_t d[6];
#pragma clang loop unroll(full)
          for (int j = 0; j < 6; j++) {
            const int q = c0 + j;
            d[j] = (rin && q >= 0 && q < W) ? load_upto4(xn + ((long)r * W + q) * Ci + c, cn) : zero4;
          }
          F43_BT(e[i], d); /* d B along the row */
        }
        float *vp = V + (long)tt * ci4 + c;
#pragma clang loop unroll(full)
        for (int j = 0; j < 6; j++) {
          v128_t col[6], out[6];
#pragma clang loop unroll(full)
          for (int i = 0; i < 6; i++) col[i] = e[i][j];
          F43_BT(out, col);
#pragma clang loop unroll(full)
          for (int i = 0; i < 6; i++) wasm_v128_store(vp + (i * 6 + j) * vk, out[i]);
        }
      }
    }
    winograd_products(V, u, M, 36, vk, mk, rows, Ci, ci4, co8);
    const v128_t two = wasm_f32x4_splat(2.f), four = wasm_f32x4_splat(4.f), eight = wasm_f32x4_splat(8.f);
    for (int tt = 0; tt < tn; tt++) {
      const int t = t0 + tt;
      const int n = t / (th * tw), rem = t - n * th * tw, a = rem / tw, b = rem - a * tw;
      const int p0 = 4 * a, q0 = 4 * b;
      for (int o = 0; o < Co; o += 4) {
        const int on = imin(4, Co - o);
        const float *mp = M + (long)tt * co8 + o;
        v128_t s[4][6];
#pragma clang loop unroll(full)
        for (int j = 0; j < 6; j++) { /* A^T M down each column */
          const v128_t m0 = wasm_v128_load(mp + (0 * 6 + j) * mk), m1 = wasm_v128_load(mp + (1 * 6 + j) * mk),
                       m2 = wasm_v128_load(mp + (2 * 6 + j) * mk), m3 = wasm_v128_load(mp + (3 * 6 + j) * mk),
                       m4 = wasm_v128_load(mp + (4 * 6 + j) * mk), m5 = wasm_v128_load(mp + (5 * 6 + j) * mk);
          const v128_t p12 = wasm_f32x4_add(m1, m2), d12 = wasm_f32x4_sub(m1, m2), p34 = wasm_f32x4_add(m3, m4), d34 = wasm_f32x4_sub(m3, m4);
          s[0][j] = wasm_f32x4_add(wasm_f32x4_add(m0, p12), p34);
          s[1][j] = wasm_f32x4_add(d12, wasm_f32x4_mul(two, d34));
          s[2][j] = wasm_f32x4_add(p12, wasm_f32x4_mul(four, p34));
          s[3][j] = wasm_f32x4_add(wasm_f32x4_add(d12, wasm_f32x4_mul(eight, d34)), m5);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++) { /* then along each row */
          if (p0 + i >= Ho) continue;
          const v128_t p12 = wasm_f32x4_add(s[i][1], s[i][2]), d12 = wasm_f32x4_sub(s[i][1], s[i][2]);
          const v128_t p34 = wasm_f32x4_add(s[i][3], s[i][4]), d34 = wasm_f32x4_sub(s[i][3], s[i][4]);
          const v128_t out[4] = {wasm_f32x4_add(wasm_f32x4_add(s[i][0], p12), p34), wasm_f32x4_add(d12, wasm_f32x4_mul(two, d34)),
                                 wasm_f32x4_add(p12, wasm_f32x4_mul(four, p34)), wasm_f32x4_add(wasm_f32x4_add(d12, wasm_f32x4_mul(eight, d34)), s[i][5])};
          float *yr = y + (((long)n * Ho + p0 + i) * Wo + q0) * Co + o;
#pragma clang loop unroll(full)
          for (int j = 0; j < 4; j++) {
            if (q0 + j >= Wo) continue;
            if (on == 4) wasm_v128_store(yr + (long)j * Co, out[j]);
            else store_lanes(yr + (long)j * Co, out[j], on);
          }
        }
      }
    }
  }
}
