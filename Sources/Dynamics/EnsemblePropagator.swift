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
    /// Per layer: the elites' weights packed for `la_gemm_packed_batched` (K × `la_packed_size(in, out)`,
    /// 64-byte aligned) and biases (K × out).
    let packedWeights: [UnsafeMutablePointer<Float>], biases: [[Float]]
    let inputMean: [Float], inputInverseStd: [Float], targetMean: [Float], targetStd: [Float]
    let maxLogVar: [Float], minLogVar: [Float]
    let angleDims: [Int]
    let isAngle: [Bool]
    let quaternionDims: [Int]?
    /// Ping-pong activation buffers, each K · maxRowsPerMember · max width (64-byte aligned).
    let bufferA: UnsafeMutablePointer<Float>, bufferB: UnsafeMutablePointer<Float>
    /// TS-1 scratch: states, actions and results in member-major order (K · maxRowsPerMember rows).
    let permutedStates: UnsafeMutablePointer<Float>, permutedActions: UnsafeMutablePointer<Float>,
        permutedNext: UnsafeMutablePointer<Float>
    /// Standard-normal draws of one step (K · maxRowsPerMember × S).
    let noiseBuffer: UnsafeMutablePointer<Float>
    /// Expectation scratch: the elites' mean head (maxRowsPerMember × 2S).
    let meanHead: UnsafeMutablePointer<Float>

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
        let widths = [net.inputSize] + net.layers.map(\.outputSize)
        self.widths = widths
        activations = net.layers.map { $0.activation.linAlgCode }
        let K = elites.count
        packedWeights = net.layers.enumerated().map { l, layer in
            let kIn = widths[l], n = widths[l + 1]
            let size = la_packed_size(Int32(kIn), Int32(n))
            let packed = Self.allocate(K * size)
            layer.weight.value.withUnsafeBufferPointer { w in
                for e in 0..<K {
                    la_pack_b(Int32(kIn), Int32(n), w.baseAddress! + e * kIn * n, packed + e * size)
                }
            }
            return packed
        }
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
        let rows = K * maxRowsPerMember, S = model.stateDimension, A = model.actionDimension
        bufferA = Self.allocate(rows * widths.max()!)
        bufferB = Self.allocate(rows * widths.max()!)
        permutedStates = Self.allocate(rows * S)
        permutedActions = Self.allocate(rows * A)
        permutedNext = Self.allocate(rows * S)
        noiseBuffer = Self.allocate(rows * S)
        meanHead = Self.allocate(maxRowsPerMember * 2 * S)
    }

    deinit {
        for p in packedWeights { p.deallocate() }
        for p in [bufferA, bufferB, permutedStates, permutedActions, permutedNext, noiseBuffer, meanHead] { p.deallocate() }
    }

    /// `count` zeroed floats on a 64-byte boundary (cache line; the GEMM kernel's loads never split one).
    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
        return p
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
        finishRows(states: states, head: head, rows: rows, next: next, noise: noise)
    }

    /// One TS-1 step: row i of the caller's (N × S) states is propagated by member `assignment[i] / R` …
    /// precisely, `slotOf[i]` is the member-major slot of row i (a permutation of 0..<K·R, so each member
    /// gets R rows); the result is written back in the caller's row order.
    public func permutedStep(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, slotOf: [Int32], rowsPerMember: Int,
                             next: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<NormalStream>?) {
        let S = stateDimension, A = actionDimension, rows = members * rowsPerMember
        precondition(slotOf.count == rows)
        precondition(rowsPerMember > 0 && rowsPerMember <= maxRowsPerMember, "EnsemblePropagator: \(rowsPerMember) rows per member, capacity \(maxRowsPerMember)")
        let sIn = permutedStates, aIn = permutedActions, out = permutedNext
        for i in 0..<rows {
            let k = Int(slotOf[i])
            (sIn + k * S).update(from: states + i * S, count: S)
            (aIn + k * A).update(from: actions + i * A, count: A)
        }
        step(states: sIn, actions: aIn, rowsPerMember: rowsPerMember, next: out, noise: noise)
        for i in 0..<rows {
            (next + i * S).update(from: out + Int(slotOf[i]) * S, count: S)
        }
    }

    /// Expectation step (Chua et al.'s "E" propagation): every one of `rows` rows goes through all K
    /// elites and s' = s + mean over elites of μ_Δ (no sampling). `next` may alias `states`.
    public func meanStep(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, next: UnsafeMutablePointer<Float>) {
        precondition(rows > 0 && rows <= maxRowsPerMember, "EnsemblePropagator: \(rows) rows, capacity \(maxRowsPerMember)")
        let S = stateDimension, K = members
        let head = forward(states: states, actions: actions, rows: rows, replicate: true)
        // average the members' normalized means, then finish as one block with ε = 0
        meanHead.update(repeating: 0, count: rows * 2 * S)
        let scale = 1 / Float(K)
        for k in 0..<K {
            for r in 0..<rows {
                let src = (k * rows + r) * 2 * S, dst = r * 2 * S
                for d in 0..<S { meanHead[dst + d] += scale * head[src + d] }
            }
        }
        finishRows(states: states, head: meanHead, rows: rows, next: next, noise: nil)
    }

    // MARK: - internals

    /// Normalized features of `rows` rows per member into bufferA and the forward pass; returns the head
    /// (K·rows × 2S) in one of the ping-pong buffers (valid until the next call). `replicate`: every member
    /// reads the same `rows` rows.
    private func forward(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, replicate: Bool) -> UnsafeMutablePointer<Float> {
        let S = stateDimension, A = actionDimension, F = inputSize, K = members
        let sourceRows = replicate ? rows : K * rows
        let x = bufferA
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
        // layers: ping-pong between bufferA and bufferB
        var src = bufferA, dst = bufferB
        for l in 0..<(widths.count - 1) {
            let n = widths[l + 1], kIn = widths[l]
            biases[l].withUnsafeBufferPointer { b in
                la_gemm_packed_batched(Int32(K), Int32(rows), Int32(n), Int32(kIn), src, packedWeights[l], b.baseAddress!, dst, activations[l])
            }
            swap(&src, &dst)
        }
        return src
    }

    /// s' = s + Δ from head rows (2S each: normalized mean, raw log-variance), with soft bounds and noise:
    /// the noise is drawn here, the arithmetic is `la_gaussian_step` (runtime-dispatched AVX2 exp/log).
    private func finishRows(states: UnsafePointer<Float>, head: UnsafePointer<Float>, rows: Int,
                            next: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<NormalStream>?) {
        let S = stateDimension
        if let noise {
            noise.pointee.fill(noiseBuffer, count: rows * S)
        }
        targetMean.withUnsafeBufferPointer { tm in targetStd.withUnsafeBufferPointer { ts in
        maxLogVar.withUnsafeBufferPointer { hi in minLogVar.withUnsafeBufferPointer { lo in
            la_gaussian_step(Int32(rows), Int32(S), head, states, tm.baseAddress!, ts.baseAddress!, hi.baseAddress!, lo.baseAddress!,
                             noise == nil ? nil : UnsafePointer(noiseBuffer), next)
        } } } }
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

    /// Writes the next `count` samples to `out`: the same transform of the same random words as repeated
    /// ``next()`` (a pending spare first), with the logarithm and sine/cosine done in batches by
    /// `la_box_muller` (AVX2 polynomials when available, so values can differ from `next()`'s by ~1e-6).
    public mutating func fill(_ out: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var i = 0
        if hasSpare { out[0] = spare; hasSpare = false; i = 1 }
        let pairs = (count - i) / 2
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 256) { words in
            var done = 0
            while done < pairs {
                let n = Swift.min(256, pairs - done)
                for j in 0..<n { words[j] = rng.next() }
                la_box_muller(n, words.baseAddress!, out + i + 2 * done)
                done += n
            }
        }
        if (count - i) % 2 == 1 { out[count - 1] = next() }
    }
}
