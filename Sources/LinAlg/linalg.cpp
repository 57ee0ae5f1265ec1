// linalg.cpp: Eigen implementation of the flat C API in include/linalg.h.
//
// All user arrays are wrapped in row-major Eigen::Map views (no copies in the GEMM paths).
// GEMM = one Eigen product into c, followed by at most one fused bias + activation pass.

#include "linalg.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace linalg_avx2 {
void bias_silu(float* c, const float* bias, long m, long n);
void gaussian_step(long rows, long s, const float* head, const float* states, const float* target_mean,
                   const float* target_std, const float* max_logvar, const float* min_logvar, const float* noise,
                   float* next);
void gaussian_nll(long members, long batch, long d, const float* head, const float* target, const float* max_lv,
                  const float* min_lv, float* grad_head, double* member_sums, double* grad_max, double* grad_min);
bool available();
extern thread_local bool enabled;
void box_muller(long pairs, const uint64_t* bits, float* out);
void gemm_packed(long m, long n, long k, const float* a, const float* packed, const float* bias, float* c,
                 int fused_act);
}  // namespace linalg_avx2

namespace {

using Eigen::Dynamic;
using Eigen::Index;

using MatF = Eigen::Matrix<float, Dynamic, Dynamic, Eigen::RowMajor>;
using MatD = Eigen::Matrix<double, Dynamic, Dynamic, Eigen::RowMajor>;
using ArrF = Eigen::Array<float, Dynamic, 1>;

/// Applies act(x) to the array expression `x` and stores it in `dst` (same shape), for every
/// activation except ELU (see elu_inplace). Coefficient-wise, so dst may be an operand of x.
template <int Act, class Dst, class Src>
inline void assign_activation(Dst&& dst, const Src& x) {
  if constexpr (Act == LA_ACT_RELU) {
    dst = x.max(0.0f);
  } else if constexpr (Act == LA_ACT_TANH) {
    dst = x.tanh();
  } else if constexpr (Act == LA_ACT_SILU) {
    dst = x * x.logistic();
  } else {
    dst = x;
  }
}

/// In-place ELU on `count` contiguous floats: x if x > 0, else expm1(x).
///
/// expm1(x) is evaluated as 2t / (1 - t) with t = tanh(x / 2), on min(x, 0) so 1 - t is in
/// [1, 2]. Everything vectorizes (Eigen 3.4 cannot vectorize select(), and its exp/expm1 are
/// several times slower than its tanh), and unlike exp(x) - 1 it keeps full relative accuracy
/// near 0 (measured max relative error 3.1e-7 on [-30, 0]). Works through a stack chunk so t
/// is computed once per entry; a chunk of a row stays in L1.
void elu_inplace(float* p, Index count) {
  constexpr Index kChunk = 256;
  float tbuf[kChunk];
  for (Index s = 0; s < count; s += kChunk) {
    const Index len = std::min(kChunk, count - s);
    Eigen::Map<ArrF> x(p + s, len);
    Eigen::Map<ArrF> t(tbuf, len);
    t = (x.min(0.0f) * 0.5f).tanh();
    x = x.max(0.0f) + 2.0f * t / (1.0f - t);
  }
}

/// The GEMM epilogue: c(m x n) = act(c + bias) in one pass over c (bias (n) may be null).
template <int Act>
void epilogue_impl(float* c, const float* bias, Index m, Index n) {
  if constexpr (Act == LA_ACT_ELU) {
    if (bias == nullptr) {
      elu_inplace(c, m * n);
    } else {
      Eigen::Map<const ArrF> bvec(bias, n);
      for (Index i = 0; i < m; ++i) {  // the row is still in L1 for the ELU step
        Eigen::Map<ArrF> row(c + i * n, n);
        row += bvec;
        elu_inplace(c + i * n, n);
      }
    }
    return;
  }
  if (bias == nullptr) {
    // Whole output as one flat array: best vectorization even for tiny n.
    Eigen::Map<ArrF> all(c, m * n);
    assign_activation<Act>(all, all);
    return;
  }
  Eigen::Map<const ArrF> bvec(bias, n);
  for (Index i = 0; i < m; ++i) {
    Eigen::Map<ArrF> row(c + i * n, n);
    assign_activation<Act>(row, row + bvec);
  }
}

/// Dispatches the epilogue on the runtime activation (unknown values act as LA_ACT_NONE).
void epilogue(float* c, const float* bias, Index m, Index n, int activation) {
  if (activation == LA_ACT_SILU && linalg_avx2::available()) {
    linalg_avx2::bias_silu(c, bias, long(m), long(n));
    return;
  }
  switch (activation) {
    case LA_ACT_RELU: epilogue_impl<LA_ACT_RELU>(c, bias, m, n); break;
    case LA_ACT_TANH: epilogue_impl<LA_ACT_TANH>(c, bias, m, n); break;
    case LA_ACT_SILU: epilogue_impl<LA_ACT_SILU>(c, bias, m, n); break;
    case LA_ACT_ELU:  epilogue_impl<LA_ACT_ELU>(c, bias, m, n); break;
    default:
      if (bias != nullptr) epilogue_impl<LA_ACT_NONE>(c, bias, m, n);
      break;  // no bias, no activation: nothing to do
  }
}

/// OpenBLAS runs one thread unless OPENBLAS_NUM_THREADS says otherwise: parallelism belongs to the
/// callers (ensemble members, environments), and single-thread figures stay comparable.
void blas_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) openblas_set_num_threads(1);
  });
}

/// Products big enough for OpenBLAS's runtime-dispatched (AVX-512 here) kernels to beat Eigen's SSE2
/// code, which is what SwiftPM's -O2 without -march gives.
inline bool use_blas(Index m, Index n, Index k) { return m * n * k >= 16384; }

/// Shared body of la_gemm and la_gemm_batched (sizes already validated, m*n > 0).
void gemm_impl(Index m, Index n, Index k, const float* a, const float* b, const float* bias,
               float* c, int activation, float beta) {
  Eigen::Map<MatF> C(c, m, n);
  if (k == 0) {
    // Empty product; don't touch the (possibly empty, possibly null) a and b.
    if (beta == 0.0f) C.setZero(); else C *= beta;
  } else if (use_blas(m, n, k)) {
    blas_init();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a, int(k), b, int(n),
                beta, c, int(n));
  } else {
    Eigen::Map<const MatF> A(a, m, k);
    Eigen::Map<const MatF> B(b, k, n);
    if (beta == 0.0f) {
      C.noalias() = A * B;
    } else {
      if (beta != 1.0f) C *= beta;
      C.noalias() += A * B;
    }
  }
  epilogue(c, bias, m, n, activation);
}

/// True when a matrix of the given sizes has at least one entry (and all sizes are >= 0).
inline bool nonempty(int r, int c) { return r > 0 && c > 0; }

}  // namespace

extern "C" {

void la_gemm(int m, int n, int k, const float* a, const float* b, const float* bias, float* c,
             int activation, float beta) {
  if (m < 0 || n < 0 || k < 0 || !nonempty(m, n)) return;
  gemm_impl(m, n, k, a, b, bias, c, activation, beta);
}

void la_gemm_tn(int m, int n, int k, const float* a, const float* b, float* c, int accumulate) {
  if (m < 0 || n < 0 || k < 0 || !nonempty(m, n)) return;
  Eigen::Map<MatF> C(c, m, n);
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  if (use_blas(m, n, k)) {
    blas_init();
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0f, a, m, b, n, accumulate ? 1.0f : 0.0f, c, n);
    return;
  }
  Eigen::Map<const MatF> A(a, k, m);  // stored (k x m); used as A^T (m x k)
  Eigen::Map<const MatF> B(b, k, n);
  if (accumulate) C.noalias() += A.transpose() * B;
  else            C.noalias()  = A.transpose() * B;
}

void la_gemm_nt(int m, int n, int k, const float* a, const float* b, float* c, int accumulate) {
  if (m < 0 || n < 0 || k < 0 || !nonempty(m, n)) return;
  Eigen::Map<MatF> C(c, m, n);
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  if (use_blas(m, n, k)) {
    blas_init();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, accumulate ? 1.0f : 0.0f, c, n);
    return;
  }
  Eigen::Map<const MatF> A(a, m, k);
  Eigen::Map<const MatF> B(b, n, k);  // stored (n x k); used as B^T (k x n)
  if (accumulate) C.noalias() += A * B.transpose();
  else            C.noalias()  = A * B.transpose();
}

void la_gemm_batched(int batch, int m, int n, int k, const float* a, const float* b,
                     const float* bias, float* c, int activation) {
  if (batch < 0 || m < 0 || n < 0 || k < 0 || batch == 0 || !nonempty(m, n)) return;
  const Index sa = Index(m) * k, sb = Index(k) * n, sc = Index(m) * n;
  for (Index e = 0; e < batch; ++e) {
    gemm_impl(m, n, k,
              k > 0 ? a + e * sa : nullptr,
              k > 0 ? b + e * sb : nullptr,
              bias != nullptr ? bias + e * Index(n) : nullptr,
              c + e * sc, activation, 0.0f);
  }
}

void la_box_muller(long pairs, const uint64_t* bits, float* out) {
  if (pairs <= 0) return;
  if (linalg_avx2::available()) {
    linalg_avx2::box_muller(pairs, bits, out);
    return;
  }
  for (long i = 0; i < pairs; ++i) {
    const uint64_t b = bits[i];
    const float u1 = float(int32_t(b >> 40) + 1) * 0x1.0p-24f;
    const float u2 = float(int32_t((b >> 16) & 0xFFFFFF)) * 0x1.0p-24f;
    const float r = std::sqrt(-2.0f * std::log(u1));
    const float theta = 6.28318530717958648f * u2;
    out[2 * i] = r * std::cos(theta);
    out[2 * i + 1] = r * std::sin(theta);
  }
}

long la_packed_size(int k, int n) {
  if (k <= 0 || n <= 0) return 0;
  return long(k) * 16 * ((long(n) + 15) / 16);
}

void la_pack_b(int k, int n, const float* b, float* packed) {
  if (k <= 0 || n <= 0) return;
  const long panels = (long(n) + 15) / 16;
  for (long q = 0; q < panels; ++q) {
    const long j0 = q * 16, cols = std::min<long>(16, n - j0);
    for (long p = 0; p < k; ++p) {
      float* dst = packed + (q * k + p) * 16;
      const float* src = b + p * long(n) + j0;
      long j = 0;
      for (; j < cols; ++j) dst[j] = src[j];
      for (; j < 16; ++j) dst[j] = 0.0f;
    }
  }
}

void la_gemm_packed(int m, int n, int k, const float* a, const float* packed_b, const float* bias, float* c,
                    int activation) {
  if (m < 0 || n < 0 || k < 0 || !nonempty(m, n)) return;
  const bool fusable = activation == LA_ACT_NONE || activation == LA_ACT_RELU || activation == LA_ACT_SILU;
  if (k > 0 && linalg_avx2::available()) {
    linalg_avx2::gemm_packed(m, n, k, a, packed_b, bias, c, fusable ? activation : LA_ACT_NONE);
    if (!fusable) epilogue(c, nullptr, m, n, activation);
    return;
  }
  // Portable path: the product straight from the panels, then la_gemm's epilogue.
  for (long i = 0; i < m; ++i) {
    float* row = c + i * long(n);
    for (long j = 0; j < n; ++j) row[j] = 0.0f;
    for (long q = 0; q * 16 < n; ++q) {
      const long j0 = q * 16, cols = std::min<long>(16, n - j0);
      const float* panel = packed_b + q * long(k) * 16;
      for (long p = 0; p < k; ++p) {
        const float av = a[i * long(k) + p];
        for (long j = 0; j < cols; ++j) row[j0 + j] += av * panel[p * 16 + j];
      }
    }
  }
  epilogue(c, bias, m, n, activation);
}

void la_gemm_packed_batched(int batch, int m, int n, int k, const float* a, const float* packed_b,
                            const float* bias, float* c, int activation) {
  if (batch <= 0 || m < 0 || n < 0 || k < 0 || !nonempty(m, n)) return;
  const long sa = long(m) * k, sp = la_packed_size(k, n), sc = long(m) * n;
  for (long e = 0; e < batch; ++e) {
    la_gemm_packed(m, n, k, a + e * sa, packed_b + e * sp, bias != nullptr ? bias + e * long(n) : nullptr,
                   c + e * sc, activation);
  }
}

int la_solve_spd(int n, int nrhs, const double* a, const double* b, double* x) {
  if (n < 0 || nrhs < 0) return LA_ERR_ARG;
  if (n == 0 || nrhs == 0) return LA_OK;
  if (a == nullptr || b == nullptr || x == nullptr) return LA_ERR_ARG;

  Eigen::Map<const MatD> A(a, n, n);
  Eigen::Map<const MatD> B(b, n, nrhs);
  // Only the lower triangle (a[i][j], j <= i) is part of the input.
  for (Index i = 0; i < n; ++i) {
    if (!A.row(i).head(i + 1).allFinite()) return LA_ERR_NONFINITE;
  }
  if (!B.allFinite()) return LA_ERR_NONFINITE;

  // LDLT stores its own column-major copy; Lower: reads a[i][j] for j <= i only.
  Eigen::LDLT<Eigen::MatrixXd, Eigen::Lower> ldlt(A);
  if (ldlt.info() != Eigen::Success) return LA_ERR_NOT_SPD;

  // Positive definite (numerically): every pivot d_i > n * eps * max |d|. Written as explicit
  // comparisons so that a NaN pivot (overflow inside the factorization) also fails.
  const auto& d = ldlt.vectorD();
  double dmax = 0.0;
  for (Index i = 0; i < n; ++i) dmax = std::max(dmax, std::abs(d[i]));
  const double tol = double(n) * std::numeric_limits<double>::epsilon() * dmax;
  for (Index i = 0; i < n; ++i) {
    if (!(d[i] > tol) || !std::isfinite(d[i])) return LA_ERR_NOT_SPD;
  }

  Eigen::Map<MatD> X(x, n, nrhs);
  if (x != b) X = B;
  ldlt.solveInPlace(X);  // permutations and triangular solves applied in place
  return X.allFinite() ? LA_OK : LA_ERR_NONFINITE;
}

int la_lstsq(int m, int n, int nrhs, const double* a, const double* b, double* x,
             double* singular_values) {
  if (m < 0 || n < 0 || nrhs < 0) return LA_ERR_ARG;
  if (n > 0 && nrhs > 0 && x == nullptr) return LA_ERR_ARG;
  if (m == 0 || n == 0) {
    if (n > 0 && nrhs > 0) Eigen::Map<MatD>(x, n, nrhs).setZero();
    return LA_OK;  // min(m, n) == 0: no singular values to write
  }
  if (a == nullptr || (nrhs > 0 && b == nullptr)) return LA_ERR_ARG;

  const Eigen::MatrixXd A = Eigen::Map<const MatD>(a, m, n);  // one column-major copy
  // Reject NaN/Inf up front: the SVD would report garbage and the solution would be NaN anyway.
  if (!A.allFinite() || (nrhs > 0 && !Eigen::Map<const MatD>(b, m, nrhs).allFinite())) {
    return LA_ERR_NONFINITE;
  }
  if (singular_values != nullptr) {
    Eigen::BDCSVD<Eigen::MatrixXd> svd(A);  // singular values only (no U, V)
    Eigen::Map<Eigen::VectorXd>(singular_values, std::min(m, n)) = svd.singularValues();
  }
  if (nrhs == 0) return LA_OK;

  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(A);
  // Evaluate into a temporary so that x may alias b.
  const Eigen::MatrixXd sol = cod.solve(Eigen::Map<const MatD>(b, m, nrhs));
  Eigen::Map<MatD> X(x, n, nrhs);
  X = sol;
  return X.allFinite() ? LA_OK : LA_ERR_NONFINITE;
}

int la_symmetric_eigen(int n, const double* a, double* eigenvalues, double* eigenvectors) {
  if (n < 0) return LA_ERR_ARG;
  if (n == 0) return LA_OK;
  if (a == nullptr || eigenvalues == nullptr || eigenvectors == nullptr) return LA_ERR_ARG;
  const Eigen::Map<const MatD> A(a, n, n);
  // read the lower triangle only (the upper one is assumed to mirror it)
  Eigen::MatrixXd lower = A.triangularView<Eigen::Lower>();
  if (!lower.allFinite()) return LA_ERR_NONFINITE;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(lower, Eigen::ComputeEigenvectors);
  if (solver.info() != Eigen::Success) return LA_ERR_NONFINITE;
  Eigen::Map<Eigen::VectorXd>(eigenvalues, n) = solver.eigenvalues();
  Eigen::Map<MatD>(eigenvectors, n, n) = solver.eigenvectors();
  return LA_OK;
}

const char* la_build_info(void) {
  static const std::string info = [] {
    std::string s = "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
                    std::to_string(EIGEN_MAJOR_VERSION) + "." +
                    std::to_string(EIGEN_MINOR_VERSION);
    s += "; SIMD: ";
    s += Eigen::SimdInstructionSetsInUse();
    s += "; large GEMMs: OpenBLAS ";
    s += openblas_get_config();
    s += " (core ";
    s += openblas_get_corename();
    s += ")";
#if defined(EIGEN_VECTORIZE_FMA)
    s += "; FMA: yes";
#else
    s += "; FMA: no";
#endif
    s += "; max align: " + std::to_string(EIGEN_MAX_ALIGN_BYTES) + " B";
#if defined(EIGEN_HAS_OPENMP)
    s += "; threads: OpenMP (" + std::to_string(Eigen::nbThreads()) + ")";
#else
    s += "; threads: 1";
#endif
#if defined(EIGEN_NO_DEBUG)
    s += "; eigen_assert: off";
#else
    s += "; eigen_assert: on";
#endif
#if defined(__OPTIMIZE__)
    s += "; optimized: yes";
#else
    s += "; optimized: no";
#endif
#if defined(__clang__)
    s += "; compiler: clang " + std::to_string(__clang_major__) + "." +
         std::to_string(__clang_minor__) + "." + std::to_string(__clang_patchlevel__);
#elif defined(__GNUC__)
    s += "; compiler: gcc " __VERSION__;
#endif
    return s;
  }();
  return info.c_str();
}

}  // extern "C"

//---------------------------------- ensemble sampling epilogue ----------------------------------

namespace {
inline float softplus_ref(float x) { return std::max(x, 0.0f) + std::log(1.0f + std::exp(-std::fabs(x))); }
}  // namespace

extern "C" void la_gaussian_step(int rows, int s, const float* head, const float* states, const float* target_mean,
                                 const float* target_std, const float* max_logvar, const float* min_logvar,
                                 const float* noise, float* next) {
  if (rows <= 0 || s <= 0) return;
  if (linalg_avx2::available()) {
    linalg_avx2::gaussian_step(rows, s, head, states, target_mean, target_std, max_logvar, min_logvar, noise, next);
    return;
  }
  for (long i = 0; i < rows; ++i) {
    const float* h = head + i * 2 * s;
    for (long d = 0; d < s; ++d) {
      float delta = h[d] * target_std[d] + target_mean[d];
      if (noise != nullptr) {
        const float upper = max_logvar[d] - softplus_ref(max_logvar[d] - h[s + d]);
        const float logvar = min_logvar[d] + softplus_ref(upper - min_logvar[d]);
        delta += std::exp(0.5f * logvar) * target_std[d] * noise[i * s + d];
      }
      next[i * s + d] = states[i * s + d] + delta;
    }
  }
}

extern "C" void la_gaussian_nll(int members, int batch, int d, const float* head, const float* target,
                                const float* max_lv, const float* min_lv, float* grad_head, double* member_sums,
                                double* grad_max, double* grad_min) {
  if (members <= 0) return;
  if (batch <= 0 || d <= 0) {
    for (int e = 0; e < members; ++e) member_sums[e] = 0.0;
    return;
  }
  if (linalg_avx2::available()) {
    linalg_avx2::gaussian_nll(members, batch, d, head, target, max_lv, min_lv, grad_head, member_sums, grad_max, grad_min);
    return;
  }
  const float scale = 1.0f / float(long(batch) * d);
  auto softplus_logistic = [](float x, float* sp, float* sig) {
    const float e = std::exp(-std::fabs(x));
    *sp = std::max(x, 0.0f) + std::log(1.0f + e);
    *sig = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
  };
  for (long e = 0; e < members; ++e) {
    double sum = 0.0;
    for (long b = 0; b < batch; ++b) {
      const long row = e * batch + b;
      for (long j = 0; j < d; ++j) {
        const float mu = head[row * 2 * d + j], r = head[row * 2 * d + d + j];
        float spU, sigU, spV, sigV;
        softplus_logistic(max_lv[j] - r, &spU, &sigU);
        softplus_logistic(max_lv[j] - spU - min_lv[j], &spV, &sigV);
        const float s = min_lv[j] + spV;
        const float diff = mu - target[row * d + j];
        const float iv = std::exp(-s);
        const float d2iv = diff * diff * iv;
        const float dS = (1.0f - d2iv) * scale;
        sum += double(d2iv + s);
        grad_head[row * 2 * d + j] = 2.0f * diff * iv * scale;
        grad_head[row * 2 * d + d + j] = dS * sigV * sigU;
        grad_max[j] += double(dS * sigV * (1.0f - sigU));
        grad_min[j] += double(dS * (1.0f - sigV));
      }
    }
    member_sums[e] = sum;
  }
}

extern "C" void la_set_vector_kernels(int enabled) { linalg_avx2::enabled = enabled != 0; }

extern "C" int la_vector_kernels(void) { return linalg_avx2::available() ? 1 : 0; }
