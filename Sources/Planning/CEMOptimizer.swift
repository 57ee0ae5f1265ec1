import ControlCore
import Foundation

// MARK: - Configuration

/// Settings of ``CEMOptimizer``; defaults are the PETS values (Chua et al. 2018, appendix).
/// Decoding is synthesized; `ConfigCoding.decode(_:fromJSON:)` fills missing keys from the defaults.
/// Ranges: `CEMConfiguration+Ranges.swift`.
public struct CEMConfiguration: Codable, Sendable, Equatable {
    /// Candidates sampled per iteration, N. Default 500 (PETS).
    public var populationSize: Int = 500
    /// Elites kept per iteration, K (≤ N). Default 50 (PETS).
    public var eliteCount: Int = 50
    /// Iterations per call, I. Default 5 (PETS).
    public var iterations: Int = 5
    /// Smoothing α of the mean and variance updates, in [0, 1). Default 0.1 (PETS).
    public var smoothing: Double = 0.1
    /// Initial variance as a fraction of (ub − lb)²; PETS uses (ub − lb)²/16, so the default is 1/16.
    public var initialVarianceFraction: Double = 1.0 / 16.0
    /// Lower bound on the variance after each update, as a fraction of (ub − lb)², ≥ 0: the "noisy CEM"
    /// of Szita & Lőrincz 2006, which stops premature collapse in curved valleys. Default 0 (PETS: none).
    public var minimumVarianceFraction: Double = 0

    public init(populationSize: Int = 500, eliteCount: Int = 50, iterations: Int = 5, smoothing: Double = 0.1,
                initialVarianceFraction: Double = 1.0 / 16.0, minimumVarianceFraction: Double = 0) {
        self.populationSize = populationSize; self.eliteCount = eliteCount; self.iterations = iterations
        self.smoothing = smoothing; self.initialVarianceFraction = initialVarianceFraction
        self.minimumVarianceFraction = minimumVarianceFraction
    }

    /// Checks the ranges stated on each field.
    func validate() {
        precondition(populationSize >= 1 && eliteCount >= 1 && eliteCount <= populationSize,
                     "CEM: need 1 ≤ eliteCount ≤ populationSize")
        precondition(iterations >= 1, "CEM: iterations ≥ 1")
        precondition(smoothing >= 0 && smoothing < 1, "CEM: smoothing in [0, 1)")
        precondition(initialVarianceFraction > 0, "CEM: initialVarianceFraction > 0")
        precondition(minimumVarianceFraction >= 0, "CEM: minimumVarianceFraction ≥ 0")
    }
}

// MARK: - Optimizer

/// The cross-entropy method as used by PETS (Chua et al. 2018, "Deep Reinforcement Learning in a Handful
/// of Trials using Probabilistic Dynamics Models", §4 and appendix).
///
/// Per call: m ← initial mean (clamped), v ← f·(ub − lb)² with f = 1/16. For I iterations: draw N sequences
/// from N(m, diag v) truncated to the bounds, rank them by cost, take the K best (the elites, finite costs
/// only) and update
///
///     m ← α m + (1 − α) mean(elites),   v ← α v + (1 − α) var(elites)      (population variance)
///
/// (optionally floored at `minimumVarianceFraction`·(ub − lb)², off by default)
/// and return m, the smoothed elite mean, not the single best sample (PETS' code returns
/// the smoothed mean too). The variance restarts every call, as in PETS; nothing else is kept.
///
/// **Sampling: resampling, not clipping, and without PETS' variance constraint.** Each coordinate is drawn
/// from the Gaussian truncated to [lb, ub] by rejection (redraw until inside; after 64 rejections, which
/// cannot happen in practice because the mean is always inside the box and σ ≤ (ub − lb)/2, a uniform draw
/// in the box). Why: clipping puts a point mass on the bounds, so several elites become identical and the
/// elite variance collapses early. PETS and mbrl-lib instead shrink the variance to ((distance to the nearer
/// bound)/2)² and truncate at ±2σ; that freezes a coordinate whose mean reaches a bound (σ → 0), which is
/// exactly where bang-bang optima lie. Rejection keeps the truncated-normal semantics of mbrl-lib without
/// that freeze.
public final class CEMOptimizer: TrajectoryOptimizer {
    public let horizon: Int
    public let actionBounds: BoxSpace
    /// See ``TrajectoryOptimizer/shouldStop``.
    public var shouldStop: (() -> Bool)?
    /// The settings this optimizer was built with.
    public let configuration: CEMConfiguration

    private let low: [Double], high: [Double]
    /// Scratch: candidates, shape (N × horizon × A).
    private var population: [Double]

    /// - Parameters:
    ///   - horizon: time steps H ≥ 1.
    ///   - actionBounds: finite per-dimension bounds, dimension A ≥ 1.
    ///   - configuration: see ``CEMConfiguration``; invalid settings are a precondition failure.
    public init(horizon: Int, actionBounds: BoxSpace, configuration: CEMConfiguration = CEMConfiguration()) {
        configuration.validate()
        self.horizon = horizon; self.actionBounds = actionBounds; self.configuration = configuration
        (low, high) = expandedBounds(actionBounds, horizon: horizon)
        population = [Double](repeating: 0, count: configuration.populationSize * low.count)
    }

    /// Runs I iterations of PETS' CEM (see the type's documentation). NaN/±∞ costs never enter the elites;
    /// an iteration without any finite cost leaves m and v unchanged.
    public func optimize(cost: BatchCost, initialMean: [Double], using rng: inout SeededRNG) -> OptimizationResult {
        let d = low.count, n = configuration.populationSize, alpha = configuration.smoothing
        // initial distribution: warm-start mean, variance f·(ub − lb)²
        var mean = clamped(initialMean, low: low, high: high)
        var variance = (0..<d).map { configuration.initialVarianceFraction * (high[$0] - low[$0]) * (high[$0] - low[$0]) }
        var std = variance.map { $0.squareRoot() }
        let floor = (0..<d).map { configuration.minimumVarianceFraction * (high[$0] - low[$0]) * (high[$0] - low[$0]) }
        var bestCost = Double.infinity, evaluations = 0

        var done = 0
        for iteration in 0..<configuration.iterations {
            if iteration > 0, shouldStop?() == true { break }
            done += 1
            // sample N candidates from the truncated Gaussian
            for j in 0..<n {
                for i in 0..<d {
                    population[j * d + i] = truncatedNormal(mean: mean[i], std: std[i], low: low[i], high: high[i], using: &rng)
                }
            }
            // evaluate and rank (finite costs only)
            let costs = evaluate(cost, population, n)
            evaluations += n
            let ranked = rankFinite(costs)
            guard let best = ranked.first else { continue }
            bestCost = min(bestCost, costs[best])
            let elites = ranked.prefix(configuration.eliteCount)
            let k = Double(elites.count)

            // refit: smoothed elite mean and (population) variance
            for i in 0..<d {
                var s = 0.0
                for e in elites { s += population[e * d + i] }
                let em = s / k
                var ss = 0.0
                for e in elites { let r = population[e * d + i] - em; ss += r * r }
                let ev = ss / k
                mean[i] = min(max(alpha * mean[i] + (1 - alpha) * em, low[i]), high[i])
                variance[i] = max(alpha * variance[i] + (1 - alpha) * ev, floor[i])
                std[i] = variance[i].squareRoot()
            }
        }
        return OptimizationResult(solution: mean, bestCost: bestCost, iterations: done,
                                  evaluations: evaluations)
    }

    /// CEM keeps nothing between calls; provided for the protocol.
    public func reset() {}
}

// MARK: - Sampling helper

/// One draw from N(mean, std²) truncated to [low, high] by rejection; `mean` must lie in [low, high].
/// With std = 0 (or an empty interval) returns `mean`. Falls back to a uniform draw after 64 rejections.
func truncatedNormal(mean: Double, std: Double, low: Double, high: Double, using rng: inout SeededRNG) -> Double {
    if !(std > 0) || low >= high { return min(max(mean, low), high) }
    for _ in 0..<64 {
        let x = mean + std * rng.normal()
        if x >= low && x <= high { return x }
    }
    return rng.uniform(low, high)
}
