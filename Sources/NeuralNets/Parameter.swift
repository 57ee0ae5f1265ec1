// Parameter.swift: learnable tensors, the `Trainable` protocol optimizers work through, and
// deterministic weight initialization.
//
// Design (the whole training API of this module):
//   - A model is a value type that owns `Parameter`s (value + accumulated gradient + weight
//     decay setting) and conforms to `Trainable` by visiting them in a fixed order.
//   - Training step: `model.zeroGrad()`; `let y = model.forward(x)` (keeps caches);
//     `let (loss, dy) = someLoss(y, target)`; `model.backward(dy)` (ADDS into `.grad`);
//     `optimizer.step(&model)` (Adam, with its per-parameter weight decay and optional
//     global-norm clipping). Models that share one optimizer step (e.g. an ensemble plus
//     its log-variance bounds) are composed into one `Trainable` struct by the caller.
//   - Inference: `model(x)` (callAsFunction) is non-mutating and keeps no caches.

import ControlCore
import Foundation

/// How a parameter's weight decay enters the optimizer update.
public enum WeightDecay: Sendable, Equatable, Codable {
    /// No weight decay.
    case none
    /// L2 penalty added to the gradient, g ← g + λ·θ, before the Adam moments (what PyTorch's
    /// `Adam(weight_decay=λ)` does; the gradient of (λ/2)‖θ‖², as PETS' per-layer decays).
    case l2(Float)
    /// Decoupled decay θ ← θ·(1 − lr·λ), applied outside the adaptive update
    /// (Loshchilov & Hutter 2019, "AdamW"; PyTorch's `AdamW(weight_decay=λ)`).
    case decoupled(Float)
}

/// A learnable tensor: its values, the gradient accumulated by `backward` calls, and its
/// weight decay. Stored flat (row-major over `shape`).
public struct Parameter: Sendable, Equatable {
    /// A name for logs and checkpoints, e.g. "layers.0.weight".
    public var name: String
    /// The logical shape, e.g. [in, out] for a weight, [out] for a bias, [E, in, out] for
    /// stacked ensemble weights. `value.count` is the product of the shape.
    public let shape: [Int]
    /// The values, row-major over `shape`.
    public var value: [Float]
    /// dL/dvalue, accumulated (added to) by backward passes; reset by `zeroGrad()`.
    public var grad: [Float]
    /// Weight decay applied by the optimizer (`.none` by default).
    public var weightDecay: WeightDecay

    /// A parameter of the given shape and values, with a zero gradient.
    /// - Precondition: `value.count` equals the product of `shape`.
    public init(name: String, shape: [Int], value: [Float], weightDecay: WeightDecay = .none) {
        precondition(shape.reduce(1, *) == value.count,
                     "Parameter \(name): \(value.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.value = value
        self.grad = Array(repeating: 0, count: value.count)
        self.weightDecay = weightDecay
    }

    /// Number of scalar entries.
    @inlinable public var count: Int { value.count }

    /// Sets the gradient to zero (in place, no reallocation).
    public mutating func zeroGrad() {
        grad.withUnsafeMutableBufferPointer { g in
            if let p = g.baseAddress { p.update(repeating: 0, count: g.count) }
        }
    }
}

/// A model whose learnable state is a fixed, ordered list of `Parameter`s.
///
/// Conformers implement one method, `forEachParameter`, visiting every parameter in the same
/// order on every call; optimizers keep their per-parameter state in that order. The
/// extension derives `zeroGrad()`, `parameters`, `parameterCount` and `gradientNorm`.
public protocol Trainable {
    /// Calls `body` once on every parameter, in a fixed order, allowing in-place updates.
    mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows
}

extension Trainable {
    /// Zeroes every parameter's gradient (call before each accumulation of a new step).
    public mutating func zeroGrad() {
        forEachParameter { $0.zeroGrad() }
    }

    /// A snapshot of the parameters in visiting order (copy-on-write: cheap until mutated).
    public var parameters: [Parameter] {
        var copy = self
        var out: [Parameter] = []
        copy.forEachParameter { out.append($0) }
        return out
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The global L2 norm of all gradients, sqrt(Σ g²) over every parameter (accumulated in
    /// Double).
    public var gradientNorm: Float {
        var sum = 0.0
        for p in parameters { sum += sumOfSquares(p.grad) }
        return Float(sum.squareRoot())
    }
}

/// Σ x² accumulated in Double across blocks of 256 entries (8-lane Float partial sums
/// inside a block, written with SIMD8 since LLVM does not reorder a scalar Float reduction).
func sumOfSquares(_ x: [Float]) -> Double {
    x.withUnsafeBufferPointer { p in
        guard let base = p.baseAddress else { return 0 }
        var total = 0.0
        var i = 0
        let n = p.count
        while i < n {
            let end = Swift.min(i + 256, n)
            var acc = SIMD8<Float>()
            while i + 8 <= end {
                let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
                acc += v * v
                i += 8
            }
            var s = acc.sum()
            while i < end { s += base[i] * base[i]; i += 1 }
            total += Double(s)
        }
        return total
    }
}

// MARK: - Initialization

/// Deterministic initialization of a layer's weight matrix W (fan_in × fan_out) from a
/// `SeededRNG`; biases always start at 0. Coded by name (`xavier-uniform`, `he-uniform`,
/// `truncated-normal`), as configs write it.
public enum WeightInitialization: String, Sendable, Equatable, Codable, CaseIterable, ConfigChoice {
    /// Glorot & Bengio (2010): W ~ U(−a, a), a = √(6 / (fan_in + fan_out)). For tanh/identity.
    case xavierUniform = "xavier-uniform"
    /// He et al. (2015): W ~ U(−a, a), a = √(6 / fan_in) (variance 2 / fan_in). For the ReLU family.
    case heUniform = "he-uniform"
    /// PETS (Chua et al. 2018) / mbrl-lib: W ~ N(0, σ²), σ = 1 / (2√fan_in), resampled
    /// outside ±2σ (a truncated normal).
    case truncatedNormal = "truncated-normal"

    /// The default for a layer followed by `activation`: He for relu/silu/elu, Xavier for
    /// tanh/identity.
    public static func `default`(for activation: Activation) -> WeightInitialization {
        switch activation {
        case .relu, .silu, .elu: .heUniform
        case .tanh, .identity: .xavierUniform
        }
    }

    /// `fanIn * fanOut` weights drawn from `rng` in row-major order.
    public func sample(fanIn: Int, fanOut: Int, using rng: inout SeededRNG) -> [Float] {
        let n = fanIn * fanOut
        switch self {
        case .xavierUniform:
            let a = (6.0 / Double(Swift.max(fanIn + fanOut, 1))).squareRoot()
            return (0..<n).map { _ in Float(rng.uniform(-a, a)) }
        case .heUniform:
            let a = (6.0 / Double(Swift.max(fanIn, 1))).squareRoot()
            return (0..<n).map { _ in Float(rng.uniform(-a, a)) }
        case .truncatedNormal:
            let s = 1.0 / (2.0 * Double(Swift.max(fanIn, 1)).squareRoot())
            return (0..<n).map { _ in
                var x = rng.normal()
                while abs(x) > 2 { x = rng.normal() }
                return Float(s * x)
            }
        }
    }
}
