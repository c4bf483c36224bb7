// bopt native training kernel: logistic regression, softmax regression and a one-hidden-layer ReLU MLP,
// trained by SGD with TF-style momentum (A <- m*A + g; w <- w - lr*A) and optional L2 (g += l2*w).
//
// What makes it fast (see README "Native engine"):
//  * The first layer is a sparse-input dense layer: every training example is stored as a list of its
//    nonzero inputs (81% of MNIST pixels are 0), so the forward pass and the weight gradient of the first
//    layer only touch the rows of W1 whose pixel is nonzero somewhere in the batch.
//  * The update is fused into the gradient loop: the gradient of a W1 row chunk is accumulated in
//    registers and applied at once; no gradient buffer, no dense pass over the weights.
//  * Lazy, exact momentum/L2: a row that gets no data gradient evolves by a fixed linear map of
//    (w, A):  [w'; A'] = M [w; A],  M = [[1 - lr*l2, -lr*m], [l2, m]].  We keep, per row, the step at
//    which it was last brought up to date and apply M^k (precomputed table, k <= FLUSH) when the row is
//    next touched, read, or at a periodic full flush (every FLUSH steps, to bound k).
//  * Register-blocked inner loops over chunks of up to 80 outputs (10 AVX vectors), chunk-outer loop
//    order so that a W1 column slab stays in L2 across the examples of a batch.
//  * Deterministic: fixed summation orders; same inputs -> bit-identical outputs. With several threads
//    (setThreads) each thread computes whole chunks of the first layer's outputs, exactly as one thread
//    would, so the numbers do not depend on the number of threads either.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "team.hpp"

namespace bopt {

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8 vload(const float* p) { return *reinterpret_cast<const v8*>(p); }
static inline void vstore(float* p, v8 v) { *reinterpret_cast<v8*>(p) = v; }
static inline v8 vbc(float x) { return v8{x, x, x, x, x, x, x, x}; }
// max(x, 0) that propagates NaN (a diverged run must show up as a NaN loss).
static inline v8 vrelu(v8 x) {
  v8i neg = x < v8{};
  return reinterpret_cast<v8>(reinterpret_cast<v8i>(x) & ~neg);
}
static inline float hsum(v8 v) {
  // fixed order: deterministic
  float s0 = (v[0] + v[4]) + (v[2] + v[6]);
  float s1 = (v[1] + v[5]) + (v[3] + v[7]);
  return s0 + s1;
}

// 32-byte aligned float buffer, zero-initialised.
class FBuf {
 public:
  FBuf() = default;
  explicit FBuf(size_t n) { resize(n); }
  FBuf(const FBuf&) = delete;
  FBuf& operator=(const FBuf&) = delete;
  ~FBuf() { std::free(p_); }
  void resize(size_t n) {
    if (n <= cap_) {
      n_ = n;
      return;
    }
    std::free(p_);
    size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    p_ = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!p_) throw std::bad_alloc();
    std::memset(p_, 0, bytes);
    n_ = cap_ = n;
  }
  void zero() {
    if (p_) std::memset(p_, 0, n_ * sizeof(float));
  }
  void release() {
    std::free(p_);
    p_ = nullptr;
    n_ = cap_ = 0;
  }
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

enum Model { LOGREG = 0, SOFTMAX = 1, MLP = 2 };

struct Options {
  double lr = 0.1, momentum = 0, l2 = 0;
  bool l2OnBias = true;
};

// Sparse rows (CSR) of a dense row-major matrix: nonzero column indices and values per row.
struct Csr {
  std::vector<int64_t> start;
  std::vector<int32_t> idx;
  std::vector<float> val;
  void build(const float* x, int64_t n, int d) {
    start.assign(1, 0);
    start.reserve(n + 1);
    idx.clear();
    val.clear();
    for (int64_t r = 0; r < n; r++) {
      const float* row = x + r * d;
      for (int j = 0; j < d; j++)
        if (row[j] != 0.0f) {
          idx.push_back(j);
          val.push_back(row[j]);
        }
      start.push_back(static_cast<int64_t>(idx.size()));
    }
    tileRuns.clear();
  }
  // Per row r, where its entries of each forward tile of W1 rows begin: tileRuns[r * (nTiles + 1) + t] is
  // the offset from start[r] of its first entry in tile t or later (its entries are in increasing row
  // order, so a tile's are one run). Built once for the training set (and per evaluation block), it
  // spares packing a batch a pass over every nonzero.
  std::vector<int32_t> tileRuns;
  void buildTileRuns(const int32_t* tileOf, int nTiles) {
    const int64_t n = static_cast<int64_t>(start.size()) - 1;
    tileRuns.resize(static_cast<size_t>(n) * (nTiles + 1));
    for (int64_t r = 0; r < n; r++) {
      int32_t* runs = tileRuns.data() + static_cast<size_t>(r) * (nTiles + 1);
      const int64_t s = start[r], e = start[r + 1];
      int64_t p = s;
      for (int t = 0; t <= nTiles; t++) {
        while (p < e && tileOf[idx[p]] < t) p++;
        runs[t] = static_cast<int32_t>(p - s);
      }
    }
  }
};

// The nonzeros of a batch cut by the forward tiles of W1 rows, tile-major: tile t, example b has the
// entries start[t * (B + 1) + b] .. start[t * (B + 1) + b + 1] of idx (input row) and val, in increasing
// row order; the tiles' entries follow each other.
struct RowTiles {
  const int32_t* start;
  const int32_t* idx;
  const float* val;
  int nTiles;
  int B;
};

class Kernel {
 public:
  static constexpr int FLUSH = 1024;  // periodic full catch-up: bounds the lag, and the power table
  static constexpr int FWD_TILE_MIN_B = 32;     // batch-blocked forward from this batch size on
  static constexpr int FWD_TILE_MIN_B_16 = 2;   // the same with 16-float loops (B = 10: 1.08x; 8-float: 1.00x)
  static constexpr int L1_TILE_BYTES = 32768;   // bytes of W1 per forward tile (an L1: 3-7 % faster than half)
  static constexpr int BWD_TILE_MIN_B = 64;     // batch-blocked weight gradient from this batch size on
  // Bytes of E per weight-gradient tile of examples: the L1 data cache less 16 KiB for the rows of W1, the
  // partial sums and the lists streaming through it (32 KiB L1: 16 KiB, the best of 8-64 on AMD EPYC; 48 KiB:
  // 32 KiB, 1.05-1.07x over 16 at B = 300 and 1000 on Intel Xeon). BWD_TILE_BYTES where the size is unknown.
  static constexpr int BWD_TILE_BYTES = 16384;
  static int bwdTileBytes();
  static constexpr int ROWS_BWD_MAX_B = 1;      // weight gradient by whole rows up to this B (slower at B = 10)
  static constexpr int THREAD_MIN_B = 64;       // batches this large use the team (smaller: one thread)
  static constexpr int MAX_THREADS = 256;

  Kernel(Model model, int inputs, int hidden, int classes, const float* x, const int32_t* y, int64_t n, int d,
         const Options& o);

  size_t parameterCount() const;
  void setParameters(const float* p, size_t len);
  void getParameters(float* out);
  double step(const int32_t* batch, int B);
  // Gradient of mean CE + l2/2 |w|^2 on `batch` at the current parameters (shared layout); returns the loss.
  double gradient(const int32_t* batch, int B, float* out);
  double loss(const int32_t* batch, int B);
  void evaluate(const float* x, const int32_t* y, int64_t n, int d, double* loss, double* acc);
  void dispose();
  // Threads a large batch (and the evaluation) may use, this one included; any time between calls.
  void setThreads(int n);
  int threads() const { return threads_; }
  // Vectors of the hot loops: 16 (AVX-512), 8 (AVX2 + FMA) or 0 (the portable loops); the widest the CPU
  // has by default. Every width gives the same numbers (a test checks it), so this is for tests and benches.
  void setVectorWidth(int width);
  int vectorWidth() const { return width_; }
  static bool supportsVectorWidth(int width);

 private:
  enum Mode { UPD_SGD, UPD_MOM, GRAD };
  Model model_;
  int D_, H_, C_;  // inputs, hidden (0 for linear), classes (outputs)
  int W_, Wp_;     // width of the first layer's output (H for the MLP, C otherwise), padded to 8
  Options o_;
  bool mom_, lazy_;
  int64_t n_;
  Csr X_;
  std::vector<int32_t> y_;
  // parameters (internal layout): W1 [D x Wp], b1 [Wp], W2T [C x Wp] (MLP), b2 [C] (MLP)
  FBuf W1_, b1_, W2T_, b2_;
  FBuf A1_, Ab1_, AW2T_, Ab2_;  // momentum buffers
  std::vector<int64_t> last_;   // per W1 row: step count at which it is up to date
  int64_t t_ = 0;               // completed steps
  std::vector<float> pow_;      // M^k, k = 0..FLUSH, 4 floats each (w<-a w + b A; A<-c w + d A)
  // chunks of the first layer's output: (offset in floats, number of vectors)
  std::vector<std::pair<int, int>> chunks_;
  // per-step scratch
  FBuf out_, E_, delta_, gb1_, logits_;
  std::vector<int32_t> cnt_, touched_, colStart_, colB_, fill_, colFill_;
  std::vector<float> colV_;
  int colTiles_ = 1;  // tiles of examples of the weight gradient (colStart_ holds their entries, tile-major)
  FBuf colPartial_;   // partial weight-gradient sums of the touched rows between tiles
  FBuf G1_, Gb1_, GW2T_, Gb2_;  // gradient mode only
  int exTile_ = 0;                   // examples per weight-gradient tile
  int rowTiles_ = 1;                 // forward tiles of W1 rows
  std::vector<int32_t> rowTileOf_;   // per W1 row: its forward tile
  // the batch's nonzeros packed by forward tile (RowTiles)
  std::vector<int32_t> rowTileStart_, rowTileIdx_;
  std::vector<float> rowTileVal_;
  std::vector<int32_t> evalRows_;
  std::vector<double> exBuf_;
  FBuf g2scratch_;
  FBuf& gW2scratch() {
    g2scratch_.resize(W2T_.size());
    return g2scratch_;
  }
  bool disposed_ = false;
  Team team_;
  int threads_ = 1;
  int width_ = 0;

  // Threads used for a batch of B examples.
  int teamFor(int B) const;

  void checkLive() const {
    if (disposed_) throw std::runtime_error("kernel was disposed");
  }
  void catchUpRow(int i);
  void flushAll();
  void buildColumns(const Csr& X, const int32_t* rows, int B);
  // catchUp: first bring the touched rows of each chunk up to date (a step's lazy momentum/L2).
  void forward1(const Csr& X, const int32_t* rows, int B, float* out, int nt, bool catchUp);
  void packRowTiles(const Csr& X, const int32_t* rows, int B);
  void catchUpColumns(int c0, int c1);
  void hiddenError(const float* delta, int B, int c0, int c1);
  double outputLayer(const int32_t* labels, const int32_t* rows, int B, float* out, double* correct);
  template <Mode MODE>
  double run(const int32_t* batch, int B);
  template <Mode MODE>
  void backward1(size_t q0, size_t q1);
  template <Mode MODE>
  void backward1Rows();
  template <Mode MODE>
  void updateDense(float* w, float* A, const float* g, float* gout, int len, double l2);
  void toShared(const float* w1, const float* b1, const float* w2t, const float* b2, float* out) const;
};

}  // namespace bopt
