#pragma once
#include <cstdint>
#include <string>

namespace bopt {

struct FmaPeak {
  double gflops = 0;  // best single-core single-precision FMA throughput seen, GFLOP/s (1 FMA = 2 FLOPs)
  std::string isa;    // vector unit the loop ran on: avx512, avx2 or generic
  // the same, for the sparse kernels' loop shape (each FMA's operand loaded from an indexed row in L1)
  double gatherGflops = 0;
};

// Runs a register-only FMA loop, then the sparse loop shape, on the calling thread for about `seconds`.
FmaPeak measureFmaPeak(double seconds);

}  // namespace bopt
