// Adam.swift: the Adam optimizer (Kingma & Ba 2015) with per-parameter L2 or decoupled
// weight decay and global-norm gradient clipping.

import Foundation

/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015), updating a
/// `Trainable` model in place from the gradients accumulated in its parameters.
///
/// For each parameter θ with gradient g, at step t (1-based), with c the clipping scale:
///
///     g ← c·g                                   (global-norm clipping, if enabled)
///     g ← g + λ·θ                               (if weightDecay == .l2(λ); PyTorch Adam's weight_decay)
///     θ ← θ·(1 − lr·λ)                          (if weightDecay == .decoupled(λ); AdamW, Loshchilov & Hutter 2019)
///     m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// which is PyTorch's `torch.optim.Adam` / `AdamW` update (ε added after the bias
/// correction of √v). PETS uses L2 decay per layer (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4 from
/// input to output layer, weights only): set them with `MLP.setWeightDecay` /
/// `EnsembleMLP.setWeightDecay`.
///
/// Clipping (`maxGradientNorm`) rescales all gradients of one `step` call by
/// c = min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖ the global L2 norm over every parameter of the
/// model (as `torch.nn.utils.clip_grad_norm_`); the stored `.grad` arrays are not modified.
///
/// The moment estimates are kept here, one pair per parameter in the model's visiting
/// order, so use one `Adam` per model (compose several models into one `Trainable` to step
/// them together). The step does not zero the gradients: call `zeroGrad()` on the model.
public struct Adam: Sendable {
    /// Learning rate (step size) lr.
    public var learningRate: Float
    /// Decay rate of the first-moment estimate, β₁ (0.9).
    public var beta1: Float
    /// Decay rate of the second-moment estimate, β₂ (0.999).
    public var beta2: Float
    /// Denominator guard ε (1e-8).
    public var epsilon: Float
    /// Clip the global gradient norm to this value before each update (nil: no clipping).
    public var maxGradientNorm: Float?
    /// Number of updates done so far (t after the last `step`).
    public private(set) var stepCount: Int = 0

    private var firstMoments: [[Float]] = []
    private var secondMoments: [[Float]] = []

    /// An optimizer with the given hyperparameters (Kingma & Ba's defaults except lr).
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                maxGradientNorm: Float? = nil) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.maxGradientNorm = maxGradientNorm
    }

    /// One Adam update of every parameter of `model` from its accumulated gradients.
    ///
    /// The first call sizes the moment buffers from the model; later calls require the same
    /// parameter list (count and sizes).
    /// - Returns: the global gradient norm before clipping when clipping is on (nil otherwise: it is not
    ///   computed, one pass over every gradient saved).
    @discardableResult
    public mutating func step<Model: Trainable>(_ model: inout Model) -> Float? {
        if stepCount == 0 && firstMoments.isEmpty {
            model.forEachParameter { p in
                firstMoments.append(Array(repeating: 0, count: p.count))
                secondMoments.append(Array(repeating: 0, count: p.count))
            }
        }
        let norm = maxGradientNorm == nil ? nil : model.gradientNorm
        var clip: Float = 1
        if let maxNorm = maxGradientNorm, let norm, norm > maxNorm {
            clip = maxNorm / (norm + 1e-6)
        }
        stepCount += 1
        let t = Float(stepCount)
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon
        let stepSize = lr / (1 - pow(b1, t))
        let invSqrtBC2 = 1 / (1 - pow(b2, t)).squareRoot()
        var index = 0
        model.forEachParameter { p in
            precondition(index < firstMoments.count && firstMoments[index].count == p.count,
                         "Adam: the model's parameters changed since the first step (parameter \(index), \(p.name))")
            var l2: Float = 0
            switch p.weightDecay {
            case .none: break
            case .l2(let lambda): l2 = lambda
            case .decoupled(let lambda):
                let f = 1 - lr * lambda
                p.value.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] *= f } }
            }
            let grad = p.grad
            grad.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { th in
                    firstMoments[index].withUnsafeMutableBufferPointer { m in
                        secondMoments[index].withUnsafeMutableBufferPointer { v in
                            adamKernel(count: g.count, g: g.baseAddress, theta: th.baseAddress, m: m.baseAddress,
                                       v: v.baseAddress, clip: clip, l2: l2, b1: b1, b2: b2,
                                       stepSize: stepSize, invSqrtBC2: invSqrtBC2, eps: eps)
                        }
                    }
                }
            }
            index += 1
        }
        precondition(index == firstMoments.count, "Adam: the model has fewer parameters than at the first step")
        return norm
    }

    /// The optimizer's mutable state (for checkpoints): the step count and both moment estimates, one array
    /// per parameter in the model's visiting order (empty before the first step).
    public struct State: Sendable, Equatable {
        public var stepCount: Int
        public var firstMoments: [[Float]]
        public var secondMoments: [[Float]]
        public init(stepCount: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
            self.stepCount = stepCount; self.firstMoments = firstMoments; self.secondMoments = secondMoments
        }
    }

    /// Reads or restores the state; a restored state must have one moment pair per parameter of the model
    /// it will step (checked at the next `step`).
    public var state: State {
        get { State(stepCount: stepCount, firstMoments: firstMoments, secondMoments: secondMoments) }
        set {
            precondition(newValue.firstMoments.count == newValue.secondMoments.count, "Adam: moment lists differ in length")
            stepCount = newValue.stepCount
            firstMoments = newValue.firstMoments
            secondMoments = newValue.secondMoments
        }
    }

    /// Forgets the moment estimates and the step count (e.g. when the model is re-initialized).
    public mutating func reset() {
        stepCount = 0
        firstMoments = []
        secondMoments = []
    }
}

/// The element-wise Adam update on raw buffers (a vectorizable loop).
@inline(__always)
private func adamKernel(count n: Int, g: UnsafePointer<Float>?, theta: UnsafeMutablePointer<Float>?,
                        m: UnsafeMutablePointer<Float>?, v: UnsafeMutablePointer<Float>?,
                        clip: Float, l2: Float, b1: Float, b2: Float, stepSize: Float, invSqrtBC2: Float, eps: Float) {
    guard n > 0, let g, let theta, let m, let v else { return }
    for i in 0..<n {
        let gi = clip * g[i] + l2 * theta[i]
        let mi = b1 * m[i] + (1 - b1) * gi
        let vi = b2 * v[i] + (1 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        // abs(): vi ≥ 0 already; it lets LLVM use the vector sqrt instead of a libm call
        // per element (Float.squareRoot() lowers to sqrtf on Linux).
        theta[i] -= stepSize * mi / (abs(vi).squareRoot() * invSqrtBC2 + eps)
    }
}
