// Measured single-core FMA peak: the ceiling the bench compares the training kernels against.
// Independent accumulators hide the FMA latency; the widest vector unit this CPU has is chosen at run
// time, so a build for one machine never executes instructions another lacks.
//
// Beside it, the ceiling of the sparse kernels' loop shape: each nonzero (row index, value) of an example
// multiplies one 80-float chunk of a weight row into the example's sums, so every FMA takes its second
// operand from a load whose address comes from a loaded index. The rows sit in L1 here, as in the
// batch-blocked tiles, so what this measures is the core's rate for that shape, not the memory's.
#include "peak.hpp"

#include <chrono>
#include <memory>

namespace bopt {
namespace {

constexpr int kAccumulators = 12;  // > latency (4) x ports (2): keeps both FMA pipes busy

template <int Lanes>
struct Vec {
  typedef float type __attribute__((vector_size(Lanes * 4)));
};

// One body, compiled per ISA by the target attribute of its caller (always_inline copies it there).
template <int Lanes>
__attribute__((always_inline)) inline float fmaLoop(int64_t iterations) {
  typedef typename Vec<Lanes>::type V;
  V acc[kAccumulators];
  for (int a = 0; a < kAccumulators; a++)
    for (int l = 0; l < Lanes; l++) acc[a][l] = 1.0f + 1e-3f * a;
  V mul, add;
  for (int l = 0; l < Lanes; l++) {
    mul[l] = 0.999999f;
    add[l] = 1e-7f;
  }
  for (int64_t i = 0; i < iterations; i++) {
    // a dependent chain per accumulator: without -ffast-math the compiler cannot fold it
    for (int a = 0; a < kAccumulators; a++) acc[a] = acc[a] * mul + add;
  }
  float s = 0;
  for (int a = 0; a < kAccumulators; a++)
    for (int l = 0; l < Lanes; l++) s += acc[a][l];
  return s;
}

constexpr int kChunk = 80;        // floats of a weight row per nonzero: the kernels' widest chunk
constexpr int kRowStride = 800;   // floats between rows: the paper's MLP (hidden 800)
constexpr int kRows = 16;         // rows the indexes pick from: 5 KiB of chunks, in L1
constexpr int kNonzeros = 19;     // nonzeros of an example in one forward tile (MNIST, 32 KiB tiles)
constexpr int kExamples = 64;

// 64-byte aligned, as the kernel's buffers are: a row chunk that straddles cache lines costs two loads a
// vector (68 instead of 109 GFLOP/s on an AVX-512 Xeon).
struct alignas(64) GatherData {
  float rows[kRows * kRowStride];
  int32_t idx[kExamples * kNonzeros];
  float val[kExamples * kNonzeros];
  float sums[kExamples * kChunk];
};

// `iterations` passes over the examples: each loads its sums, adds val * rows[idx] for its nonzeros, and
// stores them back (the batch-blocked forward pass's inner loop, fwdTiledChunk). Returns chunks visited.
template <int Lanes>
__attribute__((always_inline)) inline int64_t gatherLoop(GatherData& d, int64_t iterations) {
  typedef typename Vec<Lanes>::type V;
  typedef V U __attribute__((aligned(4), may_alias));
  constexpr int NV = kChunk / Lanes;
  const V one = V{} + 1.0f;
  for (int64_t it = 0; it < iterations; it++) {
    for (int b = 0; b < kExamples; b++) {
      float* s = d.sums + b * kChunk;
      V acc[NV];
#pragma GCC unroll 20
      for (int u = 0; u < NV; u++) acc[u] = *reinterpret_cast<const U*>(s + u * Lanes);
      const int32_t* ix = d.idx + b * kNonzeros;
      const float* vl = d.val + b * kNonzeros;
      for (int p = 0; p < kNonzeros; p++) {
        const float* w = d.rows + static_cast<size_t>(ix[p]) * kRowStride;
        const V x = vl[p] * one;  // a broadcast: x * 1 is x, and the compiler drops the multiply
#pragma GCC unroll 20
        for (int u = 0; u < NV; u++) acc[u] = x * *reinterpret_cast<const U*>(w + u * Lanes) + acc[u];
      }
#pragma GCC unroll 20
      for (int u = 0; u < NV; u++) *reinterpret_cast<U*>(s + u * Lanes) = acc[u];
    }
  }
  return iterations * kExamples * kNonzeros;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) float loop512(int64_t n) { return fmaLoop<16>(n); }
__attribute__((target("avx2,fma"))) float loop256(int64_t n) { return fmaLoop<8>(n); }
__attribute__((target("avx512f"))) int64_t gather512(GatherData& d, int64_t n) { return gatherLoop<16>(d, n); }
__attribute__((target("avx2,fma"))) int64_t gather256(GatherData& d, int64_t n) { return gatherLoop<8>(d, n); }
#endif
float loopGeneric(int64_t n) { return fmaLoop<4>(n); }
int64_t gatherGeneric(GatherData& d, int64_t n) { return gatherLoop<4>(d, n); }

typedef std::chrono::steady_clock Clock;

// Best rate of run(n) (which returns its FLOPs) over windows of >= 20 ms during about `seconds`, and at
// least one such window however short `seconds` is.
template <class Run>
double bestRate(double seconds, Run run) {
  int64_t n = 1 << 6;
  double best = 0, spent = 0;
  // grow the window to >= 20 ms, then keep the best window (the machine may be shared)
  while (spent < seconds || best == 0) {
    auto t0 = Clock::now();
    const double flops = run(n);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    spent += dt;
    if (dt < 0.02) {
      n *= 2;
      continue;
    }
    if (flops / dt > best) best = flops / dt;
  }
  return best;
}

}  // namespace

FmaPeak measureFmaPeak(double seconds) {
  FmaPeak r;
  float (*loop)(int64_t) = loopGeneric;
  int64_t (*gather)(GatherData&, int64_t) = gatherGeneric;
  int lanes = 4;
  r.isa = "generic";
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    loop = loop512;
    gather = gather512;
    lanes = 16;
    r.isa = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = loop256;
    gather = gather256;
    lanes = 8;
    r.isa = "avx2";
  }
#endif
  volatile float sink = 0;
  r.gflops = bestRate(seconds / 2, [&](int64_t n) {
               sink = sink + loop(n * 256);
               return 2.0 * lanes * kAccumulators * static_cast<double>(n * 256);
             }) /
             1e9;
  // rows and values that keep the sums finite and normal; a fixed pattern of row indexes
  std::unique_ptr<GatherData> d(new GatherData());
  for (int i = 0; i < kRows * kRowStride; i++) d->rows[i] = 1e-3f * static_cast<float>(i % 97);
  uint32_t state = 12345;
  for (int k = 0; k < kExamples * kNonzeros; k++) {
    state = state * 1664525u + 1013904223u;
    d->idx[k] = static_cast<int32_t>((state >> 16) % kRows);
    d->val[k] = k % 2 ? 0.5f : -0.5f;
  }
  r.gatherGflops =
      bestRate(seconds / 2, [&](int64_t n) { return 2.0 * kChunk * static_cast<double>(gather(*d, n)); }) / 1e9;
  sink = sink + d->sums[0];
  return r;
}

}  // namespace bopt
