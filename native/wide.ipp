// The kernel's hot loops in explicit vectors, included by kernel.cc twice: with BOPT_WIDE 8 (AVX2 + FMA:
// 8-float vectors) and BOPT_WIDE 16 (AVX-512: a pair of 8-float vectors as one 16-float vector, and an
// odd one as an 8-float vector), each in its own namespace and compiled for its instruction set; the
// kernel picks one at run time. Lanes are independent, so every float goes through the same operations
// in both: the two give bit-identical results (tested), and the same as the 8-float loops of kernel.cc
// they replace.
//
// Fused and unfused multiply-adds are spelled out (fmadd vs. mulThenAdd): whether the compiler contracts
// a * b + c depends on its tuning for the CPU (GCC leaves some accumulation chains unfused on AMD Zen),
// and these loops must repeat the operations of the loops they replace exactly.
//
// Chunks of the first layer's output are NV vectors of 8 floats (NV <= 10), at offsets that are
// multiples of 8 floats: loads and stores need only float alignment.

#if BOPT_WIDE == 16
constexpr int WIDE = 16;
typedef float fw __attribute__((vector_size(64)));
typedef int32_t iw __attribute__((vector_size(64)));
#else
constexpr int WIDE = 8;
typedef v8 fw;
typedef v8i iw;
#endif

namespace wide {
template <class V>
inline V load(const float* p) {
  typedef V U __attribute__((aligned(4), may_alias));
  return *reinterpret_cast<const U*>(p);
}
template <class V>
inline void store(float* p, V v) {
  typedef V U __attribute__((aligned(4), may_alias));
  *reinterpret_cast<U*>(p) = v;
}
}  // namespace wide
using wide::load;
using wide::store;
inline v8 splat8(float x) { return reinterpret_cast<v8>(_mm256_set1_ps(x)); }
inline fw splatW(float x) {
#if BOPT_WIDE == 16
  return reinterpret_cast<fw>(_mm512_set1_ps(x));
#else
  return splat8(x);
#endif
}

// a * b + c, rounded once.
inline v8 fmadd(v8 a, v8 b, v8 c) {
  return reinterpret_cast<v8>(
      _mm256_fmadd_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b), reinterpret_cast<__m256>(c)));
}
// c - a * b, rounded once.
inline v8 fnmadd(v8 a, v8 b, v8 c) {
  return reinterpret_cast<v8>(
      _mm256_fnmadd_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b), reinterpret_cast<__m256>(c)));
}
#if BOPT_WIDE == 16
inline fw fmadd(fw a, fw b, fw c) {
  return reinterpret_cast<fw>(
      _mm512_fmadd_ps(reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b), reinterpret_cast<__m512>(c)));
}
inline fw fnmadd(fw a, fw b, fw c) {
  return reinterpret_cast<fw>(
      _mm512_fnmadd_ps(reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b), reinterpret_cast<__m512>(c)));
}
#endif

// a * b rounded, then + c rounded: the empty asm hides the product, so the compiler cannot fuse the two.
template <class V>
inline V mulThenAdd(V a, V b, V c) {
  V p = a * b;
  __asm__("" : "+v"(p));
  return c + p;
}

// max(x, 0) that propagates NaN, as vrelu: a lane is zeroed only when x < 0.
template <class V>
inline V relu(V x) {
  typedef int32_t I __attribute__((vector_size(sizeof(V))));
  const I neg = x < V{};
  return reinterpret_cast<V>(reinterpret_cast<I>(x) & ~neg);
}

// ---- first layer, forward, batch-blocked: fwdChunkTiled in wide vectors (same fused multiply-adds per
// float, in the same order).
template <int NV, bool RELU>
void fwdTiledChunk(const float* __restrict W, size_t Wp, const float* __restrict bias, int c0, const RowTiles& T,
                   float* __restrict out) {
  constexpr int NW = NV * 8 / WIDE;
  constexpr bool TAIL = (NV * 8) % WIDE != 0;
  constexpr int T0 = NW * WIDE;
  const int B = T.B;
  const int32_t* __restrict ix = T.idx;
  const float* __restrict vl = T.val;
  for (int t = 0; t < T.nTiles; t++) {
    const bool first = t == 0, last = t == T.nTiles - 1;
    const int32_t* st = T.start + static_cast<size_t>(t) * (B + 1);
    for (int b = 0; b < B; b++) {
      const int32_t ps = st[b], pe = st[b + 1];
      if (!first && !last && ps == pe) continue;  // no nonzero in this tile: partial sums stay
      float* o = out + static_cast<size_t>(b) * Wp + c0;
      const float* src = first ? bias + c0 : o;
      fw acc[NW > 0 ? NW : 1];
      v8 at = TAIL ? load<v8>(src + T0) : v8{};
#pragma GCC unroll 16
      for (int u = 0; u < NW; u++) acc[u] = load<fw>(src + u * WIDE);
      for (int32_t p = ps; p < pe; p++) {
        const float* w = W + static_cast<size_t>(ix[p]) * Wp + c0;
        const float x = vl[p];
        const fw xv = splatW(x);
#pragma GCC unroll 16
        for (int u = 0; u < NW; u++) acc[u] = fmadd(xv, load<fw>(w + u * WIDE), acc[u]);
        if (TAIL) at = fmadd(splat8(x), load<v8>(w + T0), at);
      }
      if (RELU && last) {
#pragma GCC unroll 16
        for (int u = 0; u < NW; u++) store(o + u * WIDE, relu(acc[u]));
        if (TAIL) store(o + T0, relu(at));
      } else {
#pragma GCC unroll 16
        for (int u = 0; u < NW; u++) store(o + u * WIDE, acc[u]);
        if (TAIL) store(o + T0, at);
      }
    }
  }
}

// nv in [2, 10] (one vector: the 8-float loop of kernel.cc, whose sums the compiler may leave unfused).
void fwdTiled(int nv, bool relu, const float* W, size_t Wp, const float* bias, int c0, const RowTiles& T, float* out) {
  switch (nv) {
#define BOPT_CASE(N)                                                  \
  case N:                                                             \
    if (relu) return fwdTiledChunk<N, true>(W, Wp, bias, c0, T, out); \
    return fwdTiledChunk<N, false>(W, Wp, bias, c0, T, out);
    BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5) BOPT_CASE(6)
    BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

// ---- hidden error of one chunk (NV vectors): E = relu'(pre) * (W2 delta), gb1 += E, every class's term of
// the chunk in registers at once. The classes are summed in order from zero, each product rounded before
// it is added: the operations of a loop over one vector at a time, without its latency-bound chain.
template <int NV>
void hiddenErrorChunk(const float* __restrict H, const float* __restrict W2T, const float* __restrict delta, int B,
                      int C, size_t Wp, int c0, float* __restrict E, float* __restrict gb1) {
  constexpr int NW = NV * 8 / WIDE;
  constexpr bool TAIL = (NV * 8) % WIDE != 0;
  constexpr int T0 = NW * WIDE;
  for (int b = 0; b < B; b++) {
    const float* h = H + static_cast<size_t>(b) * Wp + c0;
    float* e = E + static_cast<size_t>(b) * Wp + c0;
    const float* d = delta + static_cast<size_t>(b) * C;
    fw acc[NW > 0 ? NW : 1];
    v8 at = v8{};
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) acc[u] = fw{};
    for (int k = 0; k < C; k++) {
      const float* w = W2T + static_cast<size_t>(k) * Wp + c0;
      const fw dk = splatW(d[k]);
#pragma GCC unroll 16
      for (int u = 0; u < NW; u++) acc[u] = mulThenAdd(dk, load<fw>(w + u * WIDE), acc[u]);
      if (TAIL) at = mulThenAdd(splat8(d[k]), load<v8>(w + T0), at);
    }
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) {
      const iw pos = load<fw>(h + u * WIDE) > fw{};
      const fw ev = reinterpret_cast<fw>(reinterpret_cast<iw>(acc[u]) & pos);
      store(e + u * WIDE, ev);
      store(gb1 + c0 + u * WIDE, load<fw>(gb1 + c0 + u * WIDE) + ev);
    }
    if (TAIL) {
      const v8i pos = load<v8>(h + T0) > v8{};
      const v8 ev = reinterpret_cast<v8>(reinterpret_cast<v8i>(at) & pos);
      store(e + T0, ev);
      store(gb1 + c0 + T0, load<v8>(gb1 + c0 + T0) + ev);
    }
  }
}

// nv in [1, 10].
void hiddenError(int nv, const float* H, const float* W2T, const float* delta, int B, int C, size_t Wp, int c0,
                 float* E, float* gb1) {
  switch (nv) {
#define BOPT_CASE(N) \
  case N:            \
    return hiddenErrorChunk<N>(H, W2T, delta, B, C, Wp, c0, E, gb1);
    BOPT_CASE(1) BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5)
    BOPT_CASE(6) BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

// ---- first layer, weight gradient of the touched rows with the update fused (bwdChunk, bwdChunkTiled and
// applyRowGradient of kernel.cc in wide vectors). MODE 0: SGD, 1: momentum, 2: store the gradient in G.
template <int NV>
struct RowAcc {
  static constexpr int NW = NV * 8 / WIDE;
  static constexpr bool TAIL = (NV * 8) % WIDE != 0;
  static constexpr int T0 = NW * WIDE;
  fw w[NW > 0 ? NW : 1];
  v8 t;
  inline __attribute__((always_inline)) void zero() {
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) w[u] = fw{};
    t = v8{};
  }
  inline __attribute__((always_inline)) void load(const float* p) {
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) w[u] = wide::load<fw>(p + u * WIDE);
    if (TAIL) t = wide::load<v8>(p + T0);
  }
  inline __attribute__((always_inline)) void store(float* p) const {
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) wide::store(p + u * WIDE, w[u]);
    if (TAIL) wide::store(p + T0, t);
  }
  // += x * e, fused
  inline __attribute__((always_inline)) void fma(float x, const float* e) {
    const fw xv = splatW(x);
#pragma GCC unroll 16
    for (int u = 0; u < NW; u++) w[u] = fmadd(xv, wide::load<fw>(e + u * WIDE), w[u]);
    if (TAIL) t = fmadd(splat8(x), wide::load<v8>(e + T0), t);
  }
};

// g = acc + l2 w; then A = m A + g, w -= lr A (mode 1), w -= lr g (mode 0) or G = g (mode 2)
template <class V, int MODE>
inline __attribute__((always_inline)) void applyVector(float* w, float* a, float* g, V acc, V vlr, V vm, V vl2) {
  const V wv = load<V>(w);
  const V gv = fmadd(vl2, wv, acc);
  if (MODE == 2) {
    store(g, gv);
  } else if (MODE == 1) {
    const V av = fmadd(vm, load<V>(a), gv);
    store(a, av);
    store(w, fnmadd(vlr, av, wv));
  } else {
    store(w, fnmadd(vlr, gv, wv));
  }
}

template <int NV, int MODE>
inline __attribute__((always_inline)) void applyRow(float* W, float* A, float* G, size_t Wp, int c0, size_t i,
                                                    const RowAcc<NV>& acc, float lr, float m, float l2) {
  typedef RowAcc<NV> R;
  const size_t o = i * Wp + c0;
  const fw vlr = splatW(lr), vm = splatW(m), vl2 = splatW(l2);
#pragma GCC unroll 16
  for (int u = 0; u < R::NW; u++)
    applyVector<fw, MODE>(W + o + u * WIDE, A + o + u * WIDE, G + o + u * WIDE, acc.w[u], vlr, vm, vl2);
  if (R::TAIL)
    applyVector<v8, MODE>(W + o + R::T0, A + o + R::T0, G + o + R::T0, acc.t, splat8(lr), splat8(m), splat8(l2));
}

template <int NV, int MODE>
void bwdUntiledChunk(float* __restrict W, float* __restrict A, float* __restrict G, size_t Wp, int c0, const Cols& c,
                     const float* __restrict E, float lr, float m, float l2) {
  for (int r = 0; r < c.nTouched; r++) {
    const size_t i = static_cast<size_t>(c.touched[r]);
    if (r + 2 < c.nTouched) {
      const size_t inext = static_cast<size_t>(c.touched[r + 2]);
      prefetchChunkW<NV>(W + inext * Wp + c0);
      if (MODE == 1) prefetchChunkW<NV>(A + inext * Wp + c0);
    }
    RowAcc<NV> acc;
    acc.zero();
    const int pe = c.start[r + 1];
    for (int p = c.start[r]; p < pe; p++) {
      if (p + PF_DIST < pe) prefetchChunk<NV>(E + static_cast<size_t>(c.b[p + PF_DIST]) * Wp + c0);
      acc.fma(c.v[p], E + static_cast<size_t>(c.b[p]) * Wp + c0);
    }
    applyRow<NV, MODE>(W, A, G, Wp, c0, i, acc, lr, m, l2);
  }
}

template <int NV, int MODE>
void bwdTiledChunk(float* __restrict W, float* __restrict A, float* __restrict G, size_t Wp, int c0, const Cols& c,
                   const float* __restrict E, float lr, float m, float l2) {
  const int stride = c.nTouched + 1;
  const int nTiles = c.nTiles;
  for (int t = 0; t < nTiles; t++) {
    const bool first = t == 0, last = t == nTiles - 1;
    const int32_t* st = c.start + static_cast<size_t>(t) * stride;
    for (int r = 0; r < c.nTouched; r++) {
      const int ps = st[r], pe = st[r + 1];
      // a row without entries in a middle tile keeps its partial sum where it is
      if (!first && !last && ps == pe) continue;
      const size_t i = static_cast<size_t>(c.touched[r]);
      float* __restrict part = c.partial + static_cast<size_t>(r) * Wp + c0;
      if (r + 2 < c.nTouched) {
        if (last) {
          const size_t inext = static_cast<size_t>(c.touched[r + 2]);
          prefetchChunkW<NV>(W + inext * Wp + c0);
          if (MODE == 1) prefetchChunkW<NV>(A + inext * Wp + c0);
        }
        if (!first) prefetchChunkW<NV>(part + 2 * Wp);
      }
      RowAcc<NV> acc;
      if (first)
        acc.zero();
      else
        acc.load(part);
      for (int p = ps; p < pe; p++) acc.fma(c.v[p], E + static_cast<size_t>(c.b[p]) * Wp + c0);
      if (!last) {
        acc.store(part);
        continue;
      }
      applyRow<NV, MODE>(W, A, G, Wp, c0, i, acc, lr, m, l2);
    }
  }
}

// nv in [2, 10].
template <int MODE>
void bwd(int nv, float* W, float* A, float* G, size_t Wp, int c0, const Cols& c, const float* E, float lr, float m,
         float l2) {
  switch (nv) {
#define BOPT_CASE(N)                                                                              \
  case N:                                                                                         \
    if (c.nTiles > 1) return bwdTiledChunk<N, MODE>(W, A, G, Wp, c0, c, E, lr, m, l2); \
    return bwdUntiledChunk<N, MODE>(W, A, G, Wp, c0, c, E, lr, m, l2);
    BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5) BOPT_CASE(6)
    BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

// ---- one example (B = 1) and small batches: whole rows of W1 (and A) at a time instead of a chunk of every
// row per pass, so that each row streams from memory once, in order (the hardware prefetcher follows it).
// Per float the operations are those of the chunked loops.

// a * b rounded (not fused into what uses it).
template <class V>
inline V mulRounded(V a, V b) {
  V p = a * b;
  __asm__("" : "+v"(p));
  return p;
}

// w, A of one vector brought up to date by M^k (catchUpRow's operations), in registers.
template <class V, bool MOM>
inline __attribute__((always_inline)) void catchUpVector(V& wv, V& av, V pa, V pb, V pc, V pd) {
  if (!MOM) {
    wv = mulRounded(pa, wv);
    return;
  }
  const V nw = fmadd(pa, wv, mulRounded(pb, av));
  av = fmadd(pc, wv, mulRounded(pd, av));
  wv = nw;
}

// out[0 .. Wp) = bias + sum over the example's nonzeros (i, x), in order, of x * W1[i] (each row first
// brought up to date when lazy: last[i] < t), then relu (RELU). Wp >= 16. The rows brought up to date are
// not stored: bwdRows, which writes them anyway, brings them up to date again by the same operations
// (half the writes to memory that this step's rows cost).
template <bool RELU, bool MOM>
void fwdOneRows(float* __restrict W, float* __restrict A, size_t Wp, const float* __restrict bias, const int32_t* ix,
                const float* vl, int64_t s, int64_t e, const int64_t* last, int64_t t, const float* pw,
                float* __restrict out) {
  const size_t nw = Wp / WIDE * WIDE;
  for (size_t v = 0; v < Wp; v += 8) store(out + v, load<v8>(bias + v));
  for (int64_t p = s; p < e; p++) {
    const size_t i = static_cast<size_t>(ix[p]);
    float* w = W + i * Wp;
    float* a = A + i * Wp;
    const float* wn = p + 1 < e ? W + static_cast<size_t>(ix[p + 1]) * Wp : w;
    const float* an = p + 1 < e ? A + static_cast<size_t>(ix[p + 1]) * Wp : a;
    const float x = vl[p];
    const int64_t k = last ? t - last[i] : 0;
    if (k > 0) {
      const float* P = pw + 4 * k;
      const fw pa = splatW(P[0]), pb = splatW(P[1]), pc = splatW(P[2]), pd = splatW(P[3]), xv = splatW(x);
      size_t v = 0;
      for (; v < nw; v += WIDE) {
        __builtin_prefetch(wn + v, 0, 3);
        if (MOM) __builtin_prefetch(an + v, 0, 3);
        fw wv = load<fw>(w + v), av = MOM ? load<fw>(a + v) : fw{};
        catchUpVector<fw, MOM>(wv, av, pa, pb, pc, pd);
        store(out + v, fmadd(xv, wv, load<fw>(out + v)));
      }
      if (v < Wp) {
        v8 wv = load<v8>(w + v), av = MOM ? load<v8>(a + v) : v8{};
        catchUpVector<v8, MOM>(wv, av, splat8(P[0]), splat8(P[1]), splat8(P[2]), splat8(P[3]));
        store(out + v, fmadd(splat8(x), wv, load<v8>(out + v)));
      }
    } else {
      const fw xv = splatW(x);
      size_t v = 0;
      for (; v < nw; v += WIDE) {
        __builtin_prefetch(wn + v, 0, 3);
        if (MOM) __builtin_prefetch(an + v, 0, 3);
        store(out + v, fmadd(xv, load<fw>(w + v), load<fw>(out + v)));
      }
      if (v < Wp) store(out + v, fmadd(splat8(x), load<v8>(w + v), load<v8>(out + v)));
    }
  }
  if (RELU)
    for (size_t v = 0; v < Wp; v += 8) store(out + v, relu(load<v8>(out + v)));
}

void fwdOne(bool relu, bool mom, float* W, float* A, size_t Wp, const float* bias, const int32_t* ix, const float* vl,
            int64_t s, int64_t e, const int64_t* last, int64_t t, const float* pw, float* out) {
  if (relu) {
    if (mom) return fwdOneRows<true, true>(W, A, Wp, bias, ix, vl, s, e, last, t, pw, out);
    return fwdOneRows<true, false>(W, A, Wp, bias, ix, vl, s, e, last, t, pw, out);
  }
  if (mom) return fwdOneRows<false, true>(W, A, Wp, bias, ix, vl, s, e, last, t, pw, out);
  return fwdOneRows<false, false>(W, A, Wp, bias, ix, vl, s, e, last, t, pw, out);
}

// The weight gradient and fused update of whole touched rows, one tile of examples (c.nTiles == 1):
// bwdUntiledChunk over every chunk of a row before the next row. Wp >= 16. A row with last[r] < t (lazy,
// not yet brought up to date: fwdOneRows) is first brought up to date in registers, as catchUpRow would.
template <class V, int MODE>
inline __attribute__((always_inline)) void applyCaughtUp(float* w, float* a, float* g, V acc, V vlr, V vm, V vl2,
                                                         bool lag, bool mom, V pa, V pb, V pc, V pd) {
  V wv = load<V>(w);
  V av = MODE == 1 ? load<V>(a) : V{};
  if (lag) {
    if (mom)
      catchUpVector<V, true>(wv, av, pa, pb, pc, pd);
    else
      catchUpVector<V, false>(wv, av, pa, pb, pc, pd);
  }
  const V gv = fmadd(vl2, wv, acc);
  if (MODE == 2) {
    store(g, gv);
  } else if (MODE == 1) {
    const V an = fmadd(vm, av, gv);
    store(a, an);
    store(w, fnmadd(vlr, an, wv));
  } else {
    store(w, fnmadd(vlr, gv, wv));
  }
}

template <int MODE>
void bwdRows(float* __restrict W, float* __restrict A, float* __restrict G, size_t Wp, const Cols& c,
             const float* __restrict E, float lr, float m, float l2, const int64_t* last, int64_t t, const float* pw) {
  const size_t nw = Wp / WIDE * WIDE;
  const fw vlr = splatW(lr), vm = splatW(m), vl2 = splatW(l2);
  const bool mom = MODE == 1;
  // last row first: the rows the forward pass read last are the likeliest still in cache
  for (int r = c.nTouched - 1; r >= 0; r--) {
    const size_t i = static_cast<size_t>(c.touched[r]);
    const size_t o = i * Wp;
    const size_t on = r > 0 ? static_cast<size_t>(c.touched[r - 1]) * Wp : o;
    const int ps = c.start[r], pe = c.start[r + 1];
    const int64_t k = last ? t - last[i] : 0;
    const float* P = pw + 4 * (k > 0 ? k : 0);
    const fw pa = splatW(P[0]), pb = splatW(P[1]), pc = splatW(P[2]), pd = splatW(P[3]);
    size_t v = 0;
    if (k > 0) {
      for (; v < nw; v += WIDE) {
        __builtin_prefetch(W + on + v, 1, 3);
        if (MODE == 1) __builtin_prefetch(A + on + v, 1, 3);
        fw acc = fw{};
        for (int p = ps; p < pe; p++)
          acc = fmadd(splatW(c.v[p]), load<fw>(E + static_cast<size_t>(c.b[p]) * Wp + v), acc);
        applyCaughtUp<fw, MODE>(W + o + v, A + o + v, G + o + v, acc, vlr, vm, vl2, true, mom, pa, pb, pc, pd);
      }
    } else {
      for (; v < nw; v += WIDE) {
        __builtin_prefetch(W + on + v, 1, 3);
        if (MODE == 1) __builtin_prefetch(A + on + v, 1, 3);
        fw acc = fw{};
        for (int p = ps; p < pe; p++)
          acc = fmadd(splatW(c.v[p]), load<fw>(E + static_cast<size_t>(c.b[p]) * Wp + v), acc);
        applyCaughtUp<fw, MODE>(W + o + v, A + o + v, G + o + v, acc, vlr, vm, vl2, false, mom, pa, pb, pc, pd);
      }
    }
    if (v < Wp) {
      v8 acc = v8{};
      for (int p = ps; p < pe; p++)
        acc = fmadd(splat8(c.v[p]), load<v8>(E + static_cast<size_t>(c.b[p]) * Wp + v), acc);
      applyCaughtUp<v8, MODE>(W + o + v, A + o + v, G + o + v, acc, splat8(lr), splat8(m), splat8(l2), k > 0, mom,
                              splat8(P[0]), splat8(P[1]), splat8(P[2]), splat8(P[3]));
    }
  }
}

// ---- logits of NB examples at once: logitsGroup (kernel.cc) per example, with the NB examples' sums in
// registers together instead of K latency-bound chains at a time. Each (example, class) still sums its
// 8-float vectors in order and reduces them by hsum: the same numbers.
template <int NB, int K>
inline __attribute__((always_inline)) void logitsBlock(const float* __restrict H, size_t Wp,
                                                       const float* __restrict W2T, const float* __restrict b2,
                                                       int k0, int C, float* __restrict lg) {
  v8 acc[NB][K];
#pragma GCC unroll 16
  for (int b = 0; b < NB; b++)
#pragma GCC unroll 4
    for (int j = 0; j < K; j++) acc[b][j] = v8{};
  for (size_t v = 0; v < Wp; v += 8) {
    v8 w[K];
#pragma GCC unroll 4
    for (int j = 0; j < K; j++) w[j] = load<v8>(W2T + static_cast<size_t>(k0 + j) * Wp + v);
#pragma GCC unroll 16
    for (int b = 0; b < NB; b++) {
      const v8 hv = load<v8>(H + static_cast<size_t>(b) * Wp + v);
#pragma GCC unroll 4
      for (int j = 0; j < K; j++) acc[b][j] = fmadd(hv, w[j], acc[b][j]);
    }
  }
#pragma GCC unroll 16
  for (int b = 0; b < NB; b++)
#pragma GCC unroll 4
    for (int j = 0; j < K; j++) lg[static_cast<size_t>(b) * C + k0 + j] = b2[k0 + j] + hsum(acc[b][j]);
}

template <int NB>
void logitsRows(const float* H, size_t Wp, const float* W2T, const float* b2, int C, float* lg) {
  int k = 0;
  for (; k + 4 <= C; k += 4) logitsBlock<NB, 4>(H, Wp, W2T, b2, k, C, lg);
  if (C - k == 3) logitsBlock<NB, 3>(H, Wp, W2T, b2, k, C, lg);
  if (C - k == 2) logitsBlock<NB, 2>(H, Wp, W2T, b2, k, C, lg);
}

// lg[b, k] for b < B and the classes k < C - C % 4 (C % 4 == 1: the caller does the last one) and the rest
// of a group of 4 when C % 4 is 2 or 3.
void logits(const float* H, size_t Wp, const float* W2T, const float* b2, int B, int C, float* lg) {
#if BOPT_WIDE == 16
  constexpr int NB = 4;  // 16 of the 32 vector registers of AVX-512 hold the sums
#else
  constexpr int NB = 2;  // 8 of the 16 of AVX2
#endif
  int b = 0;
  for (; b + NB <= B; b += NB)
    logitsRows<NB>(H + static_cast<size_t>(b) * Wp, Wp, W2T, b2, C, lg + static_cast<size_t>(b) * C);
  for (; b < B; b++) logitsRows<1>(H + static_cast<size_t>(b) * Wp, Wp, W2T, b2, C, lg + static_cast<size_t>(b) * C);
}
