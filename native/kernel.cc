#include "kernel.hpp"

#include <algorithm>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // sysconf: the L1 data cache's size
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BOPT_X86 1
#endif

namespace bopt {

namespace {

// Flush denormals to zero (FTZ) and treat denormal inputs as zero (DAZ) while a kernel call runs, and
// restore the caller's state after: JavaScript in the same thread keeps IEEE semantics. Denormals made
// B = 1 with momentum 10x slower (the decaying momentum buffers of untouched rows go subnormal).
struct DenormalGuard {
#ifdef BOPT_X86
  unsigned saved;
  DenormalGuard() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~DenormalGuard() { _mm_setcsr(saved); }
#endif
};

inline int roundUp8(int x) { return (x + 7) & ~7; }

// Software prefetch of a row chunk a few nonzeros ahead: the row chunks come from L2/L3 in an order
// the hardware prefetcher cannot guess.
constexpr int PF_DIST = 4;
template <int NV>
inline void prefetchChunk(const float* p) {
#pragma GCC unroll 8
  for (int q = 0; q < NV * 8; q += 16) __builtin_prefetch(p + q, 0, 3);
  if ((NV * 8) % 16) __builtin_prefetch(p + NV * 8 - 1, 0, 3);
}
template <int NV>
inline void prefetchChunkW(const float* p) {
#pragma GCC unroll 8
  for (int q = 0; q < NV * 8; q += 16) __builtin_prefetch(p + q, 1, 3);
  if ((NV * 8) % 16) __builtin_prefetch(p + NV * 8 - 1, 1, 3);
}

// ---- B = 1 with lazy updates: the forward pass brings each row chunk up to date (closed form) as it
// reads it, instead of a separate catch-up pass over the touched rows.
template <int NV, bool RELU, bool MOM>
void fwdChunkCatchUp(float* __restrict W, float* __restrict A, size_t Wp, const float* __restrict bias, int c0,
                     const int32_t* ix, const float* vl, int64_t s, int64_t e, const int64_t* last, int64_t t,
                     const float* pw, float* __restrict out) {
  v8 acc[NV];
#pragma GCC unroll 16
  for (int u = 0; u < NV; u++) acc[u] = vload(bias + c0 + 8 * u);
  for (int64_t p = s; p < e; p++) {
    const size_t i = static_cast<size_t>(ix[p]);
    float* w = W + i * Wp + c0;
    if (p + PF_DIST < e) {
      prefetchChunkW<NV>(W + static_cast<size_t>(ix[p + PF_DIST]) * Wp + c0);
      if (MOM) prefetchChunkW<NV>(A + static_cast<size_t>(ix[p + PF_DIST]) * Wp + c0);
    }
    const v8 xv = vbc(vl[p]);
    const int64_t k = t - last[i];
    if (k > 0) {
      const float* P = pw + 4 * k;
      const v8 pa = vbc(P[0]);
      if (MOM) {
        float* a = A + i * Wp + c0;
        const v8 pb = vbc(P[1]), pc = vbc(P[2]), pd = vbc(P[3]);
#pragma GCC unroll 16
        for (int u = 0; u < NV; u++) {
          const v8 wv = vload(w + 8 * u), av = vload(a + 8 * u);
          const v8 nw = pa * wv + pb * av;
          vstore(w + 8 * u, nw);
          vstore(a + 8 * u, pc * wv + pd * av);
          acc[u] += xv * nw;
        }
      } else {
#pragma GCC unroll 16
        for (int u = 0; u < NV; u++) {
          const v8 nw = pa * vload(w + 8 * u);
          vstore(w + 8 * u, nw);
          acc[u] += xv * nw;
        }
      }
    } else {
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) acc[u] += xv * vload(w + 8 * u);
    }
  }
#pragma GCC unroll 16
  for (int u = 0; u < NV; u++) vstore(out + c0 + 8 * u, RELU ? vrelu(acc[u]) : acc[u]);
}

template <bool RELU, bool MOM>
void fwdCatchUpDispatch(int nv, float* W, float* A, size_t Wp, const float* bias, int c0, const int32_t* ix,
                        const float* vl, int64_t s, int64_t e, const int64_t* last, int64_t t, const float* pw,
                        float* out) {
  switch (nv) {
#define BOPT_CASE(N) \
  case N:            \
    return fwdChunkCatchUp<N, RELU, MOM>(W, A, Wp, bias, c0, ix, vl, s, e, last, t, pw, out);
    BOPT_CASE(1) BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5)
    BOPT_CASE(6) BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

// ---- first layer, forward: out[b, c0 .. c0+8NV) = bias + sum over nonzeros (i, v) of row b: v * W1[i, .]
template <int NV, bool RELU>
void fwdChunk(const float* __restrict W, size_t Wp, const float* __restrict bias, int c0, const Csr& X,
              const int32_t* rows, int B, float* __restrict out) {
  const int64_t* st = X.start.data();
  const int32_t* ix = X.idx.data();
  const float* vl = X.val.data();
  for (int b = 0; b < B; b++) {
    v8 acc[NV];
#pragma GCC unroll 16
    for (int u = 0; u < NV; u++) acc[u] = vload(bias + c0 + 8 * u);
    const int64_t s = st[rows[b]], e = st[rows[b] + 1];
    for (int64_t p = s; p < e; p++) {
      const float* w = W + static_cast<size_t>(ix[p]) * Wp + c0;
      if (p + PF_DIST < e) prefetchChunk<NV>(W + static_cast<size_t>(ix[p + PF_DIST]) * Wp + c0);
      const v8 xv = vbc(vl[p]);
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) acc[u] += xv * vload(w + 8 * u);
    }
    float* o = out + static_cast<size_t>(b) * Wp + c0;
#pragma GCC unroll 16
    for (int u = 0; u < NV; u++) vstore(o + 8 * u, RELU ? vrelu(acc[u]) : acc[u]);
  }
}

// ---- first layer, forward, batch-blocked (B >= FWD_TILE_MIN_B; FWD_TILE_MIN_B_16 with 16-float loops): the
// rows of W1 are cut into tiles of rows whose chunk stays in L1 while every example of the batch passes
// through it; each example keeps its partial sums in `out` between tiles. The nonzeros of the batch are packed tile by tile first (RowTiles),
// so each tile's pass reads them in order instead of from wherever each example's row lies. Every example
// still sums its nonzeros in the same order as fwdChunk (a float store/reload is exact), so results are
// bit-identical to the unblocked loop.
template <int NV, bool RELU>
void fwdChunkTiled(const float* __restrict W, size_t Wp, const float* __restrict bias, int c0, const RowTiles& T,
                   float* __restrict out) {
  const int B = T.B;
  for (int t = 0; t < T.nTiles; t++) {
    const bool first = t == 0, last = t == T.nTiles - 1;
    const int32_t* st = T.start + static_cast<size_t>(t) * (B + 1);
    for (int b = 0; b < B; b++) {
      const int32_t ps = st[b], pe = st[b + 1];
      if (!first && !last && ps == pe) continue;  // no nonzero in this tile: partial sums stay
      float* o = out + static_cast<size_t>(b) * Wp + c0;
      v8 acc[NV];
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) acc[u] = first ? vload(bias + c0 + 8 * u) : vload(o + 8 * u);
      for (int32_t p = ps; p < pe; p++) {
        const float* w = W + static_cast<size_t>(T.idx[p]) * Wp + c0;
        const v8 xv = vbc(T.val[p]);
#pragma GCC unroll 16
        for (int u = 0; u < NV; u++) acc[u] += xv * vload(w + 8 * u);
      }
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) vstore(o + 8 * u, (RELU && last) ? vrelu(acc[u]) : acc[u]);
    }
  }
}

template <bool RELU>
void fwdDispatch(int nv, const float* W, size_t Wp, const float* bias, int c0, const RowTiles* T, const Csr& X,
                 const int32_t* rows, int B, float* out) {
  switch (nv) {
#define BOPT_CASE(N)                                                             \
  case N:                                                                        \
    if (T) return fwdChunkTiled<N, RELU>(W, Wp, bias, c0, *T, out);                             \
    return fwdChunk<N, RELU>(W, Wp, bias, c0, X, rows, B, out);
    BOPT_CASE(1) BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5)
    BOPT_CASE(6) BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

struct Cols {
  const int32_t* touched;
  int nTouched;
  // Batch tile t, touched row r: the entries start[t * (nTouched + 1) + r] .. start[t * (nTouched + 1) + r + 1]
  // of b (example, increasing) and v (its input value); the tiles' entries follow each other.
  const int32_t* start;
  const int32_t* b;
  const float* v;
  int nTiles;
  // nTiles > 1: partial sums of the rows' gradients between tiles, touched row r at partial + r * Wp
  float* partial;
};

// The end of a W1 row chunk's gradient, shared by the untiled and the tiled loops: add the L2 term
// and apply the update at once (mode 0: SGD, 1: momentum) or store the gradient in G (mode 2).
template <int NV, int MODE>
inline __attribute__((always_inline)) void applyRowGradient(float* __restrict W, float* __restrict A,
                                                            float* __restrict G, size_t Wp, int c0, size_t i,
                                                            const v8* acc, v8 vlr, v8 vm, v8 vl2) {
  float* w = W + i * Wp + c0;
#pragma GCC unroll 16
  for (int u = 0; u < NV; u++) {
    const v8 wv = vload(w + 8 * u);
    const v8 g = acc[u] + vl2 * wv;
    if (MODE == 2) {
      vstore(G + i * Wp + c0 + 8 * u, g);
    } else if (MODE == 1) {
      float* a = A + i * Wp + c0 + 8 * u;
      const v8 av = vm * vload(a) + g;
      vstore(a, av);
      vstore(w + 8 * u, wv - vlr * av);
    } else {
      vstore(w + 8 * u, wv - vlr * g);
    }
  }
}

// ---- first layer, weight gradient of the touched rows, applied at once (fused update) or stored (GRAD).
// mode 0: plain SGD, 1: momentum, 2: store the gradient in G.
template <int NV, int MODE>
void bwdChunk(float* __restrict W, float* __restrict A, float* __restrict G, size_t Wp, int c0, const Cols& c,
              const float* __restrict E, float lr, float m, float l2) {
  const v8 vlr = vbc(lr), vm = vbc(m), vl2 = vbc(l2);
  for (int r = 0; r < c.nTouched; r++) {
    const size_t i = static_cast<size_t>(c.touched[r]);
    if (r + 2 < c.nTouched) {
      const size_t inext = static_cast<size_t>(c.touched[r + 2]);
      prefetchChunkW<NV>(W + inext * Wp + c0);
      if (MODE == 1) prefetchChunkW<NV>(A + inext * Wp + c0);
    }
    v8 acc[NV];
#pragma GCC unroll 16
    for (int u = 0; u < NV; u++) acc[u] = v8{};
    const int pe = c.start[r + 1];
    for (int p = c.start[r]; p < pe; p++) {
      if (p + PF_DIST < pe) prefetchChunk<NV>(E + static_cast<size_t>(c.b[p + PF_DIST]) * Wp + c0);
      const float* e = E + static_cast<size_t>(c.b[p]) * Wp + c0;
      const v8 xv = vbc(c.v[p]);
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) acc[u] += xv * vload(e + 8 * u);
    }
    applyRowGradient<NV, MODE>(W, A, G, Wp, c0, i, acc, vlr, vm, vl2);
  }
}

// ---- the same, batch-blocked (c.nTiles > 1, B >= BWD_TILE_MIN_B): the examples are cut into tiles whose rows of E (this chunk's slice)
// stay in L1 while every touched row takes its entries from them; a row's partial sum waits in
// c.partial between tiles. Each row still sums its examples in increasing order from zero (a float
// store/reload is exact), so the result is bit-identical to one tile.
template <int NV, int MODE>
void bwdChunkTiled(float* __restrict W, float* __restrict A, float* __restrict G, size_t Wp, int c0, const Cols& c,
              const float* __restrict E, float lr, float m, float l2) {
  const v8 vlr = vbc(lr), vm = vbc(m), vl2 = vbc(l2);
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
      v8 acc[NV];
#pragma GCC unroll 16
      for (int u = 0; u < NV; u++) acc[u] = first ? v8{} : vload(part + 8 * u);
      for (int p = ps; p < pe; p++) {
        const float* e = E + static_cast<size_t>(c.b[p]) * Wp + c0;
        const v8 xv = vbc(c.v[p]);
#pragma GCC unroll 16
        for (int u = 0; u < NV; u++) acc[u] += xv * vload(e + 8 * u);
      }
      if (!last) {
#pragma GCC unroll 16
        for (int u = 0; u < NV; u++) vstore(part + 8 * u, acc[u]);
        continue;
      }
      applyRowGradient<NV, MODE>(W, A, G, Wp, c0, i, acc, vlr, vm, vl2);
    }
  }
}

template <int MODE>
void bwdDispatch(int nv, float* W, float* A, float* G, size_t Wp, int c0, const Cols& c, const float* E, float lr,
                 float m, float l2) {
  switch (nv) {
#define BOPT_CASE(N) \
  case N:            \
    return c.nTiles > 1 ? bwdChunkTiled<N, MODE>(W, A, G, Wp, c0, c, E, lr, m, l2) \
                        : bwdChunk<N, MODE>(W, A, G, Wp, c0, c, E, lr, m, l2);
    BOPT_CASE(1) BOPT_CASE(2) BOPT_CASE(3) BOPT_CASE(4) BOPT_CASE(5)
    BOPT_CASE(6) BOPT_CASE(7) BOPT_CASE(8) BOPT_CASE(9) BOPT_CASE(10)
#undef BOPT_CASE
  }
}

// logits[b, k0 .. k0+K) = b2 + W2T[k] . h[b]
template <int K>
void logitsGroup(const float* __restrict h, const float* __restrict W2T, const float* b2, size_t Wp, int k0,
                 float* lg) {
  v8 acc[K];
  for (int j = 0; j < K; j++) acc[j] = v8{};
  for (size_t v = 0; v < Wp; v += 8) {
    const v8 hv = vload(h + v);
#pragma GCC unroll 4
    for (int j = 0; j < K; j++) acc[j] += hv * vload(W2T + (k0 + j) * Wp + v);
  }
  for (int j = 0; j < K; j++) lg[k0 + j] = b2[k0 + j] + hsum(acc[j]);
}

// g[k0 .. k0+K, v0 .. v1) = sum_b delta[b, k] * h[b, v0 .. v1)
template <int K>
void w2GradGroup(const float* __restrict H, const float* __restrict delta, int C, int B, size_t Wp, int k0,
                 size_t v0, size_t v1, float* __restrict g) {
  for (size_t v = v0; v < v1; v += 8) {
    v8 acc[K];
    for (int j = 0; j < K; j++) acc[j] = v8{};
    for (int b = 0; b < B; b++) {
      const v8 hv = vload(H + static_cast<size_t>(b) * Wp + v);
#pragma GCC unroll 4
      for (int j = 0; j < K; j++) acc[j] += vbc(delta[b * C + k0 + j]) * hv;
    }
    for (int j = 0; j < K; j++) vstore(g + (k0 + j) * Wp + v, acc[j]);
  }
}

// The hot loops in explicit AVX2 and AVX-512 vectors (wide.ipp), compiled for each instruction set whatever
// the build targets, and chosen at run time by what the CPU has (Kernel::setVectorWidth).
#if defined(BOPT_X86) && defined(__GNUC__) && !defined(__clang__)
#define BOPT_WIDE8 1
#define BOPT_WIDE16 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace w8 {
#define BOPT_WIDE 8
#include "wide.ipp"
#undef BOPT_WIDE
}  // namespace w8
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace w16 {
#define BOPT_WIDE 16
#include "wide.ipp"
#undef BOPT_WIDE
}  // namespace w16
#pragma GCC pop_options
#elif defined(BOPT_X86) && defined(__AVX2__) && defined(__FMA__)
// other compilers: the instruction sets the build targets
#define BOPT_WIDE8 1
namespace w8 {
#define BOPT_WIDE 8
#include "wide.ipp"
#undef BOPT_WIDE
}  // namespace w8
#if defined(__AVX512F__)
#define BOPT_WIDE16 1
namespace w16 {
#define BOPT_WIDE 16
#include "wide.ipp"
#undef BOPT_WIDE
}  // namespace w16
#endif
#endif

#if defined(BOPT_WIDE16)
#define BOPT_WIDE_CALL(fn, ...) (width_ == 16 ? w16::fn(__VA_ARGS__) : w8::fn(__VA_ARGS__))
#elif defined(BOPT_WIDE8)
#define BOPT_WIDE_CALL(fn, ...) w8::fn(__VA_ARGS__)
#else
#define BOPT_WIDE_CALL(fn, ...) ((void)0)
#endif

bool cpuHasWidth(int width) {
#ifdef BOPT_X86
  __builtin_cpu_init();
#endif
  switch (width) {
    case 0:
      return true;
#ifdef BOPT_WIDE8
    case 8:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#ifdef BOPT_WIDE16
    case 16:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
      return false;
  }
}

}  // namespace

Kernel::Kernel(Model model, int inputs, int hidden, int classes, const float* x, const int32_t* y, int64_t n, int d,
               const Options& o)
    : model_(model), D_(inputs), H_(model == MLP ? hidden : 0), C_(classes), o_(o) {
  if (inputs <= 0 || d != inputs) throw std::invalid_argument("train data has " + std::to_string(d) +
                                                              " features, the model expects " + std::to_string(inputs));
  if (model == MLP && hidden <= 0) throw std::invalid_argument("mlp needs hidden > 0");
  if (classes <= 0 || (model == LOGREG && classes != 1) || (model != LOGREG && classes < 2))
    throw std::invalid_argument("bad number of classes " + std::to_string(classes));
  if (n <= 0) throw std::invalid_argument("empty training set");
  if (!(o.lr > 0) || !(o.momentum >= 0 && o.momentum < 1) || !(o.l2 >= 0))
    throw std::invalid_argument("bad lr/momentum/l2");
  W_ = model == MLP ? hidden : classes;
  Wp_ = roundUp8(W_);
  mom_ = o.momentum > 0;
  lazy_ = mom_ || o.l2 > 0;
  n_ = n;
  X_.build(x, n, d);
  y_.assign(y, y + n);
  const int ymax = model == LOGREG ? 2 : classes;
  for (int64_t r = 0; r < n; r++)
    if (y_[r] < 0 || y_[r] >= ymax)
      throw std::invalid_argument("label " + std::to_string(y_[r]) + " of example " + std::to_string(r) +
                                  " is out of range");
  W1_.resize(static_cast<size_t>(D_) * Wp_);
  b1_.resize(Wp_);
  if (model == MLP) {
    W2T_.resize(static_cast<size_t>(C_) * Wp_);
    b2_.resize(C_);
  }
  if (mom_) {
    A1_.resize(W1_.size());
    Ab1_.resize(b1_.size());
    AW2T_.resize(W2T_.size());
    Ab2_.resize(b2_.size());
  }
  last_.assign(D_, 0);
  cnt_.assign(D_, 0);
  fill_.assign(D_, 0);
  // powers of M = [[1 - lr*l2, -lr*m], [l2, m]], computed in double
  pow_.assign(4 * (FLUSH + 1), 0.0f);
  double a = 1, b = 0, c = 0, dd = 1;
  const double lr = o.lr, m = o.momentum, l2 = o.l2;
  for (int k = 0; k <= FLUSH; k++) {
    pow_[4 * k] = static_cast<float>(a);
    pow_[4 * k + 1] = static_cast<float>(b);
    pow_[4 * k + 2] = static_cast<float>(c);
    pow_[4 * k + 3] = static_cast<float>(dd);
    const double na = (1 - lr * l2) * a - lr * m * c, nb = (1 - lr * l2) * b - lr * m * dd;
    const double nc = l2 * a + m * c, nd = l2 * b + m * dd;
    a = na, b = nb, c = nc, dd = nd;
  }
  // chunks of at most 10 vectors, as even as possible
  const int nvec = Wp_ / 8;
  const int nch = (nvec + 9) / 10;
  int off = 0;
  for (int q = 0; q < nch; q++) {
    const int nv = nvec / nch + (q < nvec % nch ? 1 : 0);
    chunks_.emplace_back(off, nv);
    off += nv * 8;
  }
  // rows per forward tile: the widest chunk's slice of W1 takes about a 32 KiB L1
  const int widest = (nvec + nch - 1) / nch;
  const int rowTile = std::max(8, L1_TILE_BYTES / (widest * 32));
  rowTiles_ = (D_ + rowTile - 1) / rowTile;
  rowTileOf_.resize(D_);
  for (int i = 0; i < D_; i++) rowTileOf_[i] = i / rowTile;
  X_.buildTileRuns(rowTileOf_.data(), rowTiles_);
  exTile_ = std::max(8, bwdTileBytes() / (widest * 32));
  width_ = cpuHasWidth(16) ? 16 : cpuHasWidth(8) ? 8 : 0;
}

int Kernel::bwdTileBytes() {
  long l1 = 0;
#if (defined(__unix__) || defined(__APPLE__)) && defined(_SC_LEVEL1_DCACHE_SIZE)
  l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);  // glibc reads it from CPUID
#endif
  if (l1 <= 0) return BWD_TILE_BYTES;
  return static_cast<int>(std::clamp<long>(l1 - 16384, 8192, 65536));
}

bool Kernel::supportsVectorWidth(int width) { return cpuHasWidth(width); }

void Kernel::setVectorWidth(int width) {
  checkLive();
  if (!cpuHasWidth(width))
    throw std::invalid_argument("vector width " + std::to_string(width) + " is not available here (" +
                                (cpuHasWidth(16) ? "16, 8" : cpuHasWidth(8) ? "8" : "none") +
                                " and 0, the portable loops)");
  width_ = width;
}

size_t Kernel::parameterCount() const {
  if (model_ == MLP) return static_cast<size_t>(D_) * H_ + H_ + static_cast<size_t>(H_) * C_ + C_;
  return static_cast<size_t>(D_) * C_ + C_;
}

void Kernel::setParameters(const float* p, size_t len) {
  checkLive();
  if (len != parameterCount())
    throw std::invalid_argument("setParameters: got " + std::to_string(len) + " values, expected " +
                                std::to_string(parameterCount()));
  W1_.zero();
  b1_.zero();
  const size_t Wp = Wp_;
  for (int i = 0; i < D_; i++) std::memcpy(W1_.data() + i * Wp, p + static_cast<size_t>(i) * W_, W_ * sizeof(float));
  p += static_cast<size_t>(D_) * W_;
  std::memcpy(b1_.data(), p, W_ * sizeof(float));
  p += W_;
  if (model_ == MLP) {
    W2T_.zero();
    for (int j = 0; j < H_; j++)
      for (int k = 0; k < C_; k++) W2T_.data()[k * Wp + j] = p[static_cast<size_t>(j) * C_ + k];
    p += static_cast<size_t>(H_) * C_;
    std::memcpy(b2_.data(), p, C_ * sizeof(float));
  }
  A1_.zero();
  Ab1_.zero();
  AW2T_.zero();
  Ab2_.zero();
  t_ = 0;
  std::fill(last_.begin(), last_.end(), 0);
}

void Kernel::toShared(const float* w1, const float* b1, const float* w2t, const float* b2, float* out) const {
  const size_t Wp = Wp_;
  for (int i = 0; i < D_; i++) std::memcpy(out + static_cast<size_t>(i) * W_, w1 + i * Wp, W_ * sizeof(float));
  out += static_cast<size_t>(D_) * W_;
  std::memcpy(out, b1, W_ * sizeof(float));
  out += W_;
  if (model_ == MLP) {
    for (int j = 0; j < H_; j++)
      for (int k = 0; k < C_; k++) out[static_cast<size_t>(j) * C_ + k] = w2t[k * Wp + j];
    out += static_cast<size_t>(H_) * C_;
    std::memcpy(out, b2, C_ * sizeof(float));
  }
}

void Kernel::getParameters(float* out) {
  checkLive();
  DenormalGuard guard;
  flushAll();
  toShared(W1_.data(), b1_.data(), W2T_.data(), b2_.data(), out);
}

void Kernel::catchUpRow(int i) {
  const int64_t k = t_ - last_[i];
  if (k <= 0) return;
  const float* P = pow_.data() + 4 * k;
  const size_t Wp = Wp_;
  float* __restrict w = W1_.data() + i * Wp;
  if (mom_) {
    float* __restrict a = A1_.data() + i * Wp;
    const v8 pa = vbc(P[0]), pb = vbc(P[1]), pc = vbc(P[2]), pd = vbc(P[3]);
    for (size_t v = 0; v < Wp; v += 8) {
      const v8 wv = vload(w + v), av = vload(a + v);
      vstore(w + v, pa * wv + pb * av);
      vstore(a + v, pc * wv + pd * av);
    }
  } else {
    const v8 pa = vbc(P[0]);
    for (size_t v = 0; v < Wp; v += 8) vstore(w + v, pa * vload(w + v));
  }
  last_[i] = t_;
}

void Kernel::flushAll() {
  if (!lazy_) return;
  for (int i = 0; i < D_; i++) catchUpRow(i);
}

// Columns c0 .. c1 of the touched rows brought up to date (as catchUpRow); last_ is set by the caller once
// every chunk is done.
void Kernel::catchUpColumns(int c0, int c1) {
  const size_t Wp = Wp_;
  for (int i : touched_) {
    const int64_t k = t_ - last_[i];
    if (k <= 0) continue;
    const float* P = pow_.data() + 4 * k;
    float* __restrict w = W1_.data() + i * Wp;
    if (mom_) {
      float* __restrict a = A1_.data() + i * Wp;
      const v8 pa = vbc(P[0]), pb = vbc(P[1]), pc = vbc(P[2]), pd = vbc(P[3]);
      for (size_t v = c0; v < static_cast<size_t>(c1); v += 8) {
        const v8 wv = vload(w + v), av = vload(a + v);
        vstore(w + v, pa * wv + pb * av);
        vstore(a + v, pc * wv + pd * av);
      }
    } else {
      const v8 pa = vbc(P[0]);
      for (size_t v = c0; v < static_cast<size_t>(c1); v += 8) vstore(w + v, pa * vload(w + v));
    }
  }
}

int Kernel::teamFor(int B) const {
  if (threads_ <= 1 || B < THREAD_MIN_B) return 1;
  return std::min<int>(threads_, static_cast<int>(chunks_.size()));
}

void Kernel::setThreads(int n) {
  checkLive();
  if (n < 1 || n > MAX_THREADS)
    throw std::invalid_argument("threads must be an integer in [1, " + std::to_string(MAX_THREADS) + "], got " +
                                std::to_string(n));
  threads_ = n;
  team_.resize(std::min<int>(n, static_cast<int>(chunks_.size())));
}

// Tile-major counts (tiles lists of n counts, each followed by a free slot) turned in place into start
// positions: each count becomes the sum of those before it, and the free slot the tile's end.
static void countsToStarts(int32_t* counts, int tiles, int n) {
  int32_t pos = 0;
  for (int t = 0; t < tiles; t++) {
    int32_t* c = counts + static_cast<size_t>(t) * (n + 1);
    for (int k = 0; k < n; k++) {
      const int32_t m = c[k];
      c[k] = pos;
      pos += m;
    }
    c[n] = pos;
  }
}

void Kernel::buildColumns(const Csr& X, const int32_t* rows, int B) {
  const int64_t* st = X.start.data();
  const int32_t* ix = X.idx.data();
  const float* vl = X.val.data();
  if (B == 1) {
    // one example: its nonzeros are already the sorted list of touched rows, one entry each
    const int64_t s = st[rows[0]], e = st[rows[0] + 1];
    const int n = static_cast<int>(e - s);
    touched_.assign(ix + s, ix + e);
    colStart_.resize(n + 1);
    colB_.assign(n, 0);
    colV_.assign(vl + s, vl + e);
    for (int q = 0; q <= n; q++) colStart_[q] = q;
    colTiles_ = 1;
    return;
  }
  int32_t* cnt = cnt_.data();
  int64_t nnz = 0;
  for (int b = 0; b < B; b++) {
    const int64_t s = st[rows[b]], e = st[rows[b] + 1];
    nnz += e - s;
    for (int64_t p = s; p < e; p++) cnt[ix[p]]++;
  }
  if (nnz > INT32_MAX) throw std::length_error("batch too large");
  if (B < BWD_TILE_MIN_B) {
    // one tile: the counts give the start positions directly
    colTiles_ = 1;
    touched_.clear();
    colStart_.clear();
    colStart_.push_back(0);
    int32_t pos = 0;
    for (int i = 0; i < D_; i++)
      if (cnt[i]) {
        touched_.push_back(i);
        fill_[i] = pos;
        pos += cnt[i];
        colStart_.push_back(pos);
        cnt[i] = 0;
      }
    colB_.resize(nnz);
    colV_.resize(nnz);
    for (int b = 0; b < B; b++) {
      const int64_t s = st[rows[b]], e = st[rows[b] + 1];
      for (int64_t p = s; p < e; p++) {
        const int32_t q = fill_[ix[p]]++;
        colB_[q] = b;
        colV_[q] = vl[p];
      }
    }
    return;
  }
  // touched rows; fill_ maps a touched input to its row number r
  touched_.clear();
  for (int i = 0; i < D_; i++)
    if (cnt[i]) {
      fill_[i] = static_cast<int32_t>(touched_.size());
      touched_.push_back(i);
      cnt[i] = 0;
    }
  const int nT = static_cast<int>(touched_.size());
  const int bt = exTile_;
  colTiles_ = (B + bt - 1) / bt;
  const size_t stride = static_cast<size_t>(nT) + 1;
  // entries per (tile, row), then their start positions, tile-major
  colStart_.assign(colTiles_ * stride, 0);
  for (int b = 0; b < B; b++) {
    int32_t* tc = colStart_.data() + static_cast<size_t>(b / bt) * stride;
    const int64_t s = st[rows[b]], e = st[rows[b] + 1];
    for (int64_t p = s; p < e; p++) tc[fill_[ix[p]]]++;
  }
  countsToStarts(colStart_.data(), colTiles_, nT);
  colFill_.assign(colStart_.begin(), colStart_.end());
  colB_.resize(nnz);
  colV_.resize(nnz);
  for (int b = 0; b < B; b++) {
    int32_t* tf = colFill_.data() + static_cast<size_t>(b / bt) * stride;
    const int64_t s = st[rows[b]], e = st[rows[b] + 1];
    for (int64_t p = s; p < e; p++) {
      const int32_t q = tf[fill_[ix[p]]]++;
      colB_[q] = b;
      colV_[q] = vl[p];
    }
  }
  if (colTiles_ > 1) colPartial_.resize(static_cast<size_t>(nT) * Wp_);
}

// Each chunk of the output is computed whole by one thread (which brings the same columns of the touched
// rows up to date first): every number is made by the same operations whatever the number of threads.
void Kernel::forward1(const Csr& X, const int32_t* rows, int B, float* out, int nt, bool catchUp) {
  const bool tiled = B >= (width_ == 16 ? FWD_TILE_MIN_B_16 : FWD_TILE_MIN_B);
  if (tiled) packRowTiles(X, rows, B);
  const RowTiles T{rowTileStart_.data(), rowTileIdx_.data(), rowTileVal_.data(), rowTiles_, B};
  team_.forEach(nt, chunks_.size(), [&](int, size_t q) {
    const auto& ch = chunks_[q];
    if (catchUp) catchUpColumns(ch.first, ch.first + 8 * ch.second);
    if (tiled && ch.second >= 2 && width_)
      BOPT_WIDE_CALL(fwdTiled, ch.second, model_ == MLP, W1_.data(), Wp_, b1_.data(), ch.first, T, out);
    else if (model_ == MLP)
      fwdDispatch<true>(ch.second, W1_.data(), Wp_, b1_.data(), ch.first, tiled ? &T : nullptr, X, rows, B, out);
    else
      fwdDispatch<false>(ch.second, W1_.data(), Wp_, b1_.data(), ch.first, tiled ? &T : nullptr, X, rows, B, out);
  });
}

// The batch's nonzeros tile by tile of W1 rows (RowTiles): counts per (tile, example) from X's tile runs,
// their start positions tile-major, then the entries, each example's in increasing row order.
void Kernel::packRowTiles(const Csr& X, const int32_t* rows, int B) {
  const int64_t* st = X.start.data();
  const int32_t* ix = X.idx.data();
  const float* vl = X.val.data();
  const int R = rowTiles_ + 1;
  if (X.tileRuns.size() != (X.start.size() - 1) * R) throw std::logic_error("packRowTiles: X has no tile runs");
  const size_t stride = static_cast<size_t>(B) + 1;
  rowTileStart_.resize(static_cast<size_t>(rowTiles_) * stride);  // every count is written below
  int32_t* start = rowTileStart_.data();
  int64_t nnz = 0;
  for (int b = 0; b < B; b++) {
    nnz += st[rows[b] + 1] - st[rows[b]];
    const int32_t* rr = X.tileRuns.data() + static_cast<size_t>(rows[b]) * R;
    for (int t = 0; t < rowTiles_; t++) start[static_cast<size_t>(t) * stride + b] = rr[t + 1] - rr[t];
  }
  if (nnz > INT32_MAX) throw std::length_error("batch too large");
  countsToStarts(start, rowTiles_, B);
  rowTileIdx_.resize(nnz);
  rowTileVal_.resize(nnz);
  int32_t* idx = rowTileIdx_.data();
  float* val = rowTileVal_.data();
  // each example's entries are in increasing row order: those of tile t are the next run of its row
  for (int b = 0; b < B; b++) {
    int64_t p = st[rows[b]];
    for (int t = 0; t < rowTiles_; t++) {
      const int32_t* at = start + static_cast<size_t>(t) * stride + b;
      const int32_t q = at[0], n = at[1] - at[0];
      for (int32_t k = 0; k < n; k++) {
        idx[q + k] = ix[p + k];
        val[q + k] = vl[p + k];
      }
      p += n;
    }
  }
}

// E[:, c0 .. c1) = relu'(pre) * (W2 delta) and gb1[c0 .. c1) = sum over the batch, before W2 changes.
void Kernel::hiddenError(const float* delta, int B, int c0, int c1) {
  if (width_) {
    BOPT_WIDE_CALL(hiddenError, (c1 - c0) / 8, out_.data(), W2T_.data(), delta, B, C_, Wp_, c0, E_.data(),
                   gb1_.data());
    return;
  }
  const size_t Wp = Wp_;
  const int C = C_;
  const float* W2T = W2T_.data();
  float* gb1 = gb1_.data();
  for (int b = 0; b < B; b++) {
    const float* h = out_.data() + b * Wp;
    float* e = E_.data() + b * Wp;
    const float* d = delta + b * C;
    for (size_t v = c0; v < static_cast<size_t>(c1); v += 8) {
      v8 acc = v8{};
      for (int k = 0; k < C; k++) acc += vbc(d[k]) * vload(W2T + k * Wp + v);
      const v8i pos = vload(h + v) > v8{};
      const v8 ev = reinterpret_cast<v8>(reinterpret_cast<v8i>(acc) & pos);
      vstore(e + v, ev);
      vstore(gb1 + v, vload(gb1 + v) + ev);
    }
  }
}

// Logits, loss (summed), optionally accuracy count and delta = (p - onehot) / B (into delta_).
double Kernel::outputLayer(const int32_t* labels, const int32_t* rows, int B, float* out, double* correct) {
  const size_t Wp = Wp_;
  const int C = C_;
  float lgBuf[64];
  std::vector<float> lgHeap;
  float* lg = lgBuf;
  if (C > 64) {
    lgHeap.resize(C);
    lg = lgHeap.data();
  }
  float* delta = correct ? nullptr : delta_.data();
  if (exBuf_.size() < static_cast<size_t>(C)) exBuf_.resize(C);
  const float invB = 1.0f / static_cast<float>(B);
  double total = 0;
  int64_t right = 0;
  // the MLP's logits of the whole batch first (wide loops: several examples at a time)
  const bool wideLogits = model_ == MLP && width_;
  if (wideLogits) {
    logits_.resize(static_cast<size_t>(B) * C);
    BOPT_WIDE_CALL(logits, out, Wp, W2T_.data(), b2_.data(), B, C, logits_.data());
  }
  for (int b = 0; b < B; b++) {
    const float* o = out + b * Wp;
    if (wideLogits) {
      for (int k = 0; k < C - C % 4; k++) lg[k] = logits_.data()[static_cast<size_t>(b) * C + k];
      if (C % 4 == 1) {
        logitsGroup<1>(o, W2T_.data(), b2_.data(), Wp, C - 1, lg);
      } else {
        for (int k = C - C % 4; k < C; k++) lg[k] = logits_.data()[static_cast<size_t>(b) * C + k];
      }
    } else if (model_ == MLP) {
      int k = 0;
      for (; k + 4 <= C; k += 4) logitsGroup<4>(o, W2T_.data(), b2_.data(), Wp, k, lg);
      switch (C - k) {
        case 3: logitsGroup<3>(o, W2T_.data(), b2_.data(), Wp, k, lg); break;
        case 2: logitsGroup<2>(o, W2T_.data(), b2_.data(), Wp, k, lg); break;
        case 1: logitsGroup<1>(o, W2T_.data(), b2_.data(), Wp, k, lg); break;
      }
    } else {
      for (int k = 0; k < C; k++) lg[k] = o[k];
    }
    const int y = labels[rows ? rows[b] : b];
    if (C == 1) {
      const float z = lg[0];
      // log(1 + e^z) - y z, stable
      total += static_cast<double>(std::max(z, 0.0f)) - (y ? static_cast<double>(z) : 0.0) +
               std::log1p(std::exp(-std::fabs(static_cast<double>(z))));
      if (correct) right += ((z > 0) ? 1 : 0) == y;
      if (delta) {
        const double e = std::exp(-std::fabs(static_cast<double>(z)));
        const double p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
        delta[b] = static_cast<float>(p - y) * invB;
      }
    } else {
      float mx = lg[0];
      int arg = 0;
      for (int k = 1; k < C; k++)
        if (lg[k] > mx) mx = lg[k], arg = k;
      // loss = lse(z) - z_y = (max - z_y) + log1p(sum_{k != argmax} e^(z_k - max)), in double: exact
      // for confident examples too (tiny losses keep their relative precision)
      double* ex = exBuf_.data();
      double rest = 0;
      for (int k = 0; k < C; k++) {
        ex[k] = std::exp(static_cast<double>(lg[k]) - static_cast<double>(mx));
        if (k != arg) rest += ex[k];
      }
      if (std::isnan(static_cast<double>(mx))) rest = NAN;
      total += (static_cast<double>(mx) - static_cast<double>(lg[y])) + std::log1p(rest);
      if (correct) right += arg == y;
      if (delta) {
        const double inv = 1.0 / (1.0 + rest);
        float* dl = delta + b * C;
        for (int k = 0; k < C; k++) dl[k] = static_cast<float>(ex[k] * inv) * invB;
        dl[y] -= invB;
      }
    }
  }
  if (correct) *correct += static_cast<double>(right);
  return total;
}

template <Kernel::Mode MODE>
void Kernel::updateDense(float* __restrict w, float* __restrict A, const float* __restrict g, float* __restrict gout,
                         int len, double l2d) {
  const float lr = static_cast<float>(o_.lr), m = static_cast<float>(o_.momentum), l2 = static_cast<float>(l2d);
  for (int j = 0; j < len; j++) {
    const float gj = g[j] + l2 * w[j];
    if (MODE == GRAD) {
      gout[j] = gj;
    } else if (MODE == UPD_MOM) {
      A[j] = m * A[j] + gj;
      w[j] = w[j] - lr * A[j];
    } else {
      w[j] = w[j] - lr * gj;
    }
  }
}

// The first layer's weight gradient (and fused update) of chunks q0 .. q1; last_ is set by the caller.
template <Kernel::Mode MODE>
void Kernel::backward1(size_t q0, size_t q1) {
  // the chunks of one step may run on different threads: each writes only its own columns of colPartial_
  const Cols c{touched_.data(), static_cast<int>(touched_.size()), colStart_.data(), colB_.data(), colV_.data(),
               colTiles_, colPartial_.data()};
  constexpr int M = MODE == UPD_SGD ? 0 : MODE == UPD_MOM ? 1 : 2;
  for (size_t q = q0; q < q1; q++)
    if (width_ && chunks_[q].second >= 2)
      BOPT_WIDE_CALL(bwd<M>, chunks_[q].second, W1_.data(), A1_.data(), G1_.data(), Wp_, chunks_[q].first, c,
                     E_.data(), static_cast<float>(o_.lr), static_cast<float>(o_.momentum),
                     static_cast<float>(o_.l2));
    else
      bwdDispatch<M>(chunks_[q].second, W1_.data(), A1_.data(), G1_.data(), Wp_, chunks_[q].first, c, E_.data(),
                   static_cast<float>(o_.lr), static_cast<float>(o_.momentum), static_cast<float>(o_.l2));
}

// The same for whole rows (rowsBackward: the wide loops, one tile of examples).
template <Kernel::Mode MODE>
void Kernel::backward1Rows() {
  const Cols c{touched_.data(), static_cast<int>(touched_.size()), colStart_.data(), colB_.data(), colV_.data(),
               colTiles_, colPartial_.data()};
  constexpr int M = MODE == UPD_SGD ? 0 : MODE == UPD_MOM ? 1 : 2;
  BOPT_WIDE_CALL(bwdRows<M>, W1_.data(), A1_.data(), G1_.data(), Wp_, c, E_.data(), static_cast<float>(o_.lr),
                 static_cast<float>(o_.momentum), static_cast<float>(o_.l2), lazy_ ? last_.data() : nullptr, t_,
                 pow_.data());
}

template <Kernel::Mode MODE>
double Kernel::run(const int32_t* batch, int B) {
  checkLive();
  if (B <= 0) throw std::invalid_argument("empty batch");
  for (int b = 0; b < B; b++)
    if (batch[b] < 0 || batch[b] >= n_)
      throw std::out_of_range("batch index " + std::to_string(batch[b]) + " is outside the training set of " +
                              std::to_string(n_));
  DenormalGuard guard;
  if (MODE == GRAD) flushAll();
  buildColumns(X_, batch, B);
  const int nt = teamFor(B);
  const size_t Wp = Wp_;
  const int C = C_;
  out_.resize(static_cast<size_t>(B) * Wp);
  E_.resize(static_cast<size_t>(B) * Wp);
  delta_.resize(static_cast<size_t>(B) * C);
  // one example: the weight gradient of whole rows at a time (wide loops, one tile of examples)
  const bool rowsBackward = width_ && Wp >= 16 && colTiles_ == 1 && B <= ROWS_BWD_MAX_B;
  if (B == 1 && width_ && Wp >= 16) {
    // one pass over whole rows, each brought up to date (lazy) as the forward pass reads it
    const int64_t s = X_.start[batch[0]], e = X_.start[batch[0] + 1];
    BOPT_WIDE_CALL(fwdOne, model_ == MLP, mom_, W1_.data(), A1_.data(), Wp, b1_.data(), X_.idx.data(), X_.val.data(),
                   s, e, lazy_ ? last_.data() : nullptr, t_, pow_.data(), out_.data());
    // last_ stays: the rows are brought up to date again, and stored, by the row-wise weight gradient
  } else if (lazy_ && B == 1 && MODE != GRAD) {
    // one pass: catch-up fused into the forward pass (each row appears once in a single example)
    const int64_t s = X_.start[batch[0]], e = X_.start[batch[0] + 1];
    for (const auto& ch : chunks_) {
      if (model_ == MLP) {
        if (mom_)
          fwdCatchUpDispatch<true, true>(ch.second, W1_.data(), A1_.data(), Wp, b1_.data(), ch.first, X_.idx.data(),
                                         X_.val.data(), s, e, last_.data(), t_, pow_.data(), out_.data());
        else
          fwdCatchUpDispatch<true, false>(ch.second, W1_.data(), A1_.data(), Wp, b1_.data(), ch.first,
                                          X_.idx.data(), X_.val.data(), s, e, last_.data(), t_, pow_.data(),
                                          out_.data());
      } else {
        if (mom_)
          fwdCatchUpDispatch<false, true>(ch.second, W1_.data(), A1_.data(), Wp, b1_.data(), ch.first,
                                          X_.idx.data(), X_.val.data(), s, e, last_.data(), t_, pow_.data(),
                                          out_.data());
        else
          fwdCatchUpDispatch<false, false>(ch.second, W1_.data(), A1_.data(), Wp, b1_.data(), ch.first,
                                           X_.idx.data(), X_.val.data(), s, e, last_.data(), t_, pow_.data(),
                                           out_.data());
      }
    }
    for (int i : touched_) last_[i] = t_;
  } else {
    forward1(X_, batch, B, out_.data(), nt, lazy_);
    if (lazy_)
      for (int i : touched_) last_[i] = t_;
  }
  const double loss = outputLayer(y_.data(), batch, B, out_.data(), nullptr) / B;
  const float* delta = delta_.data();
  const double l2b = o_.l2OnBias ? o_.l2 : 0.0;
  gb1_.resize(Wp);
  gb1_.zero();
  float* gb1 = gb1_.data();
  float gb2[64];
  std::vector<float> gb2Heap;
  float* gb2p = gb2;
  if (C > 64) {
    gb2Heap.resize(C);
    gb2p = gb2Heap.data();
  }
  if (MODE == GRAD) {
    // rows without data gradient still get l2*w; the touched rows are overwritten in backward1
    G1_.resize(W1_.size());
    const float l2f = static_cast<float>(o_.l2);
    for (size_t j = 0; j < W1_.size(); j++) G1_.data()[j] = l2f * W1_.data()[j];
    Gb1_.resize(Wp);
    GW2T_.resize(W2T_.size());
    Gb2_.resize(b2_.size());
  }
  if (model_ == MLP) {
    const float* Hs = out_.data();
    // Per chunk of hidden units, on whichever thread takes it: E, gb1 and the W2 gradient of those units (into a
    // scratch buffer: W2 changes only after every E is made), then W1's gradient and fused update.
    FBuf& g2 = gW2scratch();
    team_.forEach(nt, chunks_.size(), [&](int, size_t q) {
      const size_t c0 = chunks_[q].first, c1 = c0 + 8 * chunks_[q].second;
      hiddenError(delta, B, static_cast<int>(c0), static_cast<int>(c1));
      int k = 0;
      for (; k + 4 <= C; k += 4) w2GradGroup<4>(Hs, delta, C, B, Wp, k, c0, c1, g2.data());
      switch (C - k) {
        case 3: w2GradGroup<3>(Hs, delta, C, B, Wp, k, c0, c1, g2.data()); break;
        case 2: w2GradGroup<2>(Hs, delta, C, B, Wp, k, c0, c1, g2.data()); break;
        case 1: w2GradGroup<1>(Hs, delta, C, B, Wp, k, c0, c1, g2.data()); break;
      }
      if (!rowsBackward) backward1<MODE>(q, q + 1);
    });
    if (rowsBackward) backward1Rows<MODE>();
    for (int kk = 0; kk < C; kk++) {
      float s = 0;
      for (int b = 0; b < B; b++) s += delta[b * C + kk];
      gb2p[kk] = s;
    }
    updateDense<MODE>(W2T_.data(), AW2T_.data(), g2.data(), GW2T_.data(), static_cast<int>(W2T_.size()), o_.l2);
    updateDense<MODE>(b2_.data(), Ab2_.data(), gb2p, Gb2_.data(), C, l2b);
  } else {
    E_.zero();
    for (int b = 0; b < B; b++)
      for (int kk = 0; kk < C; kk++) {
        E_.data()[b * Wp + kk] = delta[b * C + kk];
        gb1[kk] += delta[b * C + kk];
      }
  }
  updateDense<MODE>(b1_.data(), Ab1_.data(), gb1, Gb1_.data(), W_, l2b);
  if (model_ != MLP) {
    if (rowsBackward)
      backward1Rows<MODE>();
    else
      backward1<MODE>(0, chunks_.size());
  }
  if (lazy_ && MODE != GRAD)
    for (int i : touched_) last_[i] = t_ + 1;
  if (MODE != GRAD) {
    t_++;
    if (lazy_ && t_ % FLUSH == 0) flushAll();
  }
  return loss;
}

double Kernel::step(const int32_t* batch, int B) {
  return mom_ ? run<UPD_MOM>(batch, B) : run<UPD_SGD>(batch, B);
}

double Kernel::gradient(const int32_t* batch, int B, float* out) {
  const double loss = run<GRAD>(batch, B);
  toShared(G1_.data(), Gb1_.data(), GW2T_.data(), Gb2_.data(), out);
  return loss;
}

double Kernel::loss(const int32_t* batch, int B) {
  checkLive();
  if (B <= 0) throw std::invalid_argument("empty batch");
  for (int b = 0; b < B; b++)
    if (batch[b] < 0 || batch[b] >= n_) throw std::out_of_range("batch index out of range");
  DenormalGuard guard;
  flushAll();
  out_.resize(static_cast<size_t>(B) * Wp_);
  forward1(X_, batch, B, out_.data(), teamFor(B), false);
  double right = 0;
  return outputLayer(y_.data(), batch, B, out_.data(), &right) / B;
}

void Kernel::evaluate(const float* x, const int32_t* y, int64_t n, int d, double* lossOut, double* accOut) {
  checkLive();
  if (d != D_)
    throw std::invalid_argument("evaluate: data has " + std::to_string(d) + " features, the model expects " +
                                std::to_string(D_));
  if (n <= 0) throw std::invalid_argument("evaluate: empty dataset");
  const int ymax = model_ == LOGREG ? 2 : C_;
  for (int64_t r = 0; r < n; r++)
    if (y[r] < 0 || y[r] >= ymax) throw std::invalid_argument("evaluate: label out of range");
  DenormalGuard guard;
  flushAll();
  const int BLOCK = 256;
  Csr blk;
  out_.resize(static_cast<size_t>(BLOCK) * Wp_);
  evalRows_.resize(BLOCK);
  for (int b = 0; b < BLOCK; b++) evalRows_[b] = b;
  double total = 0, right = 0;
  for (int64_t r0 = 0; r0 < n; r0 += BLOCK) {
    const int nb = static_cast<int>(std::min<int64_t>(BLOCK, n - r0));
    blk.build(x + r0 * d, nb, d);
    blk.buildTileRuns(rowTileOf_.data(), rowTiles_);
    forward1(blk, evalRows_.data(), nb, out_.data(), teamFor(nb), false);
    total += outputLayer(y + r0, nullptr, nb, out_.data(), &right);
  }
  *lossOut = total / static_cast<double>(n);
  *accOut = right / static_cast<double>(n);
}

void Kernel::dispose() {
  disposed_ = true;
  team_.resize(1);
  for (FBuf* b : {&W1_, &b1_, &W2T_, &b2_, &A1_, &Ab1_, &AW2T_, &Ab2_, &out_, &E_, &delta_, &gb1_, &logits_, &G1_, &Gb1_,
                  &GW2T_, &Gb2_, &g2scratch_, &colPartial_})
    b->release();
  X_ = Csr();
  y_.clear();
  y_.shrink_to_fit();
}

}  // namespace bopt
