import ControlCore
import Dynamics
import Foundation

/// A learned ensemble as a planning model (PETS, Chua et al. 2018, §5): every candidate action sequence is
/// rolled out by P particles through the ensemble with trajectory sampling, scored by a ``ModelTask``'s
/// closed-form cost, and its cost is the mean over particles of the summed step costs.
///
/// Propagation (`PropagationMode`): TS-∞ (default, PETS' best) assigns each particle one elite for the
/// whole horizon and samples s′ ~ N(μ, σ²) of that elite; TS-1 re-draws every particle's elite at every
/// step; expectation propagates the elites' mean without sampling (one particle). Particle i of candidate c
/// is global particle g = c·P + i and TS-∞ gives it elite g mod K, so each candidate's particles are spread
/// evenly over the K elites and one planning iteration is one batched forward per step for all of them:
/// a handful of large GEMMs (`EnsemblePropagator`), not thousands of small calls.
///
/// A step costs −reward + `safetyWeight` · safety cost, and a rollout that terminates (the task's
/// `terminated`, a fall) adds `terminationPenalty` for every step left in the horizon and accumulates nothing
/// after — exactly as the simulator rollouts (`SimulatorRollouts`) score candidates.
public final class EnsembleRollouts: @unchecked Sendable {
    public let model: ProbabilisticEnsemble
    public let task: any ModelTask
    public let particles: Int
    public let propagation: PropagationMode
    public var terminationPenalty: Float
    public var safetyWeight: Float
    let propagator: EnsemblePropagator
    var noise: NormalStream
    var rng: SeededRNG
    /// Model rows propagated since construction (particles × steps), for throughput reports.
    public private(set) var rowsPropagated = 0

    /// - Parameters:
    ///   - maxCandidates: the largest population a call may pass (sizes the scratch buffers).
    ///   - particles: P per candidate (PETS: 20); ignored (1) for `.expectation`.
    ///   - seed: seeds the particle noise and TS-1's re-assignments.
    public init(model: ProbabilisticEnsemble, task: any ModelTask, particles: Int = 20, propagation: PropagationMode = .tsInfinity,
                maxCandidates: Int, terminationPenalty: Double = 0, safetyWeight: Double = 1, seed: UInt64 = 0) throws {
        guard task.stateNames == model.stateNames, task.actionNames == model.actionNames else {
            throw ModelTaskError("the task's columns do not match the model's")
        }
        guard particles >= 1, maxCandidates >= 1 else { throw ModelTaskError("need particles ≥ 1 and a population ≥ 1") }
        self.model = model; self.task = task
        self.propagation = propagation
        self.particles = propagation == .expectation ? 1 : particles
        self.terminationPenalty = Float(terminationPenalty)
        self.safetyWeight = Float(safetyWeight)
        let K = model.eliteMembers.count
        let rows = maxCandidates * self.particles
        propagator = EnsemblePropagator(model: model, maxRowsPerMember: propagation == .expectation ? maxCandidates : (rows + K - 1) / K)
        noise = NormalStream(seed: seed)
        rng = SeededRNG(seed: seed &+ 1)
    }

    /// Costs of `count` candidate sequences (count × horizon × A normalized actions, as `BatchCost`)
    /// from the model state `state` (the ensemble's state columns, physical units).
    public func costs(from state: [Double], population: [Double], count: Int, horizon: Int) -> [Double] {
        let S = model.stateDimension, A = task.actionDimension, M = model.actionDimension
        let K = propagator.members, P = particles
        precondition(state.count == S && population.count == count * horizon * A)
        let expectation = propagation == .expectation
        // rows: TS modes pad count·P up to K·R; expectation uses count rows through all elites
        let R = expectation ? count : (count * P + K - 1) / K
        let rows = expectation ? count : K * R
        var s = [Float](repeating: 0, count: rows * S)
        let s0 = state.map(Float.init)
        for r in 0..<rows { for d in 0..<S { s[r * S + d] = s0[d] } }
        var next = s
        var a = [Float](repeating: 0, count: rows * A), modelA = [Float](repeating: 0, count: rows * M)
        // the previous step's clamped actions: the live task's at t = 0
        let p0 = task.previousAction
        var previous = [Float](repeating: 0, count: rows * A)
        for r in 0..<rows { for d in 0..<A { previous[r * A + d] = p0[d] } }
        var reward = [Float](repeating: 0, count: rows), safety = [Float](repeating: 0, count: rows)
        var terminated = [UInt8](repeating: 0, count: rows)
        var total = [Float](repeating: 0, count: rows), done = [Bool](repeating: false, count: rows)
        // candidate of each row (particle order: row g is particle g % P of candidate g / P; padding → −1)
        let candidate: [Int] = (0..<rows).map { g in expectation ? g : (g < count * P ? g / P : -1) }
        // TS-∞: row g → slot (g mod K)·R + g / K, fixed for the horizon
        var slotOf = [Int32](repeating: 0, count: expectation ? 0 : rows)
        if !expectation { for g in 0..<rows { slotOf[g] = Int32((g % K) * R + g / K) } }
        for t in 0..<horizon {
            if propagation == .tsOne {
                var perm = Array(0..<rows)
                for i in stride(from: rows - 1, to: 0, by: -1) { perm.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                for g in 0..<rows { slotOf[g] = Int32(perm[g]) }
            }
            for g in 0..<rows {
                let c = max(candidate[g], 0)
                let base = (c * horizon + t) * A
                for d in 0..<A { a[g * A + d] = Float(population[base + d]) }
            }
            s.withUnsafeBufferPointer { sp in a.withUnsafeBufferPointer { ap in
                modelA.withUnsafeMutableBufferPointer { mp in
                    task.modelActions(states: sp.baseAddress!, actions: ap.baseAddress!, rows: rows, into: mp.baseAddress!)
                }
                modelA.withUnsafeBufferPointer { mp in next.withUnsafeMutableBufferPointer { np in
                    if expectation {
                        propagator.meanStep(states: sp.baseAddress!, actions: mp.baseAddress!, rows: rows, next: np.baseAddress!)
                    } else {
                        withUnsafeMutablePointer(to: &noise) { nz in
                            propagator.permutedStep(states: sp.baseAddress!, actions: mp.baseAddress!, slotOf: slotOf, rowsPerMember: R,
                                                    next: np.baseAddress!, noise: nz)
                        }
                    }
                } }
                next.withUnsafeBufferPointer { np in previous.withUnsafeBufferPointer { pp in
                    reward.withUnsafeMutableBufferPointer { rp in safety.withUnsafeMutableBufferPointer { cp in
                        terminated.withUnsafeMutableBufferPointer { tp in
                            task.evaluate(states: sp.baseAddress!, actions: ap.baseAddress!, previousActions: pp.baseAddress!,
                                          next: np.baseAddress!, rows: rows, reward: rp.baseAddress!, cost: cp.baseAddress!,
                                          terminated: tp.baseAddress!)
                        }
                    } }
                } }
            } }
            for g in 0..<rows * A { previous[g] = max(-1, min(1, a[g])) }
            for g in 0..<rows where !done[g] {
                let stepCost = -reward[g] + safetyWeight * safety[g]
                total[g] += stepCost.isNaN ? .infinity : stepCost
                var finite = true
                for d in 0..<S where !next[g * S + d].isFinite { finite = false; break }
                if terminated[g] != 0 || !finite {
                    done[g] = true
                    total[g] += terminationPenalty * Float(horizon - t)  // as the simulator rollouts: every step left, this one included
                }
            }
            swap(&s, &next)
        }
        rowsPropagated += rows * horizon * (expectation ? K : 1)
        var out = [Double](repeating: 0, count: count)
        for g in 0..<rows where candidate[g] >= 0 { out[candidate[g]] += Double(total[g]) }
        for c in 0..<count { out[c] = out[c] / Double(P); if !out[c].isFinite { out[c] = .infinity } }
        return out
    }
}
