#pragma once
#include <cstdint>
#include <string>

namespace bopt {

struct FmaPeak {
  double gflops = 0;  // best single-core single-precision FMA throughput seen, GFLOP/s (1 FMA = 2 FLOPs)
  std::string isa;    // vector unit the loop ran on: avx512, avx2 or generic
};

// Runs a register-only FMA loop on the calling thread for about `seconds`.
FmaPeak measureFmaPeak(double seconds);

}  // namespace bopt
