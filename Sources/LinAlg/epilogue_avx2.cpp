// Runtime-dispatched AVX2/FMA epilogues for la_gemm: bias + SiLU over a row-major block.
//
// SwiftPM compiles C++ at -O2 without -march, so Eigen's transcendental functions run on SSE2 and the SiLU
// epilogue cost as much as the OpenBLAS GEMM before it. These functions carry their own target attribute
// (no compile flags for the package) and are only called after __builtin_cpu_supports confirms the CPU.
// On other architectures (or with -DLINALG_NO_X86_KERNELS) only stubs are compiled: available() is false
// and linalg.cpp's portable code runs. la_set_vector_kernels(0) selects that code on x86 too (per thread).
#if (defined(__x86_64__) || defined(__i386__)) && !defined(LINALG_NO_X86_KERNELS)
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace linalg_avx2 {

/// Cleared by la_set_vector_kernels(0) on the calling thread (tests of the portable paths).
thread_local bool enabled = true;

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

/// log(x) for finite x > 0 (normal floats), vectorizable: x = m·2^e with m in [√½, √2), the Cephes
/// single-precision polynomial for log(m), and e·ln 2 added in two parts. Relative error about 1e-7.
__attribute__((target("avx2,fma"), always_inline)) static inline float log_approx(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 126;          // x = m · 2^e with m in [0.5, 1)
  int32_t mbits = (bits & 0x007fffff) | 0x3f000000;
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1 : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = __builtin_fmaf(y, m, -1.1514610310e-1f);
  y = __builtin_fmaf(y, m, 1.1676998740e-1f);
  y = __builtin_fmaf(y, m, -1.2420140846e-1f);
  y = __builtin_fmaf(y, m, 1.4249322787e-1f);
  y = __builtin_fmaf(y, m, -1.6668057665e-1f);
  y = __builtin_fmaf(y, m, 2.0000714765e-1f);
  y = __builtin_fmaf(y, m, -2.4999993993e-1f);
  y = __builtin_fmaf(y, m, 3.3333331174e-1f);
  y = y * m * z;
  const float ef = float(e);
  y = __builtin_fmaf(ef, -2.12194440e-4f, y);
  y = __builtin_fmaf(z, -0.5f, y);
  return __builtin_fmaf(ef, 0.693359375f, m + y);
}

/// softplus(x) = max(x, 0) + log(1 + e^−|x|), overflow-free.
__attribute__((target("avx2,fma"), always_inline)) static inline float softplus_approx(float x) {
  const float a = x < 0 ? -x : x;
  return (x > 0 ? x : 0.0f) + log_approx(1.0f + exp_approx(-a));
}

/// One element of the sampling epilogue: x + mu·std + mean + exp(bounded(raw)/2)·std·z.
__attribute__((target("avx2,fma"), always_inline)) static inline float gaussian_element(float mu, float raw, float x, float z,
                                                                                      float mean, float std, float max_lv,
                                                                                      float min_lv) {
  const float upper = max_lv - softplus_approx(max_lv - raw);
  const float logvar = min_lv + softplus_approx(upper - min_lv);
  return x + __builtin_fmaf(mu, std, mean) + exp_approx(0.5f * logvar) * std * z;
}

/// The sampling epilogue of a Gaussian ensemble head (see la_gaussian_step in linalg.h). Each row's first
/// s − s mod 8 dimensions run 8 at a time in place; the last s mod 8 of 8 rows at a time are staged into
/// short contiguous arrays (with their parameters) so they run 8 at a time too, instead of one by one.
__attribute__((target("avx2,fma"))) void gaussian_step(long rows, long s, const float* head, const float* states,
                                                       const float* target_mean, const float* target_std,
                                                       const float* max_logvar, const float* min_logvar,
                                                       const float* noise, float* next) {
  if (noise == nullptr) {
    for (long i = 0; i < rows; ++i) {
      const float* h = head + i * 2 * s;
      const float* x = states + i * s;
      float* o = next + i * s;
      for (long d = 0; d < s; ++d) o[d] = x[d] + __builtin_fmaf(h[d], target_std[d], target_mean[d]);
    }
    return;
  }
  const long s8 = s & ~7L, t = s - s8;  // vector part and tail of each row
  constexpr long kBlock = 8;            // rows whose tails are staged together: 8·t elements, t < 8
  float mu[kBlock * 8], raw[kBlock * 8], xs[kBlock * 8], zs[kBlock * 8], out[kBlock * 8];
  float mean[kBlock * 8], sd[kBlock * 8], mx[kBlock * 8], mn[kBlock * 8];
  for (long k = 0; k < kBlock * t; ++k) {  // the tails' parameters repeat every t elements
    const long d = s8 + k % t;
    mean[k] = target_mean[d]; sd[k] = target_std[d]; mx[k] = max_logvar[d]; mn[k] = min_logvar[d];
  }
  for (long i0 = 0; i0 < rows; i0 += kBlock) {
    const long nb = rows - i0 < kBlock ? rows - i0 : kBlock;
    for (long i = i0; i < i0 + nb; ++i) {
      const float* h = head + i * 2 * s;
      const float* x = states + i * s;
      const float* z = noise + i * s;
      float* o = next + i * s;
      for (long d = 0; d < s8; ++d)
        o[d] = gaussian_element(h[d], h[s + d], x[d], z[d], target_mean[d], target_std[d], max_logvar[d], min_logvar[d]);
    }
    if (t == 0) continue;
    for (long r = 0; r < nb; ++r) {
      const long i = i0 + r;
      for (long c = 0; c < t; ++c) {
        mu[r * t + c] = head[i * 2 * s + s8 + c];
        raw[r * t + c] = head[i * 2 * s + s + s8 + c];
        xs[r * t + c] = states[i * s + s8 + c];
        zs[r * t + c] = noise[i * s + s8 + c];
      }
    }
    const long n = nb * t;
    for (long k = 0; k < n; ++k) out[k] = gaussian_element(mu[k], raw[k], xs[k], zs[k], mean[k], sd[k], mx[k], mn[k]);
    for (long r = 0; r < nb; ++r)
      for (long c = 0; c < t; ++c) next[(i0 + r) * s + s8 + c] = out[r * t + c];
  }
}

/// softplus(x) and the logistic σ(x) together (σ = d softplus/dx), sharing e^−|x|.
__attribute__((target("avx2,fma"), always_inline)) static inline void softplus_logistic(float x, float* sp, float* sig) {
  const float a = x < 0 ? -x : x;
  const float e = exp_approx(-a);
  const float inv = 1.0f / (1.0f + e);
  *sp = (x > 0 ? x : 0.0f) + log_approx(1.0f + e);
  *sig = x >= 0 ? inv : e * inv;
}

/// The Gaussian NLL of an ensemble's heads (see la_gaussian_nll in linalg.h). Rows go 8 at a time: their
/// means, raw log-variances and targets are copied into contiguous staging arrays of 8·d floats, so the
/// element loop runs over whole vectors whatever d is; the bound parameters are tiled to the same length.
__attribute__((target("avx2,fma"))) void gaussian_nll(long members, long batch, long d, const float* head,
                                                      const float* target, const float* max_lv, const float* min_lv,
                                                      float* grad_head, double* member_sums, double* grad_max,
                                                      double* grad_min) {
  constexpr long kBlock = 8;
  const long n8 = kBlock * d;
  std::vector<float> buf(11 * n8);
  float *mu = buf.data(), *raw = mu + n8, *tg = raw + n8, *hi = tg + n8, *lo = hi + n8, *gmu = lo + n8,
        *graw = gmu + n8, *term = graw + n8, *gmx = term + n8, *gmn = gmx + n8;
  std::vector<double> acc(3 * n8, 0.0);
  double *termAcc = acc.data(), *gmxAcc = termAcc + n8, *gmnAcc = gmxAcc + n8;
  for (long k = 0; k < n8; ++k) { hi[k] = max_lv[k % d]; lo[k] = min_lv[k % d]; }
  const float scale = 1.0f / float(batch * d);
  for (long e = 0; e < members; ++e) {
    for (long k = 0; k < n8; ++k) termAcc[k] = 0.0;
    for (long b0 = 0; b0 < batch; b0 += kBlock) {
      const long nb = batch - b0 < kBlock ? batch - b0 : kBlock, n = nb * d;
      for (long r = 0; r < nb; ++r) {
        const long row = e * batch + b0 + r;
        std::memcpy(mu + r * d, head + row * 2 * d, size_t(d) * sizeof(float));
        std::memcpy(raw + r * d, head + row * 2 * d + d, size_t(d) * sizeof(float));
        std::memcpy(tg + r * d, target + row * d, size_t(d) * sizeof(float));
      }
      for (long k = 0; k < n; ++k) {
        float spU, sigU, spV, sigV;
        softplus_logistic(hi[k] - raw[k], &spU, &sigU);
        softplus_logistic(hi[k] - spU - lo[k], &spV, &sigV);
        const float s = lo[k] + spV;
        const float diff = mu[k] - tg[k];
        const float iv = exp_approx(-s);
        const float d2iv = diff * diff * iv;
        const float dS = (1.0f - d2iv) * scale;  // dL/ds
        term[k] = d2iv + s;
        gmu[k] = 2.0f * diff * iv * scale;
        graw[k] = dS * sigV * sigU;             // ds/dr = σ(v)·σ(u)
        gmx[k] = dS * sigV * (1.0f - sigU);     // ds/dmax = σ(v)(1 − σ(u))
        gmn[k] = dS * (1.0f - sigV);            // ds/dmin = 1 − σ(v)
      }
      for (long k = 0; k < n; ++k) {
        termAcc[k] += double(term[k]);
        gmxAcc[k] += double(gmx[k]);
        gmnAcc[k] += double(gmn[k]);
      }
      for (long r = 0; r < nb; ++r) {
        const long row = e * batch + b0 + r;
        std::memcpy(grad_head + row * 2 * d, gmu + r * d, size_t(d) * sizeof(float));
        std::memcpy(grad_head + row * 2 * d + d, graw + r * d, size_t(d) * sizeof(float));
      }
    }
    double sum = 0.0;
    for (long k = 0; k < n8; ++k) sum += termAcc[k];
    member_sums[e] = sum;
  }
  for (long k = 0; k < n8; ++k) {
    grad_max[k % d] += gmxAcc[k];
    grad_min[k % d] += gmnAcc[k];
  }
}

/// sin and cos of 2π·u for u in [0, 1), vectorizable: u is reduced to the nearest quarter turn q and a
/// remainder x in [−π/4, π/4], whose sine (degree 7) and cosine (degree 8) Taylor polynomials are within
/// 3e-7 there; the quarter turn then swaps and negates them.
__attribute__((target("avx2,fma"), always_inline)) static inline void sincos_turns(float u, float* s, float* c) {
  const float t = u - __builtin_floorf(u + 0.5f);           // [−½, ½]
  const float qf = __builtin_floorf(4.0f * t + 0.5f);       // nearest quarter turn, −2 … 2
  const float x = 6.28318530717958648f * __builtin_fmaf(qf, -0.25f, t);
  const float x2 = x * x;
  float sp = -1.9841269841e-4f;
  sp = __builtin_fmaf(sp, x2, 8.3333333333e-3f);
  sp = __builtin_fmaf(sp, x2, -1.6666666667e-1f);
  const float sx = __builtin_fmaf(sp * x2, x, x);
  float cp = 2.4801587302e-5f;
  cp = __builtin_fmaf(cp, x2, -1.3888888889e-3f);
  cp = __builtin_fmaf(cp, x2, 4.1666666667e-2f);
  cp = __builtin_fmaf(cp, x2, -0.5f);
  const float cx = __builtin_fmaf(cp, x2, 1.0f);
  const int q = int(qf) & 3;
  const float sv = (q & 1) ? cx : sx, cv = (q & 1) ? sx : cx;
  *s = (q == 2 || q == 3) ? -sv : sv;                        // sin(x + qπ/2)
  *c = (q == 1 || q == 2) ? -cv : cv;                        // cos(x + qπ/2)
}

/// Box–Muller on 64-bit random words (see la_box_muller in linalg.h).
__attribute__((target("avx2,fma"))) void box_muller(long pairs, const uint64_t* bits, float* out) {
  constexpr long kChunk = 64;
  float u1[kChunk], u2[kChunk], r[kChunk], sn[kChunk], cs[kChunk];
  for (long p0 = 0; p0 < pairs; p0 += kChunk) {
    const long len = pairs - p0 < kChunk ? pairs - p0 : kChunk;
    for (long i = 0; i < len; ++i) {
      const uint64_t b = bits[p0 + i];
      u1[i] = float(int32_t(b >> 40) + 1) * 0x1.0p-24f;          // (0, 1]
      u2[i] = float(int32_t((b >> 16) & 0xFFFFFF)) * 0x1.0p-24f;  // [0, 1)
    }
    for (long i = 0; i < len; ++i) r[i] = __builtin_sqrtf(-2.0f * log_approx(u1[i]));
    for (long i = 0; i < len; ++i) sincos_turns(u2[i], &sn[i], &cs[i]);
    float* o = out + 2 * p0;
    for (long i = 0; i < len; ++i) {
      o[2 * i] = r[i] * cs[i];
      o[2 * i + 1] = r[i] * sn[i];
    }
  }
}

/// True when this CPU can run the functions above and la_set_vector_kernels has not turned them off.
bool available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok && enabled;
}

}  // namespace linalg_avx2

#else  // not x86: no AVX2 kernels; linalg.cpp's portable paths run (available() is false, so these never do)

#include <cstdint>
#include <cstdlib>

namespace linalg_avx2 {
thread_local bool enabled = true;
bool available() { return false; }
void bias_silu(float*, const float*, long, long) { std::abort(); }
void gaussian_step(long, long, const float*, const float*, const float*, const float*, const float*, const float*,
                   const float*, float*) { std::abort(); }
void gaussian_nll(long, long, long, const float*, const float*, const float*, const float*, float*, double*, double*,
                  double*) { std::abort(); }
void box_muller(long, const uint64_t*, float*) { std::abort(); }
}  // namespace linalg_avx2

#endif
