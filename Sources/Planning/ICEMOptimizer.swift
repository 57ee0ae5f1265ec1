import ControlCore
import Foundation

// MARK: - Configuration

/// Settings of ``ICEMOptimizer``. Defaults follow Pinneri et al. 2020 ("Sample-efficient Cross-Entropy
/// Method for Real-time Planning", CoRL 2020, §3 and the hyperparameter table of the appendix):
/// N = 300, K = 10, I = 3, β = 2, γ = 1.25, ξ = 0.3, α = 0.1, σ_init = 0.5 (of the half range), mean added
/// in the last iteration, first action of the best sample executed. (The paper uses β = 2.5 on some tasks
/// and fewer samples in its "budget" settings; the authors' `i-cem-blitz` preset uses N = 40, β = 3.)
/// Decoding is synthesized; `ConfigCoding.decode(_:fromJSON:)` fills missing keys from the defaults.
/// Ranges: `ICEMConfiguration+Ranges.swift`.
public struct ICEMConfiguration: Codable, Sendable, Equatable {
    /// Candidates in the first iteration, N. Default 300 (Pinneri et al. 2020).
    public var populationSize: Int = 300
    /// Elites per iteration, K. Default 10.
    public var eliteCount: Int = 10
    /// Iterations per call, I. Default 3.
    public var iterations: Int = 3
    /// Colored-noise exponent β ≥ 0 (0 = white). Default 2.0.
    public var noiseExponent: Double = 2.0
    /// Population decay γ ≥ 1: N_i = max(⌊N_{i−1}/γ⌋, 2K), i.e. ≈ N·γ^(−i). Default 1.25.
    public var populationDecay: Double = 1.25
    /// Fraction ξ ∈ [0, 1] of the K elites kept into the next iteration and (shifted) into the next call.
    /// Default 0.3.
    public var keptEliteFraction: Double = 0.3
    /// Momentum α ∈ [0, 1) of the mean and standard-deviation updates (iCEM smooths σ, not σ²). Default 0.1.
    public var smoothing: Double = 0.1
    /// Initial standard deviation as a fraction of the half range (ub − lb)/2. Default 0.5, which equals
    /// PETS' initial variance (ub − lb)²/16.
    public var initialStdFraction: Double = 0.5
    /// Lower bound on σ after each update, as a fraction of the half range, ≥ 0 (noisy CEM, Szita &
    /// Lőrincz 2006). Default 0 (the paper has none).
    public var minimumStdFraction: Double = 0
    /// Add the current mean as a candidate in the last iteration. Default true.
    public var addMeanInLastIteration: Bool = true
    /// Keep elites across calls (shifted by ``TrajectoryOptimizer/advance(by:)``). Default true.
    public var keepElitesAcrossCalls: Bool = true
    /// Return the best sampled sequence (iCEM executes the best action) instead of the smoothed mean.
    /// Default true.
    public var returnBestSample: Bool = true

    public init(populationSize: Int = 300, eliteCount: Int = 10, iterations: Int = 3, noiseExponent: Double = 2.0,
                populationDecay: Double = 1.25, keptEliteFraction: Double = 0.3, smoothing: Double = 0.1,
                initialStdFraction: Double = 0.5, minimumStdFraction: Double = 0, addMeanInLastIteration: Bool = true,
                keepElitesAcrossCalls: Bool = true, returnBestSample: Bool = true) {
        self.populationSize = populationSize; self.eliteCount = eliteCount; self.iterations = iterations
        self.noiseExponent = noiseExponent; self.populationDecay = populationDecay
        self.keptEliteFraction = keptEliteFraction; self.smoothing = smoothing
        self.initialStdFraction = initialStdFraction; self.minimumStdFraction = minimumStdFraction
        self.addMeanInLastIteration = addMeanInLastIteration
        self.keepElitesAcrossCalls = keepElitesAcrossCalls; self.returnBestSample = returnBestSample
    }

    /// Number of elites carried over, round(ξ·K).
    var keptCount: Int { Int((keptEliteFraction * Double(eliteCount)).rounded()) }

    /// Checks the ranges stated on each field.
    func validate() {
        precondition(populationSize >= 1 && eliteCount >= 1 && eliteCount <= populationSize,
                     "iCEM: need 1 ≤ eliteCount ≤ populationSize")
        precondition(iterations >= 1, "iCEM: iterations ≥ 1")
        precondition(noiseExponent >= 0 && populationDecay >= 1, "iCEM: β ≥ 0 and γ ≥ 1")
        precondition(keptEliteFraction >= 0 && keptEliteFraction <= 1, "iCEM: ξ in [0, 1]")
        precondition(smoothing >= 0 && smoothing < 1, "iCEM: smoothing in [0, 1)")
        precondition(initialStdFraction > 0 && minimumStdFraction >= 0, "iCEM: σ fractions must be positive")
    }
}

// MARK: - Optimizer

/// The improved cross-entropy method, iCEM (Pinneri et al. 2020, Algorithm 1).
///
/// Per call: m ← initial mean (clamped), σ ← σ_init·(ub − lb)/2. For iteration i = 0 … I−1:
/// 1. N_i = max(⌊N_{i−1}/γ⌋, 2K) fresh candidates m + σ ⊙ colored noise (β, along the time axis; see
///    ``ColoredNoiseGenerator``), **clipped** to the bounds — iCEM clips rather than truncates, which puts
///    more samples on the bounds, where bang-bang-like optima lie (Pinneri et al. 2020, §3).
/// 2. i = 0: add the ξK elites kept from the previous call, shifted by ``advance(by:)``, with the vacated
///    tail re-sampled from the current distribution (they are re-evaluated: the cost function may have
///    changed). i > 0: add the ξK best elites of the previous iteration with their costs.
/// 3. Last iteration: the current mean replaces the first fresh candidate.
/// 4. Elites = K lowest finite costs; m ← α m + (1 − α) mean(elites), σ ← α σ + (1 − α) std(elites).
///
/// Returns the best sequence evaluated during the call (iCEM executes the best action), or m when
/// `returnBestSample` is false. The ξK best elites of the final iteration are kept for the next call;
/// ``reset()`` clears them.
public final class ICEMOptimizer: TrajectoryOptimizer {
    public let horizon: Int
    public let actionBounds: BoxSpace
    /// See ``TrajectoryOptimizer/shouldStop``.
    public var shouldStop: (() -> Bool)?
    /// The settings this optimizer was built with.
    public let configuration: ICEMConfiguration

    private let low: [Double], high: [Double]
    private let noise: ColoredNoiseGenerator
    /// Scratch: fresh candidates plus kept elites, shape (capacity × horizon × A).
    private var population: [Double]
    /// Scratch: one colored-noise block, shape (horizon × A).
    private var noiseBlock: [Double]

    /// Elites kept from the previous call, shape (keptElites × horizon × A); empty after `reset()`.
    private var keptElites: [Double] = []
    /// Number of rows in `keptElites`.
    private var keptElitesCount = 0
    /// Leading time steps of each kept elite that are still valid (H minus the shift since it was stored).
    private var keptValidSteps = 0

    /// - Parameters:
    ///   - horizon: time steps H ≥ 1.
    ///   - actionBounds: finite per-dimension bounds, dimension A ≥ 1.
    ///   - configuration: see ``ICEMConfiguration``; invalid settings are a precondition failure.
    public init(horizon: Int, actionBounds: BoxSpace, configuration: ICEMConfiguration = ICEMConfiguration()) {
        configuration.validate()
        self.horizon = horizon; self.actionBounds = actionBounds; self.configuration = configuration
        (low, high) = expandedBounds(actionBounds, horizon: horizon)
        noise = ColoredNoiseGenerator(length: horizon, exponent: configuration.noiseExponent)
        let capacity = max(configuration.populationSize, 2 * configuration.eliteCount) + configuration.keptCount
        population = [Double](repeating: 0, count: capacity * low.count)
        noiseBlock = [Double](repeating: 0, count: low.count)
    }

    /// Runs Algorithm 1 of Pinneri et al. 2020 for one planning step (see the type's documentation).
    /// NaN/±∞ costs never become elites, kept elites or the returned best sample.
    public func optimize(cost: BatchCost, initialMean: [Double], using rng: inout SeededRNG) -> OptimizationResult {
        let cfg = configuration, d = low.count, a = actionDimension, alpha = cfg.smoothing
        // initial distribution
        var mean = clamped(initialMean, low: low, high: high)
        var std = (0..<d).map { cfg.initialStdFraction * 0.5 * (high[$0] - low[$0]) }
        let floor = (0..<d).map { cfg.minimumStdFraction * 0.5 * (high[$0] - low[$0]) }
        var bestCost = Double.infinity, bestSequence: [Double]? = nil, evaluations = 0
        var n = cfg.populationSize
        // elites carried from the previous iteration: sequences (rows × d) and their costs
        var carried: [Double] = [], carriedCosts: [Double] = []

        var done = 0
        for i in 0..<cfg.iterations {
            if i > 0, shouldStop?() == true { break }
            done += 1
            if i > 0 { n = max(Int(Double(n) / cfg.populationDecay), 2 * cfg.eliteCount) }
            let fromPreviousCall = (i == 0 && cfg.keepElitesAcrossCalls) ? keptElitesCount : 0
            let rows = n + fromPreviousCall

            // fresh candidates: mean + σ ⊙ colored noise, clipped
            for j in 0..<rows {
                for dim in 0..<a {
                    noise.sample(into: &noiseBlock, offset: dim, stride: a, using: &rng)
                }
                for k in 0..<d {
                    population[j * d + k] = min(max(mean[k] + std[k] * noiseBlock[k], low[k]), high[k])
                }
            }
            // the mean as a candidate in the last iteration
            if cfg.addMeanInLastIteration && i == cfg.iterations - 1 {
                for k in 0..<d { population[k] = mean[k] }
            }
            // elites of the previous call, shifted: valid head copied over a fresh tail
            if fromPreviousCall > 0 {
                let valid = keptValidSteps * a
                for e in 0..<fromPreviousCall {
                    let row = (n + e) * d
                    for k in 0..<valid { population[row + k] = keptElites[e * d + k] }
                }
            }

            // evaluate the new rows; pool them with the carried elites
            let batch = Array(population[0..<(rows * d)])
            var costs = evaluate(cost, batch, rows)
            evaluations += rows
            var pool = batch
            pool += carried; costs += carriedCosts

            // elites: K lowest finite costs
            let ranked = rankFinite(costs)
            guard let best = ranked.first else { continue }
            if costs[best] < bestCost {
                bestCost = costs[best]
                bestSequence = Array(pool[(best * d)..<((best + 1) * d)])
            }
            let elites = Array(ranked.prefix(cfg.eliteCount))
            let k = Double(elites.count)

            // refit with momentum on mean and standard deviation
            for c in 0..<d {
                var s = 0.0
                for e in elites { s += pool[e * d + c] }
                let em = s / k
                var ss = 0.0
                for e in elites { let r = pool[e * d + c] - em; ss += r * r }
                mean[c] = min(max(alpha * mean[c] + (1 - alpha) * em, low[c]), high[c])
                std[c] = max(alpha * std[c] + (1 - alpha) * (ss / k).squareRoot(), floor[c])
            }

            // keep the ξK best elites for the next iteration
            let keep = elites.prefix(cfg.keptCount)
            carried = []; carriedCosts = []
            for e in keep { carried += pool[(e * d)..<((e + 1) * d)]; carriedCosts.append(costs[e]) }
        }

        // keep the final ξK elites for the next call (unshifted until advance(by:))
        if cfg.keepElitesAcrossCalls {
            keptElites = carried; keptElitesCount = carriedCosts.count; keptValidSteps = horizon
        }
        let solution = cfg.returnBestSample ? (bestSequence ?? mean) : mean
        return OptimizationResult(solution: solution, bestCost: bestCost, iterations: done,
                                  evaluations: evaluations)
    }

    /// Shifts the kept elites left by `steps` time steps; the vacated tail is re-sampled at the next call.
    /// Shifting by H or more discards them.
    public func advance(by steps: Int) {
        precondition(steps >= 0, "advance(by:) needs steps ≥ 0")
        guard steps > 0, keptElitesCount > 0 else { return }
        let a = actionDimension, d = sequenceLength
        let remaining = max(keptValidSteps - steps, 0)
        if remaining == 0 { reset(); return }
        for e in 0..<keptElitesCount {
            for k in 0..<(remaining * a) { keptElites[e * d + k] = keptElites[e * d + k + steps * a] }
        }
        keptValidSteps = remaining
    }

    /// Forgets the elites kept from previous calls; the next call behaves as on a fresh optimizer.
    public func reset() {
        keptElites = []; keptElitesCount = 0; keptValidSteps = 0
    }

    /// Number of elites currently kept for the next call (0 after `reset()`).
    public var keptEliteCount: Int { keptElitesCount }
}
