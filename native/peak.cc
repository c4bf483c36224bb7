// Measured single-core FMA peak: the ceiling the bench compares the training kernels against.
// Independent accumulators hide the FMA latency; the widest vector unit this CPU has is chosen at run
// time, so a build for one machine never executes instructions another lacks.
#include "peak.hpp"

#include <chrono>

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

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) float loop512(int64_t n) { return fmaLoop<16>(n); }
__attribute__((target("avx2,fma"))) float loop256(int64_t n) { return fmaLoop<8>(n); }
#endif
float loopGeneric(int64_t n) { return fmaLoop<4>(n); }

}  // namespace

FmaPeak measureFmaPeak(double seconds) {
  FmaPeak r;
  float (*loop)(int64_t) = loopGeneric;
  int lanes = 4;
  r.isa = "generic";
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    loop = loop512;
    lanes = 16;
    r.isa = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = loop256;
    lanes = 8;
    r.isa = "avx2";
  }
#endif
  typedef std::chrono::steady_clock Clock;
  volatile float sink = 0;
  int64_t n = 1 << 14;
  double best = 0, spent = 0;
  // grow the window to >= 20 ms, then keep the best window (the machine may be shared)
  while (spent < seconds) {
    auto t0 = Clock::now();
    sink = sink + loop(n);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    spent += dt;
    if (dt < 0.02) {
      n *= 2;
      continue;
    }
    double flops = 2.0 * lanes * kAccumulators * static_cast<double>(n);
    if (flops / dt > best) best = flops / dt;
  }
  r.gflops = best / 1e9;
  return r;
}

}  // namespace bopt
