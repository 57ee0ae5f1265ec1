import ControlCore
import Foundation
import LinAlg
import NeuralNets

/// The planning-time form of a ``ProbabilisticEnsemble``: its elites' weights copied once into flat
/// `Float` buffers, and scratch space for a fixed maximum number of rows, so that one propagation step of
/// every particle of every candidate is a handful of batched GEMMs (one `la_gemm_batched` per layer for
/// all elites) plus a few linear passes — no allocation, no `Double` round trip.
///
/// Row layout (member-major): the caller holds `K · R` particle states, where K = ``members`` (the
/// elites, best first) and R rows per member; rows [k·R, (k+1)·R) are propagated by elite k. Trajectory
/// sampling (Chua et al. 2018, §5) is the caller's choice of layout: TS-∞ keeps each particle in its
/// member's block for the whole horizon; TS-1 permutes particles between blocks every step
/// (``permutedStep``). Expectation (the elites' mean, no sampling) is ``meanStep``.
///
/// Units: states and actions are in the model's own columns and physical units (`stateNames`,
/// `actionNames` of the ensemble), as `Float`. The step computes s' = s + Δ with
/// Δ = μ_Δ + σ_Δ ⊙ ε (ε ~ N(0, I), or ε = 0 when not sampling), in physical units after undoing the target
/// normalization; wrapped-angle dimensions are wrapped to (−π, π] and a base quaternion renormalized, as
/// ``ProbabilisticEnsemble/sample(states:actions:count:memberOf:rng:)`` does.
public final class EnsemblePropagator: @unchecked Sendable {
    /// Elites K (blocks of rows).
    public let members: Int
    /// State and action widths S and A (model columns).
    public let stateDimension: Int, actionDimension: Int
    /// Largest number of rows per member a step accepts.
    public let maxRowsPerMember: Int
    /// Network input width F (S + number of wrapped angles + A).
    let inputSize: Int
    let widths: [Int]
    let activations: [Int32]
    /// Per layer: weights (K × in × out) and biases (K × out) of the elites.
    let weights: [[Float]], biases: [[Float]]
    let inputMean: [Float], inputInverseStd: [Float], targetMean: [Float], targetStd: [Float]
    let maxLogVar: [Float], minLogVar: [Float]
    let angleDims: [Int]
    let isAngle: [Bool]
    let quaternionDims: [Int]?
    /// Ping-pong activation buffers, each K · maxRowsPerMember · max width.
    var bufferA: [Float], bufferB: [Float]
    /// Standard-normal draws of one step (rows × S).
    var noiseBuffer: [Float] = [0]

    /// Copies the elites of `model` (in `model.eliteMembers` order).
    /// - Parameter maxRowsPerMember: capacity R_max of a step; larger steps are a precondition failure.
    public init(model: ProbabilisticEnsemble, maxRowsPerMember: Int) {
        precondition(maxRowsPerMember > 0)
        let elites = model.eliteMembers
        members = elites.count
        stateDimension = model.stateDimension
        actionDimension = model.actionDimension
        self.maxRowsPerMember = maxRowsPerMember
        inputSize = model.inputMean.count
        let net = model.parameters.net.selecting(members: elites)
        widths = [net.inputSize] + net.layers.map(\.outputSize)
        activations = net.layers.map { $0.activation.linAlgCode }
        weights = net.layers.map(\.weight.value)
        biases = net.layers.map(\.bias.value)
        inputMean = model.inputMean
        inputInverseStd = model.inputStd.map { 1 / $0 }
        targetMean = model.targetMean
        targetStd = model.targetStd
        maxLogVar = model.parameters.bounds.maxLogVariance.value
        minLogVar = model.parameters.bounds.minLogVariance.value
        angleDims = model.angleDims
        isAngle = (0..<model.stateDimension).map { model.angleDims.contains($0) }
        quaternionDims = model.quaternionDims
        let width = widths.max()!
        bufferA = [Float](repeating: 0, count: members * maxRowsPerMember * width)
        bufferB = bufferA
    }

    /// Multiply–adds of one row through one member (2 × Σ in·out), for throughput reports.
    public var flopsPerRow: Int { 2 * zip(widths, widths.dropFirst()).map { $0 * $1 }.reduce(0, +) }

    /// One step for K · R rows in member-major layout (TS-∞ when the caller keeps the layout fixed).
    ///
    /// - Parameters:
    ///   - states: (K·R × S) current states.
    ///   - actions: (K·R × A) model actions.
    ///   - rowsPerMember: R ≤ ``maxRowsPerMember``.
    ///   - next: (K·R × S) output; may alias `states`.
    ///   - noise: standard-normal source for ε, or nil for the members' means (ε = 0).
    public func step(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rowsPerMember: Int,
                     next: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<NormalStream>?) {
        precondition(rowsPerMember > 0 && rowsPerMember <= maxRowsPerMember, "EnsemblePropagator: \(rowsPerMember) rows per member, capacity \(maxRowsPerMember)")
        let rows = members * rowsPerMember
        let head = forward(states: states, actions: actions, rows: rowsPerMember, replicate: false)
        head.withUnsafeBufferPointer { h in
            finishRows(states: states, head: h.baseAddress!, rows: rows, next: next, noise: noise)
        }
    }

    /// One TS-1 step: row i of the caller's (N × S) states is propagated by member `assignment[i] / R` …
    /// precisely, `slotOf[i]` is the member-major slot of row i (a permutation of 0..<K·R, so each member
    /// gets R rows); the result is written back in the caller's row order.
    public func permutedStep(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, slotOf: [Int32], rowsPerMember: Int,
                             next: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<NormalStream>?) {
        let S = stateDimension, A = actionDimension, rows = members * rowsPerMember
        precondition(slotOf.count == rows)
        var sIn = [Float](repeating: 0, count: rows * S), aIn = [Float](repeating: 0, count: rows * A)
        for i in 0..<rows {
            let k = Int(slotOf[i])
            for d in 0..<S { sIn[k * S + d] = states[i * S + d] }
            for d in 0..<A { aIn[k * A + d] = actions[i * A + d] }
        }
        var out = [Float](repeating: 0, count: rows * S)
        sIn.withUnsafeBufferPointer { sp in aIn.withUnsafeBufferPointer { ap in out.withUnsafeMutableBufferPointer { op in
            step(states: sp.baseAddress!, actions: ap.baseAddress!, rowsPerMember: rowsPerMember, next: op.baseAddress!, noise: noise)
        } } }
        for i in 0..<rows {
            let k = Int(slotOf[i])
            for d in 0..<S { next[i * S + d] = out[k * S + d] }
        }
    }

    /// Expectation step (Chua et al.'s "E" propagation): every one of `rows` rows goes through all K
    /// elites and s' = s + mean over elites of μ_Δ (no sampling). `next` may alias `states`.
    public func meanStep(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, next: UnsafeMutablePointer<Float>) {
        precondition(rows > 0 && rows <= maxRowsPerMember, "EnsemblePropagator: \(rows) rows, capacity \(maxRowsPerMember)")
        let S = stateDimension, K = members
        let head = forward(states: states, actions: actions, rows: rows, replicate: true)
        // average the members' normalized means, then finish as one block with ε = 0
        var meanHead = [Float](repeating: 0, count: rows * 2 * S)
        let scale = 1 / Float(K)
        for k in 0..<K {
            for r in 0..<rows {
                let src = (k * rows + r) * 2 * S, dst = r * 2 * S
                for d in 0..<S { meanHead[dst + d] += scale * head[src + d] }
            }
        }
        meanHead.withUnsafeBufferPointer { h in
            finishRows(states: states, head: h.baseAddress!, rows: rows, next: next, noise: nil)
        }
    }

    // MARK: - internals

    /// Normalized features of `rows` rows per member into bufferA and the forward pass; returns the head
    /// (K·rows × 2S) in a buffer. `replicate`: every member reads the same `rows` rows.
    private func forward(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, replicate: Bool) -> [Float] {
        let S = stateDimension, A = actionDimension, F = inputSize, K = members
        let sourceRows = replicate ? rows : K * rows
        bufferA.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            inputMean.withUnsafeBufferPointer { mu in inputInverseStd.withUnsafeBufferPointer { inv in
                for r in 0..<sourceRows {
                    let o = x + r * F, s = states + r * S, a = actions + r * A
                    var k = 0
                    for d in 0..<S {
                        let v = isAngle[d] ? sin(s[d]) : s[d]
                        o[k] = (v - mu[k]) * inv[k]; k += 1
                    }
                    for d in angleDims { o[k] = (cos(s[d]) - mu[k]) * inv[k]; k += 1 }
                    for d in 0..<A { o[k] = (a[d] - mu[k]) * inv[k]; k += 1 }
                }
            } }
            if replicate {
                for m in 1..<K { (x + m * rows * F).update(from: x, count: rows * F) }
            }
        }
        // layers: ping-pong between bufferA and bufferB
        var inA = true
        for l in 0..<(widths.count - 1) {
            let n = widths[l + 1], kIn = widths[l]
            weights[l].withUnsafeBufferPointer { w in biases[l].withUnsafeBufferPointer { b in
                bufferA.withUnsafeMutableBufferPointer { pa in bufferB.withUnsafeMutableBufferPointer { pb in
                    let src = inA ? pa.baseAddress! : pb.baseAddress!
                    let dst = inA ? pb.baseAddress! : pa.baseAddress!
                    la_gemm_batched(Int32(K), Int32(rows), Int32(n), Int32(kIn), src, w.baseAddress!, b.baseAddress!, dst, activations[l])
                } }
            } }
            inA.toggle()
        }
        let count = K * rows * 2 * S
        return inA ? Array(bufferA[0..<count]) : Array(bufferB[0..<count])
    }

    /// s' = s + Δ from head rows (2S each: normalized mean, raw log-variance), with soft bounds and noise:
    /// the noise is drawn here, the arithmetic is `la_gaussian_step` (runtime-dispatched AVX2 exp/log).
    private func finishRows(states: UnsafePointer<Float>, head: UnsafePointer<Float>, rows: Int,
                            next: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<NormalStream>?) {
        let S = stateDimension
        if let noise {
            if noiseBuffer.count < rows * S { noiseBuffer = [Float](repeating: 0, count: rows * S) }
            noiseBuffer.withUnsafeMutableBufferPointer { z in
                for i in 0..<(rows * S) { z[i] = noise.pointee.next() }
            }
        }
        targetMean.withUnsafeBufferPointer { tm in targetStd.withUnsafeBufferPointer { ts in
        maxLogVar.withUnsafeBufferPointer { hi in minLogVar.withUnsafeBufferPointer { lo in
        noiseBuffer.withUnsafeBufferPointer { z in
            la_gaussian_step(Int32(rows), Int32(S), head, states, tm.baseAddress!, ts.baseAddress!, hi.baseAddress!, lo.baseAddress!,
                             noise == nil ? nil : z.baseAddress!, next)
        } } } } }
        guard !angleDims.isEmpty || quaternionDims != nil else { return }
        for r in 0..<rows {
            let o = next + r * S
            for d in angleDims { o[d] = wrappedToPi(o[d]) }
            if let q = quaternionDims {
                var n: Float = 0
                for d in q { n += o[d] * o[d] }
                if n > 0 { let inv = 1 / n.squareRoot(); for d in q { o[d] *= inv } }
            }
        }
    }
}

/// An angle wrapped to (−π, π] (the Float twin of `wrapToPi`).
@inline(__always) public func wrappedToPi(_ a: Float) -> Float {
    var x = (a + .pi).truncatingRemainder(dividingBy: 2 * .pi)
    if x < 0 { x += 2 * .pi }
    return x - .pi
}

/// A fast stream of standard-normal `Float`s for particle noise: xoshiro256** bits, Box–Muller in pairs.
/// Deterministic for a seed; about 10× cheaper per sample than `SeededRNG.normal()`'s `Double` path.
public struct NormalStream: Sendable {
    private var rng: SeededRNG
    private var spare: Float = 0
    private var hasSpare = false
    public init(seed: UInt64) { rng = SeededRNG(seed: seed) }
    /// The next N(0, 1) sample.
    @inline(__always) public mutating func next() -> Float {
        if hasSpare { hasSpare = false; return spare }
        let bits = rng.next()
        // two 24-bit uniforms in (0, 1]
        let u1 = (Float(bits >> 40) + 1) * 0x1.0p-24
        let u2 = Float((bits >> 16) & 0xFF_FFFF) * 0x1.0p-24
        let r = (-2 * log(u1)).squareRoot()
        let theta = 2 * Float.pi * u2
        spare = r * sin(theta); hasSpare = true
        return r * cos(theta)
    }
}
