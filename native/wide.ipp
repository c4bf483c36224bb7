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
void fwdTiledChunk(const float* __restrict W, size_t Wp, const float* __restrict bias, int c0, int D, int tile,
                   const Csr& X, const int32_t* rows, int B, float* __restrict out, int64_t* __restrict cursor) {
  constexpr int NW = NV * 8 / WIDE;
  constexpr bool TAIL = (NV * 8) % WIDE != 0;
  constexpr int T0 = NW * WIDE;
  const int64_t* st = X.start.data();
  const int32_t* ix = X.idx.data();
  const float* vl = X.val.data();
  for (int b = 0; b < B; b++) cursor[b] = st[rows[b]];
  for (int i0 = 0; i0 < D; i0 += tile) {
    const int i1 = std::min(D, i0 + tile);
    const bool first = i0 == 0, last = i1 == D;
    for (int b = 0; b < B; b++) {
      const int64_t e = st[rows[b] + 1];
      int64_t p = cursor[b];
      if (!first && !last && (p >= e || ix[p] >= i1)) continue;  // no nonzero in this tile: partial sums stay
      float* o = out + static_cast<size_t>(b) * Wp + c0;
      const float* src = first ? bias + c0 : o;
      fw acc[NW > 0 ? NW : 1];
      v8 at = TAIL ? load<v8>(src + T0) : v8{};
#pragma GCC unroll 16
      for (int u = 0; u < NW; u++) acc[u] = load<fw>(src + u * WIDE);
      for (; p < e && ix[p] < i1; p++) {
        const float* w = W + static_cast<size_t>(ix[p]) * Wp + c0;
        const float x = vl[p];
        const fw xv = splatW(x);
#pragma GCC unroll 16
        for (int u = 0; u < NW; u++) acc[u] = fmadd(xv, load<fw>(w + u * WIDE), acc[u]);
        if (TAIL) at = fmadd(splat8(x), load<v8>(w + T0), at);
      }
      cursor[b] = p;
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
void fwdTiled(int nv, bool relu, const float* W, size_t Wp, const float* bias, int c0, int D, int tile,
              const Csr& X, const int32_t* rows, int B, float* out, int64_t* cursor) {
  switch (nv) {
#define BOPT_CASE(N)                                                                            \
  case N:                                                                                       \
    if (relu) return fwdTiledChunk<N, true>(W, Wp, bias, c0, D, tile, X, rows, B, out, cursor); \
    return fwdTiledChunk<N, false>(W, Wp, bias, c0, D, tile, X, rows, B, out, cursor);
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
