import ControlCore
import Foundation

// MARK: - Configuration

/// Settings of ``MPPIOptimizer``. Decoding is synthesized; `ConfigCoding.decode(_:fromJSON:)` fills missing
/// keys from the defaults. Ranges: `MPPIConfiguration+Ranges.swift`.
///
/// Chosen defaults: N = 500 (matching the PETS CEM budget per iteration), λ = 1.0, σ = 0.5 of the half range
/// (the same spread as CEM's initial (ub − lb)²/16 variance), 1 iteration per call (Williams et al. 2017 run
/// one update per control step and rely on the warm start). λ is in the units of the cost: it must be
/// re-tuned when costs are rescaled.
public struct MPPIConfiguration: Codable, Sendable, Equatable {
    /// Perturbed sequences per iteration, N ≥ 1. Default 500.
    public var sampleCount: Int = 500
    /// Temperature λ > 0 of the exponential weights, in cost units. Default 1.0.
    public var temperature: Double = 1.0
    /// Noise standard deviation σ as a fraction of the half range (ub − lb)/2 (so it is σ itself for
    /// normalized [−1, 1] actions). Default 0.5.
    public var noiseStdFraction: Double = 0.5
    /// Weighted-mean updates per call. Default 1.
    public var iterations: Int = 1

    public init(sampleCount: Int = 500, temperature: Double = 1.0, noiseStdFraction: Double = 0.5, iterations: Int = 1) {
        self.sampleCount = sampleCount; self.temperature = temperature
        self.noiseStdFraction = noiseStdFraction; self.iterations = iterations
    }

    /// Checks the ranges stated on each field.
    func validate() {
        precondition(sampleCount >= 1 && iterations >= 1, "MPPI: sampleCount ≥ 1 and iterations ≥ 1")
        precondition(temperature > 0 && temperature.isFinite, "MPPI: temperature > 0")
        precondition(noiseStdFraction > 0 && noiseStdFraction.isFinite, "MPPI: noiseStdFraction > 0")
    }
}

// MARK: - Optimizer

/// Model-predictive path integral control's update (Williams et al. 2017, "Information Theoretic MPC for
/// Model-Based Reinforcement Learning", ICRA 2017, the MPPI update of §III and its algorithm box; equation
/// numbers not checked against the PDF), as a stateless optimizer.
///
/// Per iteration: draw ε_k ~ N(0, diag σ²), k = 1 … N, form u + ε_k clipped to the bounds, evaluate S_k, and
///
///     w_k = exp(−(S_k − min_j S_j)/λ) / Σ_j exp(−(S_j − min_j S_j)/λ),    u ← u + Σ_k w_k ε_k.
///
/// Subtracting min S (the paper's ρ) only improves numerical range. Deviations, stated: ε_k is the
/// perturbation after clipping (so u stays a convex combination of in-bound sequences, hence in bounds);
/// the paper's control-cost term λ uᵀΣ⁻¹ε is not added (put any action penalty in the cost function);
/// non-finite S_k get weight 0. σ is fixed (no adaptation), there is no smoothing filter, and nothing is
/// kept between calls: the caller's warm start (the shifted previous solution) is the only memory.
public final class MPPIOptimizer: TrajectoryOptimizer {
    public let horizon: Int
    public let actionBounds: BoxSpace
    /// See ``TrajectoryOptimizer/shouldStop``.
    public var shouldStop: (() -> Bool)?
    /// The settings this optimizer was built with.
    public let configuration: MPPIConfiguration

    private let low: [Double], high: [Double]
    /// Scratch: candidates, shape (N × horizon × A).
    private var population: [Double]
    /// Scratch: weights, shape (N).
    private var weights: [Double]

    /// - Parameters:
    ///   - horizon: time steps H ≥ 1.
    ///   - actionBounds: finite per-dimension bounds, dimension A ≥ 1.
    ///   - configuration: see ``MPPIConfiguration``; invalid settings are a precondition failure.
    public init(horizon: Int, actionBounds: BoxSpace, configuration: MPPIConfiguration = MPPIConfiguration()) {
        configuration.validate()
        self.horizon = horizon; self.actionBounds = actionBounds; self.configuration = configuration
        (low, high) = expandedBounds(actionBounds, horizon: horizon)
        population = [Double](repeating: 0, count: configuration.sampleCount * low.count)
        weights = [Double](repeating: 0, count: configuration.sampleCount)
    }

    /// Runs `iterations` MPPI updates from `initialMean` and returns the updated mean sequence. Iterations
    /// in which no cost is finite leave the mean unchanged.
    public func optimize(cost: BatchCost, initialMean: [Double], using rng: inout SeededRNG) -> OptimizationResult {
        let d = low.count, n = configuration.sampleCount, lambda = configuration.temperature
        var mean = clamped(initialMean, low: low, high: high)
        let sigma = (0..<d).map { configuration.noiseStdFraction * 0.5 * (high[$0] - low[$0]) }
        var bestCost = Double.infinity, evaluations = 0

        var done = 0
        for iteration in 0..<configuration.iterations {
            if iteration > 0, shouldStop?() == true { break }
            done += 1
            // perturb and clip
            for j in 0..<n {
                for i in 0..<d {
                    population[j * d + i] = min(max(mean[i] + sigma[i] * rng.normal(), low[i]), high[i])
                }
            }
            // evaluate
            let costs = evaluate(cost, population, n)
            evaluations += n
            let minCost = costs.min() ?? .infinity
            guard minCost.isFinite else { continue }
            bestCost = min(bestCost, minCost)

            // exponential weights, zero for non-finite costs
            var total = 0.0
            for j in 0..<n {
                weights[j] = costs[j].isFinite ? exp(-(costs[j] - minCost) / lambda) : 0
                total += weights[j]
            }
            // u ← u + Σ w_k ε_k with ε_k the clipped perturbation
            var update = [Double](repeating: 0, count: d)
            for j in 0..<n where weights[j] > 0 {
                let w = weights[j] / total
                for i in 0..<d { update[i] += w * (population[j * d + i] - mean[i]) }
            }
            for i in 0..<d { mean[i] = min(max(mean[i] + update[i], low[i]), high[i]) }
        }
        return OptimizationResult(solution: mean, bestCost: bestCost, iterations: done,
                                  evaluations: evaluations)
    }

    /// MPPI keeps nothing between calls; provided for the protocol.
    public func reset() {}
}
