// Runtime-dispatched AVX2/FMA epilogues for la_gemm: bias + SiLU over a row-major block.
//
// SwiftPM compiles C++ at -O2 without -march, so Eigen's transcendental functions run on SSE2 and the SiLU
// epilogue cost as much as the OpenBLAS GEMM before it. These functions carry their own target attribute
// (no compile flags for the package) and are only called after __builtin_cpu_supports confirms the CPU.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace linalg_avx2 {

/// exp(x) for float, vectorizable: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6
/// polynomial for e^r (the classic single-precision minimax coefficients), and 2^n built in the exponent
/// bits. Relative error about 2e-7 on [-87, 88]; inputs are clamped to that range.
__attribute__((target("avx2,fma"), always_inline)) static inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = __builtin_fmaf(n, -0.693359375f, x);
  r = __builtin_fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  p = __builtin_fmaf(p, r * r, r) + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/// c[i, j] = silu(c[i, j] + bias[j]) with silu(x) = x / (1 + e^−x); `bias` may be null.
__attribute__((target("avx2,fma"))) void bias_silu(float* c, const float* bias, long m, long n) {
  for (long i = 0; i < m; ++i) {
    float* row = c + i * n;
    if (bias != nullptr) {
      for (long j = 0; j < n; ++j) {
        const float x = row[j] + bias[j];
        row[j] = x / (1.0f + exp_approx(-x));
      }
    } else {
      for (long j = 0; j < n; ++j) {
        const float x = row[j];
        row[j] = x / (1.0f + exp_approx(-x));
      }
    }
  }
}

/// True when this CPU can run the functions above.
bool available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

}  // namespace linalg_avx2
