// SquashedGaussianActor.swift: SAC's policy, a tanh-squashed diagonal Gaussian (Haarnoja et al. 2018,
// "Soft Actor-Critic Algorithms and Applications", appendix C "Enforcing action bounds").

import ControlCore
import Foundation
import LinAlg
import NeuralNets

/// The SAC policy π(a|s): an MLP maps a (normalized) observation to the mean μ and log standard deviation
/// log σ of a diagonal Gaussian over u; the action is a = tanh(u), in (−1, 1)ᴬ.
///
/// Reparameterized sample: u = μ + σ ⊙ ε, ε ~ N(0, I). Log-density with the change of variables
/// (Haarnoja et al. 2018, eq. 26):
///
///     log π(a|s) = Σᵢ [ −½ εᵢ² − log σᵢ − ½ log 2π − log(1 − tanh² uᵢ) ],
///     log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u))   (the numerically stable form)
///
/// log σ is clamped to [`logStdMin`, `logStdMax`] = [−20, 2] (the reference implementation's bounds); a
/// clamped entry passes no gradient. The network's output layer is (μ₁…μ_A, log σ₁…log σ_A); the
/// deterministic (evaluation) action is tanh(μ).
public struct SquashedGaussianActor: Trainable, Sendable {
    /// obs → hidden… → 2A, ReLU hidden layers, linear output.
    public var network: MLP
    public let actionDimension: Int
    public static let logStdMin: Float = -20
    public static let logStdMax: Float = 2

    /// A fresh actor (weights from `rng`).
    public init(observationDimension: Int, actionDimension: Int, hidden: [Int], rng: inout SeededRNG) {
        network = MLP(widths: [observationDimension] + hidden + [2 * actionDimension], hiddenActivation: .relu, rng: &rng)
        self.actionDimension = actionDimension
    }

    /// An actor around a given network (its output width must be even).
    public init(network: MLP) {
        precondition(network.outputSize % 2 == 0, "SquashedGaussianActor: output width must be 2 × action dimension")
        self.network = network
        actionDimension = network.outputSize / 2
    }

    public var observationDimension: Int { network.inputSize }

    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try network.forEachParameter(body)
    }

    /// A reparameterized sample and what its gradient needs (B rows).
    public struct Sample: Sendable {
        /// tanh(u), B × A.
        public var actions: Matrix
        /// log π(a|s) per row.
        public var logProb: [Float]
        var noise: [Float]      // ε, B × A
        var std: [Float]        // σ, B × A
        var clamped: [Bool]     // log σ outside the bounds (no gradient)
    }

    /// Deterministic actions tanh(μ) (B × A) for normalized observations (B × obs); no caches.
    public func meanActions(_ observations: Matrix) -> Matrix {
        let out = network(observations)
        let a = actionDimension
        return Matrix(rows: out.rows, cols: a) { p in
            for r in 0..<out.rows { for i in 0..<a { p[r * a + i] = tanh(out.storage[r * 2 * a + i]) } }
        }
    }

    /// Stochastic actions and their log-probabilities (no caches; for acting and for SAC's targets).
    public func sample(_ observations: Matrix, rng: inout SeededRNG) -> Sample {
        Self.squash(network(observations), actionDimension: actionDimension, noise: Self.noise(rows: observations.rows, actionDimension, &rng))
    }

    /// Training forward: samples with the given noise ε (B × A), keeping the network's caches for `backward`.
    public mutating func forwardSample(_ observations: Matrix, noise: [Float]) -> Sample {
        Self.squash(network.forward(observations), actionDimension: actionDimension, noise: noise)
    }

    /// ε ~ N(0, I), rows × A: `la_box_muller` on 64-bit words of `rng` (two normals per word; its AVX2 path
    /// and the C library's differ by ~1e-6, so a run is reproducible bit for bit on machines of one kind).
    public static func noise(rows: Int, _ actionDimension: Int, _ rng: inout SeededRNG) -> [Float] {
        let n = rows * actionDimension, pairs = (n + 1) / 2
        guard n > 0 else { return [] }
        let words = (0..<pairs).map { _ in rng.next() }
        var out = [Float](repeating: 0, count: 2 * pairs)
        words.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { o in la_box_muller(pairs, w.baseAddress!, o.baseAddress!) }
        }
        if out.count > n { out.removeLast() }
        return out
    }

    static func squash(_ out: Matrix, actionDimension a: Int, noise: [Float]) -> Sample {
        let b = out.rows
        precondition(noise.count == b * a)
        var actions = [Float](repeating: 0, count: b * a), logProb = [Float](repeating: 0, count: b)
        var std = [Float](repeating: 0, count: b * a), clamped = [Bool](repeating: false, count: b * a)
        let halfLog2Pi: Float = 0.5 * log(2 * Float.pi), log2: Float = log(2)
        for r in 0..<b {
            var lp: Float = 0
            for i in 0..<a {
                let mu = out.storage[r * 2 * a + i], rawLogStd = out.storage[r * 2 * a + a + i]
                let logStd = min(max(rawLogStd, logStdMin), logStdMax)
                let k = r * a + i
                clamped[k] = logStd != rawLogStd
                let s = exp(logStd), e = noise[k]
                let u = mu + s * e
                std[k] = s
                actions[k] = tanh(u)
                // log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u))
                let m = -2 * u
                let softplus = m > 20 ? m : log1p(exp(m))
                lp += -0.5 * e * e - logStd - halfLog2Pi - 2 * (log2 - u - softplus)
            }
            logProb[r] = lp
        }
        return Sample(actions: Matrix(rows: b, cols: a, storage: actions), logProb: logProb, noise: noise, std: std, clamped: clamped)
    }

    /// Backward for a loss ℓ(a, log π) of the last `forwardSample`: given ∂ℓ/∂a (B × A) and ∂ℓ/∂log π
    /// (B), adds ∂ℓ/∂θ into the network's gradients. With ε fixed (reparameterization):
    ///
    ///     ∂ℓ/∂μᵢ     = ∂ℓ/∂log π · 2aᵢ + ∂ℓ/∂aᵢ · (1 − aᵢ²)
    ///     ∂ℓ/∂log σᵢ = ∂ℓ/∂log π · (2aᵢ σᵢ εᵢ − 1) + ∂ℓ/∂aᵢ · (1 − aᵢ²) σᵢ εᵢ     (0 where clamped)
    public mutating func backward(_ sample: Sample, actionGradient: Matrix, logProbGradient: [Float]) {
        let a = actionDimension, b = sample.actions.rows
        precondition(actionGradient.rows == b && actionGradient.cols == a && logProbGradient.count == b)
        let grad = Matrix(rows: b, cols: 2 * a) { g in
            for r in 0..<b {
                let gl = logProbGradient[r]
                for i in 0..<a {
                    let k = r * a + i
                    let ai = sample.actions.storage[k], ga = actionGradient.storage[k]
                    let se = sample.std[k] * sample.noise[k], dTanh = 1 - ai * ai
                    g[r * 2 * a + i] = gl * 2 * ai + ga * dTanh
                    g[r * 2 * a + a + i] = sample.clamped[k] ? 0 : gl * (2 * ai * se - 1) + ga * dTanh * se
                }
            }
        }
        network.accumulateGradients(grad)
    }
}
