import ControlCore
import Foundation
import Testing
@testable import Planning

@Suite("iCEM: kept elites, reset, colored noise")
struct ICEMOptimizerTests {
    @Test("reset() clears the kept elites: same seed after reset gives the first call's result")
    func resetClearsKeptElites() {
        let center: [Double] = [0.5, -0.5, 0.2, 0.1, -0.3, 0.4]
        let opt = ICEMOptimizer(horizon: 3, actionBounds: BoxSpace(dimension: 2, bound: 1))
        #expect(opt.keptEliteCount == 0)
        var rng1 = SeededRNG(seed: 11)
        let first = opt.optimize(cost: shiftedQuadratic(center), initialMean: opt.midpointSequence, using: &rng1)
        #expect(opt.keptEliteCount == 3)  // round(ξ·K) = round(0.3 · 10)
        var rng2 = SeededRNG(seed: 11)
        let second = opt.optimize(cost: shiftedQuadratic(center), initialMean: opt.midpointSequence, using: &rng2)
        #expect(second != first, "kept elites should change the second call")
        opt.reset()
        #expect(opt.keptEliteCount == 0)
        var rng3 = SeededRNG(seed: 11)
        let third = opt.optimize(cost: shiftedQuadratic(center), initialMean: opt.midpointSequence, using: &rng3)
        #expect(third == first)
    }

    @Test("advance(by:) shifts kept elites and discards them after a full horizon")
    func advanceShifts() {
        let opt = ICEMOptimizer(horizon: 4, actionBounds: BoxSpace(dimension: 1, bound: 1))
        var rng = SeededRNG(seed: 12)
        _ = opt.optimize(cost: shiftedQuadratic([0.1, 0.2, 0.3, 0.4]), initialMean: [0, 0, 0, 0], using: &rng)
        #expect(opt.keptEliteCount > 0)
        opt.advance(by: 2)
        #expect(opt.keptEliteCount > 0)
        opt.advance(by: 2)
        #expect(opt.keptEliteCount == 0)
    }

    @Test("population decays as max(⌊N/γ^i⌋, 2K) and kept elites are added", arguments: [false, true])
    func populationSchedule(keepAcrossCalls: Bool) {
        let cfg = ICEMConfiguration(populationSize: 100, eliteCount: 10, iterations: 4, keepElitesAcrossCalls: keepAcrossCalls)
        let opt = ICEMOptimizer(horizon: 2, actionBounds: BoxSpace(dimension: 1, bound: 1), configuration: cfg)
        var counts: [Int] = []
        let cost: BatchCost = { p, n in counts.append(n); return shiftedQuadratic([0.3, -0.3])(p, n) }
        var rng = SeededRNG(seed: 13)
        let r1 = opt.optimize(cost: cost, initialMean: [0, 0], using: &rng)
        #expect(counts == [100, 80, 64, 51])
        #expect(r1.evaluations == 295)
        counts = []
        _ = opt.optimize(cost: cost, initialMean: [0, 0], using: &rng)
        #expect(counts == (keepAcrossCalls ? [103, 80, 64, 51] : [100, 80, 64, 51]))
    }

    @Test("colored noise has unit variance; β = 0 is white, β = 2 strongly correlated", arguments: [7, 10])
    func coloredNoise(length: Int) {
        func stats(_ beta: Double) -> (variance: Double, lag1: Double) {
            let gen = ColoredNoiseGenerator(length: length, exponent: beta)
            var rng = SeededRNG(seed: 14)
            var buf = [Double](repeating: 0, count: length)
            var v = 0.0, c = 0.0
            let n = 20_000
            for _ in 0..<n {
                gen.sample(into: &buf, offset: 0, stride: 1, using: &rng)
                for t in 0..<length { v += buf[t] * buf[t] }
                for t in 0..<(length - 1) { c += buf[t] * buf[t + 1] }
            }
            return (v / Double(n * length), c / Double(n * (length - 1)))
        }
        let white = stats(0), red = stats(2)
        #expect(abs(white.variance - 1) < 0.03 && abs(white.lag1) < 0.03)
        #expect(abs(red.variance - 1) < 0.03 && red.lag1 > 0.5)
    }
}
