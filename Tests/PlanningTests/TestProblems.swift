import ControlCore
import Foundation
@testable import Planning

// MARK: - Objectives and small test configurations shared by the suites

/// Σ_i (x_i − c_i)² for every candidate; `population` is (count × c.count).
func shiftedQuadratic(_ c: [Double]) -> BatchCost {
    { population, count in
        let d = c.count
        return (0..<count).map { j in
            var s = 0.0
            for i in 0..<d { let r = population[j * d + i] - c[i]; s += r * r }
            return s
        }
    }
}

/// 2-D Rosenbrock (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1).
func rosenbrock(_ population: [Double], _ count: Int) -> [Double] {
    (0..<count).map { j in
        let x = population[2 * j], y = population[2 * j + 1]
        return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)
    }
}

/// Configurations with more iterations than the control defaults, so that each optimizer converges on a
/// static problem within the test budget.
func convergenceConfiguration(_ kind: PlannerKind) -> PlannerConfiguration {
    var c = PlannerConfiguration(kind: kind)
    c.cem = CEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 40)
    // β = 2 correlates the 5 time steps strongly, so iCEM needs more iterations and a small σ floor on a
    // target that jumps between time steps
    c.icem = ICEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 80, minimumStdFraction: 0.01)
    c.mppi = MPPIConfiguration(sampleCount: 200, temperature: 0.01, noiseStdFraction: 0.05, iterations: 150)
    return c
}

/// For the curved Rosenbrock valley: a diagonal Gaussian collapses before reaching (1, 1) (with the PETS
/// settings CEM stops near (0.65, 0.42)), so CEM and iCEM get a variance floor (noisy CEM, Szita & Lőrincz
/// 2006) and 150 iterations to crawl along the valley.
func rosenbrockConfiguration(_ kind: PlannerKind) -> PlannerConfiguration {
    var c = convergenceConfiguration(kind)
    c.cem = CEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 150, minimumVarianceFraction: 1e-4)
    c.icem = ICEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 150, minimumStdFraction: 0.02)
    return c
}

/// Largest absolute difference between two equally long arrays.
func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
