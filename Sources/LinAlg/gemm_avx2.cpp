// gemm_avx2.cpp: a GEMM with pre-packed weights and the bias + activation fused into the micro-kernel's
// epilogue, for the planner's inference path (la_gemm_packed in linalg.h).
//
// Why not OpenBLAS here: a planner multiplies the same weight matrices tens of thousands of times per
// planned action, on 2,000-row blocks. OpenBLAS re-packs its operands on every call, zeroes C for β = 0,
// and the bias + SiLU then needs another pass over C (together ~25 % of a CEM step, measured with perf).
// Here the weights are packed once (la_pack_b) into 16-column panels, the activations are read in place
// (row-major, no packing), and each 6 × 16 output tile gets its bias and activation while it is still in
// registers.
//
// Like epilogue_avx2.cpp, every function carries its own target attribute (SwiftPM builds without -march)
// and is called only after __builtin_cpu_supports confirmed AVX2 and FMA (linalg_avx2::available()).
// Not compiled on other architectures or with -DLINALG_NO_X86_KERNELS (la_gemm_packed's portable loop runs).
#if (defined(__x86_64__) || defined(__i386__)) && !defined(LINALG_NO_X86_KERNELS)
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "linalg.h"

namespace linalg_avx2 {

namespace {

constexpr long kNR = 16;   // columns per packed panel (two ymm registers)
constexpr long kMR = 6;    // rows per micro-tile (12 accumulators + 2 B + 1 broadcast = 15 of 16 ymm)
constexpr long kMB = 96;   // rows per block: a block's activations (96 × k floats) stay in L2 across panels

/// e^x for 8 floats: Cody–Waite reduction x = n·ln2 + r, the degree-6 polynomial of exp_approx in
/// epilogue_avx2.cpp, 2^n in the exponent bits. Relative error ~2e-7; x clamped to [−87.3, 88].
__attribute__((target("avx2,fma"), always_inline)) inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

/// The fused epilogue on one register: act(x) for LA_ACT_NONE, LA_ACT_RELU or LA_ACT_SILU.
/// SiLU = x / (1 + e^−x) with the reciprocal by rcp + one Newton step (relative error ~3e-8 on top of exp8's).
template <int Act>
__attribute__((target("avx2,fma"), always_inline)) inline __m256 activate(__m256 x) {
  if constexpr (Act == LA_ACT_RELU) {
    return _mm256_max_ps(x, _mm256_setzero_ps());
  } else if constexpr (Act == LA_ACT_SILU) {
    const __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x)));
    __m256 y = _mm256_rcp_ps(d);
    y = _mm256_mul_ps(y, _mm256_fnmadd_ps(d, y, _mm256_set1_ps(2.0f)));
    return _mm256_mul_ps(x, y);
  } else {
    return x;
  }
}

/// The activation on a whole tile's 2R registers, in lockstep: each step of the SiLU runs on every register
/// before the next step starts, so the 2R independent chains of ~20 dependent operations sit side by side
/// in the out-of-order window instead of one row's two chains at a time. Measured (minimum cycles of 15
/// alternating runs): 3 % fewer cycles for a 96 × 200 × 200 SiLU layer, 8.5 % for the 35-input first layer.
/// `Wide` false: only acc0 (a panel's first 8 columns) is live.
template <int R, int Act, bool Wide>
__attribute__((target("avx2,fma"), always_inline)) inline void activate_all(__m256* acc0, __m256* acc1) {
  if constexpr (Act == LA_ACT_SILU) {
    constexpr int V = Wide ? 2 * R : R;
    __m256 x[V], d[V];
    for (int r = 0; r < R; ++r) {
      if constexpr (Wide) { x[2 * r] = acc0[r]; x[2 * r + 1] = acc1[r]; } else { x[r] = acc0[r]; }
    }
    for (int v = 0; v < V; ++v) d[v] = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x[v]));
    for (int v = 0; v < V; ++v) d[v] = _mm256_add_ps(_mm256_set1_ps(1.0f), d[v]);
    for (int v = 0; v < V; ++v) {
      __m256 y = _mm256_rcp_ps(d[v]);
      y = _mm256_mul_ps(y, _mm256_fnmadd_ps(d[v], y, _mm256_set1_ps(2.0f)));
      x[v] = _mm256_mul_ps(x[v], y);
    }
    for (int r = 0; r < R; ++r) {
      if constexpr (Wide) { acc0[r] = x[2 * r]; acc1[r] = x[2 * r + 1]; } else { acc0[r] = x[r]; }
    }
  } else {
    for (int r = 0; r < R; ++r) {
      acc0[r] = activate<Act>(acc0[r]);
      if constexpr (Wide) acc1[r] = activate<Act>(acc1[r]);
    }
  }
}

/// One R × 16 tile: c[r][0..<cols] = act(Σ_p a[r][p] · panel[p][·] + bias16), R ≤ 6, cols ≤ 16.
/// `a` is row-major with leading dimension lda (read in place: six row streams); `panel` is k × 16
/// packed; `bias16` 16 floats (padded). `Wide` false (cols ≤ 8, e.g. the last 6 of a 54-column head)
/// skips the panel's second half, which would only multiply padding.
template <int R, int Act, bool Wide>
__attribute__((target("avx2,fma"), always_inline)) inline void tile(const float* a, long lda, const float* panel, long k,
                                                                   const float* bias16, float* c, long ldc, long cols) {
  __m256 acc0[R], acc1[R];
  const float* rows[R];
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
    rows[r] = a + r * lda;
  }
  // The output lines are written only at the end; fetch them now (for writing) so the stores do not
  // miss: the planner's outputs (2,000 × 200 floats per member) live beyond L2.
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + cols - 1), _MM_HINT_T0);
  }
  const float* bp = panel;
  for (long p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = Wide ? _mm256_loadu_ps(bp + 8) : _mm256_setzero_ps();
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(rows[r] + p);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      if constexpr (Wide) acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
    bp += kNR;
  }
  const __m256 bias0 = _mm256_load_ps(bias16), bias1 = _mm256_load_ps(bias16 + 8);
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_add_ps(acc0[r], bias0);
    if constexpr (Wide) acc1[r] = _mm256_add_ps(acc1[r], bias1);
  }
  activate_all<R, Act, Wide>(acc0, acc1);
  // lane masks of a partial panel's columns: lanes [0, cols) of the 16
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(cols)), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(cols) - 8), lane);
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    if (cols == kNR) {
      _mm256_storeu_ps(row, acc0[r]);
      _mm256_storeu_ps(row + 8, acc1[r]);
    } else if (cols > 8) {
      _mm256_storeu_ps(row, acc0[r]);
      _mm256_maskstore_ps(row + 8, mask1, acc1[r]);
    } else {
      _mm256_maskstore_ps(row, mask0, acc0[r]);
    }
  }
}

/// The tiles of rows [i0, i1) on one panel: 6 rows at a time, then the 1–5 left over.
template <int Act, bool Wide>
__attribute__((target("avx2,fma"), always_inline)) inline void panel_rows(long i0, long i1, long k, long n, const float* a,
                                                                         const float* panel, const float* bias16, float* c,
                                                                         long cols) {
  long i = i0;
  for (; i + kMR <= i1; i += kMR) tile<6, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols);
  switch (i1 - i) {
    case 5: tile<5, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols); break;
    case 4: tile<4, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols); break;
    case 3: tile<3, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols); break;
    case 2: tile<2, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols); break;
    case 1: tile<1, Act, Wide>(a + i * k, k, panel, k, bias16, c + i * n, n, cols); break;
    default: break;
  }
}

template <int Act>
__attribute__((target("avx2,fma"))) void gemm_packed_act(long m, long n, long k, const float* a, const float* packed,
                                                        const float* bias, float* c) {
  const long panels = (n + kNR - 1) / kNR;
  alignas(32) float bias16[kNR];
  for (long i0 = 0; i0 < m; i0 += kMB) {
    const long i1 = std::min(m, i0 + kMB);
    for (long q = 0; q < panels; ++q) {
      const long j0 = q * kNR, cols = std::min(kNR, n - j0);
      for (long j = 0; j < kNR; ++j) bias16[j] = (bias != nullptr && j < cols) ? bias[j0 + j] : 0.0f;
      const float* panel = packed + q * k * kNR;
      if (cols > 8) panel_rows<Act, true>(i0, i1, k, n, a, panel, bias16, c + j0, cols);
      else panel_rows<Act, false>(i0, i1, k, n, a, panel, bias16, c + j0, cols);
    }
  }
}

}  // namespace

/// c (m × n) = act(a (m × k) · B + bias) with B packed by la_pack_b; `fused_act` is LA_ACT_NONE, _RELU or
/// _SILU (anything else is the caller's to apply afterwards). Sizes validated by the caller (m, n, k > 0).
void gemm_packed(long m, long n, long k, const float* a, const float* packed, const float* bias, float* c,
                 int fused_act) {
  switch (fused_act) {
    case LA_ACT_RELU: gemm_packed_act<LA_ACT_RELU>(m, n, k, a, packed, bias, c); break;
    case LA_ACT_SILU: gemm_packed_act<LA_ACT_SILU>(m, n, k, a, packed, bias, c); break;
    default: gemm_packed_act<LA_ACT_NONE>(m, n, k, a, packed, bias, c); break;
  }
}

}  // namespace linalg_avx2

#else  // not x86: la_gemm_packed takes its portable path (linalg_avx2::available() is false)

#include <cstdlib>

namespace linalg_avx2 {
void gemm_packed(long, long, long, const float*, const float*, const float*, float*, int) { std::abort(); }
}  // namespace linalg_avx2

#endif
