import ControlCore
import Foundation
import Testing
@testable import Planning

/// Properties every optimizer must have, run for each `PlannerKind`.
@Suite("Trajectory optimizers: convergence, bounds, NaN handling")
struct TrajectoryOptimizerTests {
    /// Shift of the 10-D quadratic: horizon 5 × 2 action dimensions.
    static let center: [Double] = [0.7, -1.2, 1.5, 0.3, -0.4, 1.1, -1.6, 0.9, 0.0, -0.8]

    @Test("minimizes a shifted 10-D quadratic to 0.05 per coordinate", arguments: PlannerKind.allCases)
    func quadratic(kind: PlannerKind) {
        let bounds = BoxSpace(dimension: 2, bound: 2)
        let opt = kind.makeOptimizer(horizon: 5, actionBounds: bounds, configuration: convergenceConfiguration(kind))
        var rng = SeededRNG(seed: 1)
        let r = opt.optimize(cost: shiftedQuadratic(Self.center), initialMean: opt.midpointSequence, using: &rng)
        let err = maxAbsDifference(r.solution, Self.center)
        #expect(err < 0.05, "\(kind): max error \(err), best cost \(r.bestCost)")
        #expect(r.bestCost.isFinite && r.evaluations > 0 && r.iterations > 0)
    }

    @Test("2-D Rosenbrock ends close to (1, 1) within [-2, 2]²", arguments: PlannerKind.allCases)
    func rosenbrockValley(kind: PlannerKind) {
        let bounds = BoxSpace(dimension: 2, bound: 2)
        let opt = kind.makeOptimizer(horizon: 1, actionBounds: bounds, configuration: rosenbrockConfiguration(kind))
        var rng = SeededRNG(seed: 2)
        let r = opt.optimize(cost: rosenbrock, initialMean: [0, 0], using: &rng)
        let err = maxAbsDifference(r.solution, [1, 1])
        #expect(err < 0.1, "\(kind): solution \(r.solution), best cost \(r.bestCost)")
    }

    @Test("every sample and the solution respect asymmetric bounds", arguments: PlannerKind.allCases)
    func boundsRespected(kind: PlannerKind) {
        let bounds = BoxSpace(low: [-0.5, 0.1], high: [0.3, 2.0])
        let horizon = 6
        var cfg = convergenceConfiguration(kind)
        cfg.cem.iterations = 10; cfg.icem.iterations = 10; cfg.mppi.iterations = 10
        let opt = kind.makeOptimizer(horizon: horizon, actionBounds: bounds, configuration: cfg)
        // optimum far outside the box, so samples pile up against the bounds
        let target = [Double](repeating: 5, count: 2 * horizon)
        let base = shiftedQuadratic(target)
        var violations = 0, checked = 0
        let instrumented: BatchCost = { population, count in
            #expect(population.count >= count * 2 * horizon)
            for j in 0..<count {
                for t in 0..<horizon {
                    for a in 0..<2 {
                        let x = population[(j * horizon + t) * 2 + a]
                        checked += 1
                        if !(x >= bounds.low[a] && x <= bounds.high[a]) { violations += 1 }
                    }
                }
            }
            return base(population, count)
        }
        var rng = SeededRNG(seed: 3)
        // warm start at (and beyond) the upper bound: clamped into the box
        var initial = [Double](repeating: 0, count: 2 * horizon)
        for t in 0..<horizon { initial[2 * t] = 0.3; initial[2 * t + 1] = 9 }
        for _ in 0..<2 {
            let r = opt.optimize(cost: instrumented, initialMean: initial, using: &rng)
            for t in 0..<horizon {
                #expect(bounds.contains(Array(r.solution[(2 * t)..<(2 * t + 2)])))
            }
            opt.advance(by: 1)
        }
        #expect(checked > 0)
        #expect(violations == 0, "\(kind): \(violations) of \(checked) coordinates outside the bounds")
    }

    @Test("NaN and −∞ costs over the true optimum are never selected", arguments: PlannerKind.allCases)
    func nonFiniteCostsNeverWin(kind: PlannerKind) {
        // quadratic with optimum at x₀ = 1; the half-space x₀ > 0.5 reports NaN or −∞, so the best
        // admissible answer has x₀ = 0.5. A NaN read as a small number (mbrl-lib) would win here.
        let center = Self.center.enumerated().map { $0.offset == 0 ? 1.0 : $0.element }
        let base = shiftedQuadratic(center)
        let poisoned: BatchCost = { population, count in
            var costs = base(population, count)
            for j in 0..<count where population[j * 10] > 0.5 {
                costs[j] = population[j * 10 + 1] > center[1] ? .nan : -.infinity
            }
            return costs
        }
        let opt = kind.makeOptimizer(horizon: 5, actionBounds: BoxSpace(dimension: 2, bound: 2),
                                     configuration: convergenceConfiguration(kind))
        var rng = SeededRNG(seed: 4)
        let r = opt.optimize(cost: poisoned, initialMean: opt.midpointSequence, using: &rng)
        #expect(r.solution[0] <= 0.5, "\(kind): x₀ = \(r.solution[0]) lies in the NaN region")
        #expect(r.solution[0] > 0.4, "\(kind): x₀ = \(r.solution[0]) should approach the NaN boundary 0.5")
        #expect(r.bestCost.isFinite && r.bestCost >= 0.25 - 1e-9, "\(kind): best cost \(r.bestCost)")
        let rest = maxAbsDifference(Array(r.solution[1...]), Array(center[1...]))
        #expect(rest < 0.1, "\(kind): other coordinates off by \(rest)")
    }

    @Test("all-NaN costs: the clamped warm start comes back with best cost +∞", arguments: PlannerKind.allCases)
    func allNaN(kind: PlannerKind) {
        let opt = kind.makeOptimizer(horizon: 3, actionBounds: BoxSpace(dimension: 1, bound: 1),
                                     configuration: convergenceConfiguration(kind))
        var rng = SeededRNG(seed: 5)
        let r = opt.optimize(cost: { _, n in [Double](repeating: .nan, count: n) }, initialMean: [0.2, 3, -0.4],
                             using: &rng)
        #expect(r.solution == [0.2, 1, -0.4])
        #expect(r.bestCost == .infinity)
    }

    @Test("same seed gives the same result; a different seed a different one", arguments: PlannerKind.allCases)
    func determinism(kind: PlannerKind) {
        func run(_ seed: UInt64) -> OptimizationResult {
            let opt = kind.makeOptimizer(horizon: 5, actionBounds: BoxSpace(dimension: 2, bound: 2),
                                         configuration: PlannerConfiguration(kind: kind))
            var rng = SeededRNG(seed: seed)
            return opt.optimize(cost: shiftedQuadratic(Self.center), initialMean: opt.midpointSequence, using: &rng)
        }
        #expect(run(7) == run(7))
        #expect(run(7).solution != run(8).solution)
    }
}
