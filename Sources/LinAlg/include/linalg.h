// linalg.h: flat C API over Eigen for the LinAlg target.
//
// Dense kernels for the learned models (GEMM with a fused bias + activation epilogue, the
// transposed products backprop needs, batched GEMM for ensembles) and small dense solvers for
// system identification (SPD solve, least squares).
//
// Conventions (read these once; the per-function comments rely on them):
//   - Every matrix is a dense, contiguous, ROW-MAJOR array. "(m x k)" means m rows of k
//     entries, element (i, j) at index i*k + j. "(batch x m x k)" means `batch` such matrices
//     back to back, member b starting at index b*m*k.
//   - Sizes are plain `int`; a size of 0 is allowed and means an empty matrix. Negative sizes
//     make the call do nothing (void functions) or return LA_ERR_ARG (int functions).
//   - Outputs must not overlap inputs unless a comment explicitly allows it.
//   - GEMM kernels are float (model weights, activations); solvers are double (identification).
//   - Every function is reentrant and thread-safe; each call runs on the calling thread only
//     (no internal thread pool).
//   - Pointers are non-null unless marked LA_NULLABLE; a pointer to an empty array (size 0) is
//     never read or written.
#ifndef LINALG_H
#define LINALG_H

// Nullability annotations make Swift import pointers as non-optional (or optional where
// marked). They are clang-only and purely descriptive.
#if defined(__clang__)
#define LA_NULLABLE _Nullable
#else
#define LA_NULLABLE
#endif

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-extension"
#pragma clang assume_nonnull begin
#endif

//---------------------------------- enums ------------------------------------------------------

/// Activation applied element-wise by the GEMM kernels (pass as `int activation`).
///
/// Definitions, with x the pre-activation value:
///   LA_ACT_NONE  identity            x
///   LA_ACT_RELU  rectified linear    max(x, 0)
///   LA_ACT_TANH  hyperbolic tangent  tanh(x)
///   LA_ACT_SILU  sigmoid-weighted    x * sigmoid(x) = x / (1 + exp(-x))   (a.k.a. swish)
///   LA_ACT_ELU   exponential linear  x if x > 0, else exp(x) - 1          (alpha = 1)
/// Any other value is treated as LA_ACT_NONE.
/// tanh and sigmoid use Eigen's vectorized float approximations (a few ulp); ELU's
/// exp(x) - 1 is evaluated as 2t/(1 - t) with t = tanh(x/2) (relative error ~3e-7, also near 0).
typedef enum la_activation_ {
  LA_ACT_NONE = 0,
  LA_ACT_RELU = 1,
  LA_ACT_TANH = 2,
  LA_ACT_SILU = 3,
  LA_ACT_ELU  = 4,
} la_activation;

/// Status codes returned by the solvers (0 is success).
typedef enum la_status_ {
  LA_OK            = 0,  // success
  LA_ERR_ARG       = 1,  // negative size or required NULL pointer
  LA_ERR_NOT_SPD   = 2,  // la_solve_spd: matrix not (numerically) positive definite / singular
  LA_ERR_NONFINITE = 3,  // solution contains NaN or Inf (non-finite input, or overflow)
} la_status;

//---------------------------------- GEMM (float) -----------------------------------------------

/// General matrix product with fused bias and activation.
///
/// Computes, for every i < m, j < n:
///   beta == 0:  c[i][j] = act( sum_p a[i][p]*b[p][j] + bias[j] )
///   beta != 0:  c[i][j] = act( sum_p a[i][p]*b[p][j] + bias[j] + beta*c_in[i][j] )
/// where bias[j] is taken as 0 when bias is NULL, act is given by `activation` (la_activation)
/// and c_in is the content of c on entry. The beta term is added BEFORE the activation.
/// When beta == 0 the input content of c is never read (it may be uninitialized or NaN).
/// The bias and activation are applied in a single pass over c after the product; with
/// bias == NULL and LA_ACT_NONE that pass is skipped. k == 0 gives a zero product (so
/// c = act(bias + beta*c_in)). No heap allocation besides Eigen's own packing buffers.
/// c must not overlap a, b or bias.
void la_gemm(int m, int n, int k,
             const float* a,                 // left factor                 (m x k)
             const float* b,                 // right factor                (k x n)
             const float* LA_NULLABLE bias,  // bias added to every row     (n), or NULL
             float* c,                       // output, in/out if beta != 0 (m x n)
             int activation,                 // la_activation
             float beta);                    // scale of c_in added before the activation

/// Matrix product with the left factor transposed: c = a^T * b (or c += a^T * b).
///
/// Computes, for every i < m, j < n:
///   accumulate == 0:  c[i][j]  = sum_p a[p][i]*b[p][j]
///   accumulate != 0:  c[i][j] += sum_p a[p][i]*b[p][j]
/// a is stored as (k x m), i.e. NOT transposed in memory. Backprop use: the weight gradient
/// dW (in x out) = X^T (in x batch) * dY (batch x out), with m = in, n = out, k = batch,
/// a = X (batch x in), b = dY (batch x out); accumulate != 0 sums gradients over calls.
/// No bias, no activation. When accumulate == 0 the input content of c is never read.
/// c must not overlap a or b.
void la_gemm_tn(int m, int n, int k,
                const float* a,  // left factor, stored untransposed  (k x m)
                const float* b,  // right factor                      (k x n)
                float* c,        // output, in/out if accumulate      (m x n)
                int accumulate); // 0: overwrite c, nonzero: add to c

/// Matrix product with the right factor transposed: c = a * b^T (or c += a * b^T).
///
/// Computes, for every i < m, j < n:
///   accumulate == 0:  c[i][j]  = sum_p a[i][p]*b[j][p]
///   accumulate != 0:  c[i][j] += sum_p a[i][p]*b[j][p]
/// b is stored as (n x k), i.e. NOT transposed in memory. Backprop use: the input gradient
/// dX (batch x in) = dY (batch x out) * W^T, with m = batch, n = in, k = out,
/// a = dY (batch x out), b = W (in x out).
/// No bias, no activation. When accumulate == 0 the input content of c is never read.
/// c must not overlap a or b.
void la_gemm_nt(int m, int n, int k,
                const float* a,  // left factor                       (m x k)
                const float* b,  // right factor, stored untransposed (n x k)
                float* c,        // output, in/out if accumulate      (m x n)
                int accumulate); // 0: overwrite c, nonzero: add to c

/// Batched GEMM with fused bias and activation: one call runs every member of an ensemble.
///
/// For every member e < batch, computes exactly what la_gemm computes with beta = 0:
///   c_e = act( a_e * b_e + bias_e )
/// with a_e = a + e*m*k, b_e = b + e*k*n, bias_e = bias + e*n (or no bias when bias is NULL),
/// c_e = c + e*m*n. Results are identical to `batch` separate la_gemm calls. The input
/// content of c is never read. c must not overlap a, b or bias.
void la_gemm_batched(int batch, int m, int n, int k,
                     const float* a,                 // left factors   (batch x m x k)
                     const float* b,                 // right factors  (batch x k x n)
                     const float* LA_NULLABLE bias,  // biases         (batch x n), or NULL
                     float* c,                       // outputs        (batch x m x n)
                     int activation);                // la_activation

//---------------------------------- GEMM with packed weights (float) ----------------------------

/// Number of floats of a (k x n) right factor packed by la_pack_b: k * 16 * ceil(n / 16).
long la_packed_size(int k, int n);

/// Packs a right factor b (k x n, row-major) for la_gemm_packed: column panels of 16, panel q holding
/// b[p][16q + j] at index (q*k + p)*16 + j, the last panel zero-padded. `packed` has la_packed_size(k, n)
/// floats; 32-byte alignment makes the kernel's loads cheapest but is not required.
void la_pack_b(int k, int n,
               const float* b,        // right factor  (k x n)
               float* packed);        // output        (la_packed_size(k, n))

/// c = act(a * B + bias) with B given packed by la_pack_b: the inference form of la_gemm (beta = 0).
///
/// For weights used many times (a planner's model): no per-call packing or zeroing, and with
/// LA_ACT_NONE, LA_ACT_RELU and LA_ACT_SILU the bias and activation are applied to each 6 x 16 tile
/// while it is in registers (AVX2/FMA kernel chosen at run time; SiLU's exp and reciprocal are ~2e-7
/// relative approximations). Other activations, and CPUs without AVX2/FMA, take a plain product
/// followed by la_gemm's epilogue. The input content of c is never read; c must not overlap a, the
/// packed factor or bias.
void la_gemm_packed(int m, int n, int k,
                    const float* a,                 // left factor                    (m x k)
                    const float* packed_b,          // right factor packed by la_pack_b
                    const float* LA_NULLABLE bias,  // bias added to every row        (n), or NULL
                    float* c,                       // output                         (m x n)
                    int activation);                // la_activation

/// la_gemm_packed for every member e < batch: c_e = act(a_e * B_e + bias_e) with a_e = a + e*m*k,
/// B_e packed at packed_b + e*la_packed_size(k, n), bias_e = bias + e*n (or NULL), c_e = c + e*m*n.
void la_gemm_packed_batched(int batch, int m, int n, int k,
                            const float* a,                 // left factors   (batch x m x k)
                            const float* packed_b,          // packed factors (batch x la_packed_size(k, n))
                            const float* LA_NULLABLE bias,  // biases         (batch x n), or NULL
                            float* c,                       // outputs        (batch x m x n)
                            int activation);                // la_activation

//---------------------------------- ensemble sampling (float) ----------------------------------

/// The sampling epilogue of a probabilistic ensemble's Gaussian head (PETS trajectory sampling), for
/// `rows` rows of state width s:
///   logvar = min_lv + softplus(max_lv − softplus(max_lv − raw) − min_lv)     (soft bounds, mbrl-lib)
///   next   = state + mu·target_std + target_mean [+ exp(logvar/2)·target_std·noise]
/// with head rows laid out [mu (s), raw log-variance (s)] in normalized units, and the noise term only
/// when `noise` (rows × s standard normals) is not NULL. Runtime-dispatched AVX2/FMA exp/log (relative
/// error ~2e-7) when the CPU has them, the C library otherwise. `next` may alias `states`.
void la_gaussian_step(int rows, int s,
                      const float* head,                 // (rows x 2s)
                      const float* states,               // (rows x s)
                      const float* target_mean,          // (s)
                      const float* target_std,           // (s)
                      const float* max_logvar,           // (s)
                      const float* min_logvar,           // (s)
                      const float* LA_NULLABLE noise,    // (rows x s) or NULL
                      float* next);

/// The PETS Gaussian NLL of an ensemble's heads and its gradients (the training loss; see
/// Loss.gaussianNLL in NeuralNets), for E = `members` members of `batch` rows of output width d:
///   s₁ = max_lv − softplus(max_lv − r),  s = min_lv + softplus(s₁ − min_lv)     (soft log-variance bounds)
///   term = (μ − y)²·e^(−s) + s
/// Writes member_sums[e] = Σ_{b,j} term (unscaled, accumulated in double), grad_head (E × B × 2d, mean
/// columns then raw log-variance columns) = ∂/∂head of Σ_e member_sums[e] / (B·d), and ADDS that
/// objective's gradients w.r.t. max_lv and min_lv to grad_max and grad_min (d each, double). The
/// regularizer on the bounds is the caller's. Runtime-dispatched AVX2/FMA exp/log (relative error ~2e-7),
/// rows staged 8 at a time so every dimension runs 8-wide; the C library otherwise.
void la_gaussian_nll(int members, int batch, int d,
                     const float* head,      // (members x batch x 2d)
                     const float* target,    // (members x batch x d)
                     const float* max_lv,    // (d)
                     const float* min_lv,    // (d)
                     float* grad_head,       // (members x batch x 2d), written
                     double* member_sums,    // (members), written
                     double* grad_max,       // (d), accumulated
                     double* grad_min);      // (d), accumulated                      // (rows x s)

/// Standard normals by the Box–Muller transform of 64-bit random words: word i gives
///   u1 = (bits >> 40) + 1) / 2^24 in (0, 1],  u2 = ((bits >> 16) & 0xFFFFFF) / 2^24 in [0, 1),
///   out[2i] = sqrt(−2 ln u1) · cos(2π u2),  out[2i+1] = sqrt(−2 ln u1) · sin(2π u2).
/// Runtime-dispatched AVX2/FMA log and sincos (absolute error < 1e-6 for |z| < 6), the C library
/// otherwise. `out` holds 2 * pairs floats.
void la_box_muller(long pairs,
                   const uint64_t* bits,   // random words   (pairs)
                   float* out);            // normals        (2 * pairs)

//---------------------------------- solvers (double) -------------------------------------------

/// Solve a * x = b for a symmetric positive definite a, by pivoted LDL^T (Eigen::LDLT).
///
/// Only the lower triangle of a (entries a[i][j] with j <= i) is read; the upper triangle is
/// assumed to mirror it. The matrix is rejected as not (numerically) positive definite when
/// the factorization fails or some pivot of D is not greater than
/// n * DBL_EPSILON * (largest |pivot|); this catches indefinite, negative definite, singular
/// and semidefinite matrices.
/// x may be the same pointer as b (solve in place); otherwise they must not overlap.
/// Allocates O(n*n) scratch memory.
/// Returns LA_OK (0) on success; otherwise a nonzero code and x is left untouched, except for
/// LA_ERR_NONFINITE after solving:
///   LA_ERR_ARG        negative size, or a NULL pointer with n*nrhs > 0
///   LA_ERR_NONFINITE  NaN/Inf in the lower triangle of a or in b (checked first), or a
///                     non-finite solution (overflow; x then holds it)
///   LA_ERR_NOT_SPD    a is not numerically symmetric positive definite
/// n == 0 or nrhs == 0 is a successful no-op.
int la_solve_spd(int n, int nrhs,
                 const double* a,  // symmetric positive definite matrix   (n x n)
                 const double* b,  // right-hand sides, one per column     (n x nrhs)
                 double* x);       // solution                             (n x nrhs)

/// Minimum-norm least-squares solution of a * x = b, by complete orthogonal decomposition
/// (Eigen::CompleteOrthogonalDecomposition: column-pivoted QR followed by a QR of R^T).
///
/// For each column of b, x minimizes ||a x - b||_2 and, among the minimizers, ||x||_2. This
/// covers overdetermined (m > n), square, underdetermined (m < n) and rank-deficient a; the
/// numerical rank uses Eigen's default threshold (min(m,n) * DBL_EPSILON relative to the
/// largest pivot). If singular_values is not NULL it receives the min(m,n) singular values of
/// a in decreasing order (computed by a separate Eigen::BDCSVD, values only), e.g. to judge
/// the conditioning / excitation of an identification problem.
/// x may be the same pointer as b (b is read completely before x is written); otherwise they
/// must not overlap. Allocates O(m*n) scratch memory.
/// Returns LA_OK (0) on success (including rank-deficient a), LA_ERR_ARG for a negative size
/// or a NULL required pointer, LA_ERR_NONFINITE if a or b contains NaN/Inf (checked first; x
/// and singular_values are then left untouched) or the solution overflowed.
/// m == 0 or n == 0 gives x = 0 (and no singular values).
int la_lstsq(int m, int n, int nrhs,
             const double* a,                           // regressor matrix          (m x n)
             const double* b,                           // targets, one per column   (m x nrhs)
             double* x,                                 // solution                  (n x nrhs)
             double* LA_NULLABLE singular_values);      // sing. values of a         (min(m,n)), or NULL

/// Eigenvalues and eigenvectors of a symmetric matrix (Eigen::SelfAdjointEigenSolver), e.g. the normal
/// matrix of an identification problem, whose near-zero eigenvalues span the parameter combinations the data
/// cannot determine. Only the lower triangle of a is read. eigenvalues (n) come in increasing order;
/// column k of eigenvectors (n x n, row-major like every matrix here) is the unit eigenvector of
/// eigenvalues[k]. Allocates O(n*n) scratch memory.
/// Returns LA_OK (0), LA_ERR_ARG for a negative size or a NULL pointer with n > 0, or LA_ERR_NONFINITE
/// for NaN/Inf in the lower triangle (outputs untouched) or a failed decomposition.
int la_symmetric_eigen(int n,
                       const double* a,            // symmetric matrix                  (n x n)
                       double* eigenvalues,        // increasing                        (n)
                       double* eigenvectors);      // columns are the eigenvectors      (n x n)

//---------------------------------- info -------------------------------------------------------

/// Human-readable build description: Eigen version, the SIMD instruction sets Eigen was
/// compiled with (Eigen::SimdInstructionSetsInUse()), FMA, alignment, threading, assertion and
/// optimization state, and the compiler. Example:
///   "Eigen 3.4.0; SIMD: SSE, SSE2; FMA: no; max align: 16 B; threads: 1; eigen_assert: off;
///    optimized: yes; compiler: clang 21.0.0"   (Swift 6.3.1 toolchain, x86_64, no -march)
/// The returned string is static (never free it) and identical on every call.
const char* la_build_info(void);

/// Turns the runtime-dispatched AVX2/FMA kernels (the SiLU epilogue, la_gemm_packed, la_box_muller,
/// la_gaussian_step, la_gaussian_nll) off (0) or back on (nonzero, the default) for calls made on the
/// calling thread only, so the portable paths can be tested and compared on a machine that has AVX2
/// without disturbing other threads. On CPUs without AVX2/FMA (and on non-x86 builds) the portable paths
/// always run.
void la_set_vector_kernels(int enabled);

/// 1 when the AVX2/FMA kernels are in use on the calling thread (CPU support and not turned off), else 0.
int la_vector_kernels(void);

#if defined(__clang__)
#pragma clang assume_nonnull end
#pragma clang diagnostic pop
#endif

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // LINALG_H
