// Losses.swift: mean squared error and the Gaussian negative log-likelihood of PETS'
// probabilistic networks with soft-bounded log-variance, each returning its value and its
// gradients (manual reverse mode, as the layers).

import Foundation
import LinAlg

/// Loss functions. Each returns the scalar value and dL/d(every input); values are
/// accumulated in Double, gradients are Float.
public enum Loss {
    // MARK: Mean squared error

    /// Mean squared error L = (1/N) Σ (p − t)² over all N = rows·cols entries (PyTorch's
    /// `mse_loss` with `reduction="mean"`), and dL/dp = 2(p − t)/N.
    /// - Precondition: `prediction` and `target` have the same shape.
    public static func meanSquaredError(prediction: Matrix, target: Matrix) -> (value: Float, gradient: Matrix) {
        precondition(prediction.rows == target.rows && prediction.cols == target.cols,
                     "Loss.meanSquaredError: shapes \(prediction.rows)×\(prediction.cols) and \(target.rows)×\(target.cols) differ")
        let (value, grad) = squaredErrorCore(prediction.storage, target.storage,
                                             groups: 1, perGroup: prediction.count)
        return (value, Matrix(rows: prediction.rows, cols: prediction.cols, storage: grad))
    }

    /// Ensemble mean squared error: for each member e the mean over its (B × D) entries,
    /// summed over the E members (the reduction mbrl-lib uses for its ensemble NLL, so each
    /// member's gradient does not depend on E). dL/dp = 2(p − t)/(B·D).
    /// - Precondition: same shape (E × B × D).
    public static func meanSquaredError(prediction: BatchedMatrix, target: BatchedMatrix) -> (value: Float, gradient: BatchedMatrix) {
        precondition(prediction.count == target.count && prediction.rows == target.rows && prediction.cols == target.cols,
                     "Loss.meanSquaredError: shapes \(prediction) and \(target) differ")
        let (value, grad) = squaredErrorCore(prediction.storage, target.storage,
                                             groups: prediction.count, perGroup: prediction.matrixSize)
        return (value, BatchedMatrix(count: prediction.count, rows: prediction.rows, cols: prediction.cols, storage: grad))
    }

    private static func squaredErrorCore(_ p: [Float], _ t: [Float], groups: Int, perGroup: Int) -> (Float, [Float]) {
        guard perGroup > 0 else { return (0, p) }
        let scale = 1 / Float(perGroup)
        var total = 0.0
        let grad = [Float](unsafeUninitializedCapacity: p.count) { g, initialized in
            p.withUnsafeBufferPointer { pp in
                t.withUnsafeBufferPointer { tp in
                    for i in 0..<p.count {
                        let d = pp[i] - tp[i]
                        total += Double(d * d)
                        g[i] = 2 * scale * d
                    }
                }
            }
            initialized = p.count
        }
        return (Float(total / Double(perGroup)), grad)
    }

    // MARK: Gaussian negative log-likelihood

    /// Gaussian negative log-likelihood with a given log-variance, as PETS / mbrl-lib write it:
    /// L = (1/N) Σ [(μ − y)²·e^(−s) + s] over all N entries, s = log σ². This is 2× the
    /// per-entry NLL without the constant log 2π (Chua et al. 2018, eq. for the probabilistic
    /// loss; mbrl-lib's `gaussian_nll` averaged over entries).
    ///
    /// Gradients: dL/dμ = 2(μ − y)e^(−s)/N, dL/ds = (1 − (μ − y)²e^(−s))/N.
    /// - Precondition: `mean`, `logVariance`, `target` have the same shape.
    public static func gaussianNLL(mean: Matrix, logVariance: Matrix, target: Matrix)
        -> (value: Float, gradMean: Matrix, gradLogVariance: Matrix) {
        precondition(mean.rows == target.rows && mean.cols == target.cols
                     && logVariance.rows == target.rows && logVariance.cols == target.cols,
                     "Loss.gaussianNLL: shapes differ")
        let n = target.count
        guard n > 0 else { return (0, mean, logVariance) }
        let scale = 1 / Float(n)
        var gm = mean, gs = logVariance
        var total = 0.0
        for i in 0..<n {
            let d = mean.storage[i] - target.storage[i]
            let s = logVariance.storage[i]
            let iv = exp(-s)
            let d2iv = d * d * iv
            total += Double(d2iv + s)
            gm.storage[i] = 2 * d * iv * scale
            gs.storage[i] = (1 - d2iv) * scale
        }
        return (Float(total / Double(n)), gm, gs)
    }

    /// PETS' probabilistic ensemble loss on the raw head output (Chua et al. 2018, App. A.1;
    /// written as mbrl-lib's `GaussianMLP` implements it).
    ///
    /// The head of each member outputs 2D columns per sample: the mean μ (columns 0..<D) and
    /// an unbounded log-variance r (columns D..<2D). The log-variance is soft-bounded by the
    /// learnable `bounds` (shape D each, shared by all members):
    ///     s₁ = maxLogVar − softplus(maxLogVar − r)
    ///     s  = minLogVar + softplus(s₁ − minLogVar)
    /// and the loss is, for E members with B samples each,
    ///     L = Σ_e (1/(B·D)) Σ_{b,d} [(μ − y)²·e^(−s) + s]  +  0.01·(Σ maxLogVar − Σ minLogVar)
    /// (mean over batch and output dimension, summed over members, plus the bound regularizer
    /// that keeps the bounds tight).
    ///
    /// - Parameters:
    ///   - head: raw network output (E × B × 2D).
    ///   - target: targets (E × B × D) (e.g. each member's bootstrap targets).
    ///   - bounds: the log-variance bounds (D each).
    /// - Returns: the value, dL/dhead (E × B × 2D; mean columns then raw log-variance
    ///   columns), and dL/dmaxLogVar, dL/dminLogVar (D each, including the regularizer).
    ///   Add the bound gradients with `bounds.accumulateGradients(from:)`.
    public static func gaussianNLL(head: BatchedMatrix, target: BatchedMatrix,
                                   bounds: LogVarianceBounds) -> GaussianHeadLoss<BatchedMatrix> {
        let d = bounds.outputSize
        precondition(head.cols == 2 * d && target.cols == d && head.count == target.count && head.rows == target.rows,
                     "Loss.gaussianNLL: head \(head) and target \(target) do not match bounds of width \(d)")
        let core = gaussianHeadCore(head: head.storage, target: target.storage, members: head.count,
                                    batch: head.rows, bounds: bounds)
        return GaussianHeadLoss(value: core.value,
                                gradHead: BatchedMatrix(count: head.count, rows: head.rows, cols: head.cols, storage: core.gradHead),
                                gradMaxLogVariance: core.gradMax, gradMinLogVariance: core.gradMin)
    }

    /// The single-network form of `gaussianNLL(head:target:bounds:)` (E = 1): head (B × 2D),
    /// target (B × D).
    public static func gaussianNLL(head: Matrix, target: Matrix, bounds: LogVarianceBounds) -> GaussianHeadLoss<Matrix> {
        let d = bounds.outputSize
        precondition(head.cols == 2 * d && target.cols == d && head.rows == target.rows,
                     "Loss.gaussianNLL: head \(head.rows)×\(head.cols) and target \(target.rows)×\(target.cols) do not match bounds of width \(d)")
        let core = gaussianHeadCore(head: head.storage, target: target.storage, members: 1, batch: head.rows, bounds: bounds)
        return GaussianHeadLoss(value: core.value, gradHead: Matrix(rows: head.rows, cols: head.cols, storage: core.gradHead),
                                gradMaxLogVariance: core.gradMax, gradMinLogVariance: core.gradMin)
    }

    private static func gaussianHeadCore(head: [Float], target: [Float], members: Int, batch: Int,
                                         bounds: LogVarianceBounds)
        -> (value: Float, gradHead: [Float], gradMax: [Float], gradMin: [Float]) {
        let d = bounds.outputSize
        precondition(head.count == members * batch * 2 * d && target.count == members * batch * d
                     && bounds.minLogVariance.count == d, "Loss.gaussianNLL: storage size does not match the shape")
        let hiArray = bounds.maxLogVariance.value, loArray = bounds.minLogVariance.value
        let reg = LogVarianceBounds.regularization
        var gMaxArray = [Double](repeating: 0, count: d), gMinArray = [Double](repeating: 0, count: d)
        var gHead = uninitializedFloats(head.count)  // every entry is written by la_gaussian_nll
        var sums = [Double](repeating: 0, count: members)
        // s₁ = hi − softplus(hi − r), s = lo + softplus(s₁ − lo); the sums, dL/dhead and the bound gradients
        // (σ = logistic: ds/dr = σ(v)σ(u), ds/dmax = σ(v)(1 − σ(u)), ds/dmin = 1 − σ(v)) in one vectorized pass
        la_gaussian_nll(Int32(members), Int32(batch), Int32(d), head, target, hiArray, loArray, &gHead, &sums,
                        &gMaxArray, &gMinArray)
        var total = batch > 0 ? sums.reduce(0, +) / Double(batch * d) : 0
        let hi = hiArray, lo = loArray, gMax = gMaxArray, gMin = gMinArray
        var regValue = 0.0
        for j in 0..<d { regValue += Double(hi[j]) - Double(lo[j]) }
        total += Double(reg) * regValue
        return (Float(total), gHead, gMax.map { Float($0) + reg }, gMin.map { Float($0) - reg })
    }
}

/// The result of `Loss.gaussianNLL(head:target:bounds:)`.
public struct GaussianHeadLoss<Gradient: Sendable>: Sendable {
    /// The loss value (see `Loss.gaussianNLL(head:target:bounds:)`).
    public var value: Float
    /// dL/dhead, same shape as the head: mean columns, then raw log-variance columns.
    public var gradHead: Gradient
    /// dL/dmaxLogVariance (D), regularizer included.
    public var gradMaxLogVariance: [Float]
    /// dL/dminLogVariance (D), regularizer included.
    public var gradMinLogVariance: [Float]
}

/// The learnable soft bounds on a Gaussian head's log-variance (PETS, Chua et al. 2018,
/// App. A.1; mbrl-lib's `GaussianMLP.max_logvar` / `min_logvar`, shared by all members).
///
/// s = minLogVar + softplus(maxLogVar − softplus(maxLogVar − r) − minLogVar) keeps the
/// log-variance s of a raw output r smoothly inside [minLogVar, maxLogVar], so the network
/// cannot predict arbitrarily small or large variances off the data. Initial bounds follow
/// PETS: maxLogVar = 0.5, minLogVar = −10, per output dimension. The loss adds
/// `regularization`·(Σ maxLogVar − Σ minLogVar).
public struct LogVarianceBounds: Trainable, Sendable {
    /// Weight of the bound regularizer, 0.01 (PETS, mbrl-lib).
    public static let regularization: Float = 0.01

    /// Upper bound, shape [D] (init 0.5).
    public var maxLogVariance: Parameter
    /// Lower bound, shape [D] (init −10).
    public var minLogVariance: Parameter

    /// Bounds for D output dimensions, every entry starting at `max` / `min`.
    public init(outputSize: Int, max: Float = 0.5, min: Float = -10) {
        precondition(outputSize > 0, "LogVarianceBounds: outputSize must be positive")
        maxLogVariance = Parameter(name: "max_logvar", shape: [outputSize], value: Array(repeating: max, count: outputSize))
        minLogVariance = Parameter(name: "min_logvar", shape: [outputSize], value: Array(repeating: min, count: outputSize))
    }

    /// D, the number of output dimensions.
    public var outputSize: Int { maxLogVariance.count }

    /// Visits `maxLogVariance`, then `minLogVariance`.
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try body(&maxLogVariance)
        try body(&minLogVariance)
    }

    /// The bounded log-variance of raw values r (rows × D), element-wise.
    public func bound(_ raw: Matrix) -> Matrix {
        precondition(raw.cols == outputSize, "LogVarianceBounds: \(raw.cols) columns, bounds have \(outputSize)")
        let hi = maxLogVariance.value, lo = minLogVariance.value
        var out = raw
        for i in 0..<raw.rows {
            for j in 0..<outputSize {
                let s1 = hi[j] - softplusAndLogistic(hi[j] - raw.storage[i * outputSize + j]).softplus
                out.storage[i * outputSize + j] = lo[j] + softplusAndLogistic(s1 - lo[j]).softplus
            }
        }
        return out
    }

    /// Splits a head output (rows × 2D) into the mean (rows × D) and the bounded
    /// log-variance (rows × D).
    public func meanAndLogVariance(_ head: Matrix) -> (mean: Matrix, logVariance: Matrix) {
        precondition(head.cols == 2 * outputSize, "LogVarianceBounds: head has \(head.cols) columns, need \(2 * outputSize)")
        return (head.columns(0..<outputSize), bound(head.columns(outputSize..<2 * outputSize)))
    }

    /// Splits an ensemble head output (E × B × 2D) into means and bounded log-variances
    /// (E × B × D each).
    public func meanAndLogVariance(_ head: BatchedMatrix) -> (mean: BatchedMatrix, logVariance: BatchedMatrix) {
        let (m, s) = meanAndLogVariance(head.flattened)
        return (BatchedMatrix(count: head.count, rows: head.rows, cols: outputSize, storage: m.storage),
                BatchedMatrix(count: head.count, rows: head.rows, cols: outputSize, storage: s.storage))
    }

    /// Adds a loss's bound gradients into `maxLogVariance.grad` / `minLogVariance.grad`.
    public mutating func accumulateGradients<G>(from loss: GaussianHeadLoss<G>) {
        precondition(loss.gradMaxLogVariance.count == outputSize && loss.gradMinLogVariance.count == outputSize)
        for j in 0..<outputSize {
            maxLogVariance.grad[j] += loss.gradMaxLogVariance[j]
            minLogVariance.grad[j] += loss.gradMinLogVariance[j]
        }
    }
}

// MARK: - Scalar helpers

/// softplus(x) and the logistic σ(x) = softplus′(x) from one exponential e^(−|x|), without
/// overflow for either sign. log(1 + e) instead of log1p(e): absolute error ≤ 1.2e-7 (all the
/// soft bounds need, they add the result to O(1) values) at about half of glibc's log1pf cost.
@inline(__always) func softplusAndLogistic(_ x: Float) -> (softplus: Float, logistic: Float) {
    let e = exp(-abs(x))
    let sp = Swift.max(x, 0) + log(1 + e)
    let sig = x >= 0 ? 1 / (1 + e) : e / (1 + e)
    return (sp, sig)
}
