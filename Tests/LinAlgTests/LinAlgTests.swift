// Tests of the LinAlg C API (include/linalg.h) called from Swift.
//
// GEMM kernels are checked against a naive triple loop evaluated in Double; the solvers against
// systems with known solutions and against each other (least squares vs normal equations).

import Foundation
import LinAlg
import Testing

// MARK: - Helpers

/// Small deterministic generator (SplitMix64) so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` uniform floats in `range`.
func randomFloats(_ count: Int, _ rng: inout SplitMix64, in range: ClosedRange<Float> = -1...1) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &rng) }
}

/// `count` uniform doubles in `range`.
func randomDoubles(_ count: Int, _ rng: inout SplitMix64, in range: ClosedRange<Double> = -1...1) -> [Double] {
    (0..<count).map { _ in Double.random(in: range, using: &rng) }
}

/// Every activation of the API.
let allActivations: [la_activation] = [LA_ACT_NONE, LA_ACT_RELU, LA_ACT_TANH, LA_ACT_SILU, LA_ACT_ELU]

/// Readable test-case names ("LA_ACT_TANH" rather than "la_activation_(rawValue: 2)").
extension la_activation: @retroactive CustomTestStringConvertible {
    public var testDescription: String {
        let names = ["LA_ACT_NONE", "LA_ACT_RELU", "LA_ACT_TANH", "LA_ACT_SILU", "LA_ACT_ELU"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "la_activation(\(rawValue))"
    }
}

/// The `int activation` argument for an enum value.
func code(_ act: la_activation) -> Int32 { Int32(act.rawValue) }

/// Both dispatch paths of the runtime-dispatched kernels: the AVX2/FMA kernels (where the CPU has them)
/// and the portable code, chosen per thread with `la_set_vector_kernels` (test bodies are synchronous, so
/// they stay on one thread and other tests are not affected; each restores the default with `defer`).
let kernelPaths = [true, false]


/// Reference activation in Double (see la_activation in linalg.h).
func reference(_ act: la_activation, _ x: Double) -> Double {
    switch act {
    case LA_ACT_RELU: return max(x, 0)
    case LA_ACT_TANH: return tanh(x)
    case LA_ACT_SILU: return x / (1 + exp(-x))
    case LA_ACT_ELU: return x > 0 ? x : expm1(x)
    default: return x
    }
}

/// A GEMM shape: c is (m x n), the inner dimension is k.
struct Shape: Sendable, CustomTestStringConvertible {
    let m: Int, n: Int, k: Int
    init(_ m: Int, _ n: Int, _ k: Int) { self.m = m; self.n = n; self.k = k }
    var testDescription: String { "\(m)x\(n)x\(k)" }
}

/// Random shapes including vectors, odd sizes and the 37x53x29 case.
let gemmShapes: [Shape] = [
    Shape(1, 1, 1), Shape(1, 1, 7), Shape(1, 9, 4), Shape(9, 1, 4), Shape(5, 7, 1),
    Shape(2, 3, 4), Shape(7, 8, 9), Shape(16, 16, 16), Shape(17, 31, 5), Shape(37, 53, 29),
    Shape(64, 3, 100), Shape(3, 64, 100), Shape(1, 128, 64), Shape(128, 1, 64), Shape(65, 130, 257),
]

/// Naive product sum_p A(i,p) B(p,j) in Double, plus sum_p |A(i,p) B(p,j)| (the error scale).
/// `aAt(i, p)` and `bAt(p, j)` read the logical factors, whatever their storage.
func naiveProduct(m: Int, n: Int, k: Int,
                  _ aAt: (Int, Int) -> Float, _ bAt: (Int, Int) -> Float) -> (value: [Double], scale: [Double]) {
    var value = [Double](repeating: 0, count: m * n)
    var scale = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, t = 0.0
            for p in 0..<k {
                let x = Double(aAt(i, p)) * Double(bAt(p, j))
                s += x
                t += abs(x)
            }
            value[i * n + j] = s
            scale[i * n + j] = t
        }
    }
    return (value, scale)
}

/// Index of the first entry with |got - want| > rel * scale + abs (NaN counts as a violation).
func firstMismatch(_ got: [Float], _ want: [Double], scale: [Double], rel: Double = 1e-5,
                   abs absTol: Double = 1e-6) -> Int? {
    precondition(got.count == want.count)
    return got.indices.first { i in !(abs(Double(got[i]) - want[i]) <= rel * scale[i] + absTol) }
}

/// Index of the first entry with |got - want| > tol * (1 + |want|) (NaN counts as a violation).
func firstMismatch(_ got: [Double], _ want: [Double], tol: Double) -> Int? {
    precondition(got.count == want.count)
    return got.indices.first { i in !(abs(got[i] - want[i]) <= tol * (1 + abs(want[i]))) }
}

/// Calls la_gemm on Swift arrays (bias optional).
func gemm(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float], _ bias: [Float]?,
          _ c: inout [Float], _ act: la_activation, beta: Float = 0) {
    if let bias {
        la_gemm(Int32(m), Int32(n), Int32(k), a, b, bias, &c, code(act), beta)
    } else {
        la_gemm(Int32(m), Int32(n), Int32(k), a, b, nil, &c, code(act), beta)
    }
}

/// Row-major (rows x cols) matrix product in Double, for building solver test data.
func matmul(_ a: [Double], _ b: [Double], _ rows: Int, _ inner: Int, _ cols: Int) -> [Double] {
    var c = [Double](repeating: 0, count: rows * cols)
    for i in 0..<rows { for p in 0..<inner { for j in 0..<cols { c[i * cols + j] += a[i * inner + p] * b[p * cols + j] } } }
    return c
}

/// Transpose of a row-major (rows x cols) matrix.
func transpose(_ a: [Double], _ rows: Int, _ cols: Int) -> [Double] {
    var t = [Double](repeating: 0, count: rows * cols)
    for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
    return t
}

// MARK: - GEMM

@Suite("la_gemm")
struct GemmTests {
    /// Every activation x {no bias, bias} x beta in {0, 1, -0.5} against the naive loop.
    @Test("matches naive triple loop (AVX2 epilogue and portable path)", arguments: gemmShapes, kernelPaths)
    func matchesNaive(shape: Shape, vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var rng = SplitMix64(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        let a = randomFloats(m * k, &rng)
        let b = randomFloats(k * n, &rng)
        let bias = randomFloats(n, &rng)
        let c0 = randomFloats(m * n, &rng)
        let prod = naiveProduct(m: m, n: n, k: k, { a[$0 * k + $1] }, { b[$0 * n + $1] })

        for act in allActivations {
            for useBias in [false, true] {
                for beta: Float in [0, 1, -0.5] {
                    // beta == 0 must ignore c's content: start from NaN garbage then.
                    var c = beta == 0 ? [Float](repeating: .nan, count: m * n) : c0
                    gemm(m, n, k, a, b, useBias ? bias : nil, &c, act, beta: beta)
                    var want = [Double](repeating: 0, count: m * n)
                    var scale = prod.scale
                    for i in 0..<m {
                        for j in 0..<n {
                            let idx = i * n + j
                            let bj = useBias ? Double(bias[j]) : 0
                            let cin = beta == 0 ? 0 : Double(beta) * Double(c0[idx])
                            want[idx] = reference(act, prod.value[idx] + bj + cin)
                            scale[idx] += abs(bj) + abs(cin) + abs(want[idx])
                        }
                    }
                    let bad = firstMismatch(c, want, scale: scale)
                    #expect(bad == nil, """
                        act=\(act.rawValue) bias=\(useBias) beta=\(beta) at \(bad ?? -1): \
                        got \(bad.map { c[$0] } ?? 0) want \(bad.map { want[$0] } ?? 0)
                        """)
                }
            }
        }
    }

    /// Activations over a wide input range (saturation, large |x|) through a 1x1 inner product.
    @Test("activations at extreme inputs", arguments: allActivations, kernelPaths)
    func activationExtremes(act: la_activation, vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        let xs: [Float] = [-100, -30, -10, -3, -1, -0.5, -1e-3, -1e-7, 0, 1e-7, 1e-3, 0.5, 1, 3, 10, 30, 100]
        var c = [Float](repeating: .nan, count: xs.count)
        gemm(1, xs.count, 1, [1], xs, nil, &c, act)
        let want = xs.map { reference(act, Double($0)) }
        #expect(c.allSatisfy { $0.isFinite })
        let bad = firstMismatch(c, want, scale: want.map { abs($0) }, rel: 2e-6, abs: 1e-7)
        #expect(bad == nil, "act=\(act.rawValue) x=\(bad.map { xs[$0] } ?? 0) got \(bad.map { c[$0] } ?? 0)")
    }

    /// Hand-checked bias broadcast: bias[j] is added to every row, before the activation.
    @Test func biasIsAddedPerColumnBeforeActivation() {
        let a: [Float] = [1, 2,
                          3, 4]
        let identity: [Float] = [1, 0,
                                 0, 1]
        var c = [Float](repeating: 0, count: 4)
        gemm(2, 2, 2, a, identity, [10, -3.5], &c, LA_ACT_NONE)
        #expect(c == [11, -1.5, 13, 0.5])
        gemm(2, 2, 2, a, identity, [10, -3.5], &c, LA_ACT_RELU)
        #expect(c == [11, 0, 13, 0.5])
        // beta = 1 accumulates into c before the activation: 11 + 11 - 30 < 0 -> relu gives 0.
        c = [11, 0, 13, 0.5]
        gemm(2, 2, 2, a, identity, [-30, 0], &c, LA_ACT_RELU, beta: 1)
        #expect(c == [0, 2, 0, 4.5])
    }

    /// k == 0: empty product, c = act(bias + beta c); a and b are never read.
    @Test func emptyInnerDimension() {
        var c: [Float] = [1, -2, 3, -4, 5, -6]
        gemm(2, 3, 0, [], [], [0.5, 0.5, 0.5], &c, LA_ACT_RELU, beta: 2)
        #expect(c == [2.5, 0, 6.5, 0, 10.5, 0])
        gemm(2, 3, 0, [], [], nil, &c, LA_ACT_NONE)
        #expect(c == [0, 0, 0, 0, 0, 0])
    }

    /// Negative sizes are a no-op; unknown activation codes act as LA_ACT_NONE.
    @Test func invalidArgumentsAndUnknownActivation() {
        var c: [Float] = [7, 7]
        la_gemm(-1, 2, 1, [1], [1, 1], nil, &c, code(LA_ACT_NONE), 0)
        #expect(c == [7, 7])
        la_gemm(1, 2, 1, [2], [1, -1], nil, &c, 99, 0)
        #expect(c == [2, -2])
    }
}

// MARK: - Transposed GEMM (backprop)

@Suite("la_gemm_tn / la_gemm_nt")
struct TransposedGemmTests {
    /// c = a^T b with a stored (k x m), overwrite and accumulate.
    @Test("tn matches naive", arguments: gemmShapes)
    func tn(shape: Shape) {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var rng = SplitMix64(seed: UInt64(7 + m * 31 + n * 17 + k))
        let a = randomFloats(k * m, &rng)  // stored (k x m)
        let b = randomFloats(k * n, &rng)
        let c0 = randomFloats(m * n, &rng)
        let prod = naiveProduct(m: m, n: n, k: k, { a[$1 * m + $0] }, { b[$0 * n + $1] })

        var c = [Float](repeating: .nan, count: m * n)
        la_gemm_tn(Int32(m), Int32(n), Int32(k), a, b, &c, 0)
        #expect(firstMismatch(c, prod.value, scale: prod.scale) == nil, "overwrite")

        c = c0
        la_gemm_tn(Int32(m), Int32(n), Int32(k), a, b, &c, 1)
        let want = zip(prod.value, c0).map { $0 + Double($1) }
        let scale = zip(prod.scale, c0).map { $0 + abs(Double($1)) }
        #expect(firstMismatch(c, want, scale: scale) == nil, "accumulate")
    }

    /// c = a b^T with b stored (n x k), overwrite and accumulate.
    @Test("nt matches naive", arguments: gemmShapes)
    func nt(shape: Shape) {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var rng = SplitMix64(seed: UInt64(11 + m * 13 + n * 29 + k))
        let a = randomFloats(m * k, &rng)
        let b = randomFloats(n * k, &rng)  // stored (n x k)
        let c0 = randomFloats(m * n, &rng)
        let prod = naiveProduct(m: m, n: n, k: k, { a[$0 * k + $1] }, { b[$1 * k + $0] })

        var c = [Float](repeating: .nan, count: m * n)
        la_gemm_nt(Int32(m), Int32(n), Int32(k), a, b, &c, 0)
        #expect(firstMismatch(c, prod.value, scale: prod.scale) == nil, "overwrite")

        c = c0
        la_gemm_nt(Int32(m), Int32(n), Int32(k), a, b, &c, 1)
        let want = zip(prod.value, c0).map { $0 + Double($1) }
        let scale = zip(prod.scale, c0).map { $0 + abs(Double($1)) }
        #expect(firstMismatch(c, want, scale: scale) == nil, "accumulate")
    }

    /// Backprop of Y = X W: dW = X^T dY accumulated over two mini-batches equals the gradient
    /// of the concatenated batch; dX = dY W^T.
    @Test func backpropOfDenseLayer() {
        let (batch, input, output) = (6, 5, 3)
        var rng = SplitMix64(seed: 42)
        let x = randomFloats(2 * batch * input, &rng)   // two mini-batches (2*batch x in)
        let dy = randomFloats(2 * batch * output, &rng) // (2*batch x out)
        let w = randomFloats(input * output, &rng)      // (in x out)

        var dwFull = [Float](repeating: 0, count: input * output)
        la_gemm_tn(Int32(input), Int32(output), Int32(2 * batch), x, dy, &dwFull, 0)
        var dwAcc = [Float](repeating: 0, count: input * output)
        let half = batch
        la_gemm_tn(Int32(input), Int32(output), Int32(half), Array(x[..<(half * input)]),
                   Array(dy[..<(half * output)]), &dwAcc, 0)
        la_gemm_tn(Int32(input), Int32(output), Int32(half), Array(x[(half * input)...]),
                   Array(dy[(half * output)...]), &dwAcc, 1)
        #expect(zip(dwFull, dwAcc).allSatisfy { abs($0 - $1) <= 1e-5 * (1 + abs($0)) })

        var dx = [Float](repeating: 0, count: 2 * batch * input)
        la_gemm_nt(Int32(2 * batch), Int32(input), Int32(output), dy, w, &dx, 0)
        let want = naiveProduct(m: 2 * batch, n: input, k: output,
                                { dy[$0 * output + $1] }, { w[$1 * output + $0] })
        #expect(firstMismatch(dx, want.value, scale: want.scale) == nil)
    }

    /// k == 0: overwrite gives zeros, accumulate leaves c unchanged.
    @Test func emptyInnerDimension() {
        var c: [Float] = [1, 2, 3]
        la_gemm_tn(1, 3, 0, [], [], &c, 1)
        #expect(c == [1, 2, 3])
        la_gemm_nt(3, 1, 0, [], [], &c, 1)
        #expect(c == [1, 2, 3])
        la_gemm_nt(3, 1, 0, [], [], &c, 0)
        #expect(c == [0, 0, 0])
    }
}

// MARK: - Batched GEMM

@Suite("la_gemm_batched")
struct BatchedGemmTests {
    static let shapes: [Shape] = [Shape(1, 1, 1), Shape(8, 1, 16), Shape(1, 8, 16), Shape(37, 53, 29)]

    /// Batched result is identical to a loop of single la_gemm calls (and close to naive).
    @Test("equals a loop of single GEMMs", arguments: shapes)
    func equalsLoop(shape: Shape) {
        let (m, n, k, batch) = (shape.m, shape.n, shape.k, 5)
        var rng = SplitMix64(seed: UInt64(99 + m + n + k))
        let a = randomFloats(batch * m * k, &rng)
        let b = randomFloats(batch * k * n, &rng)
        let bias = randomFloats(batch * n, &rng)

        for act in allActivations {
            for useBias in [false, true] {
                var batched = [Float](repeating: .nan, count: batch * m * n)
                if useBias {
                    la_gemm_batched(Int32(batch), Int32(m), Int32(n), Int32(k), a, b, bias, &batched, code(act))
                } else {
                    la_gemm_batched(Int32(batch), Int32(m), Int32(n), Int32(k), a, b, nil, &batched, code(act))
                }
                var looped = [Float]()
                for e in 0..<batch {
                    let ae = Array(a[(e * m * k)..<((e + 1) * m * k)])
                    let be = Array(b[(e * k * n)..<((e + 1) * k * n)])
                    let biasE = useBias ? Array(bias[(e * n)..<((e + 1) * n)]) : nil
                    var ce = [Float](repeating: .nan, count: m * n)
                    gemm(m, n, k, ae, be, biasE, &ce, act)
                    looped += ce

                    // Member e against the naive loop too.
                    let prod = naiveProduct(m: m, n: n, k: k, { ae[$0 * k + $1] }, { be[$0 * n + $1] })
                    var want = prod.value
                    for i in 0..<m { for j in 0..<n {
                        want[i * n + j] = reference(act, want[i * n + j] + (biasE.map { Double($0[j]) } ?? 0))
                    } }
                    let scale = zip(prod.scale, want).map { $0 + abs($1) + 1 }
                    #expect(firstMismatch(Array(batched[(e * m * n)..<((e + 1) * m * n)]), want, scale: scale) == nil,
                            "member \(e) act=\(act.rawValue) bias=\(useBias)")
                }
                #expect(batched == looped, "act=\(act.rawValue) bias=\(useBias)")
            }
        }
    }
}

// MARK: - GEMM with packed weights

@Suite("la_gemm_packed")
struct PackedGemmTests {
    /// Shapes around the kernel's 6-row tiles and 16-column panels (partial panels of 1, 8, 9 and 15
    /// columns, 1–5 leftover rows, blocks past 96 rows) and the planner's layer shapes.
    static let shapes: [Shape] = gemmShapes + [
        Shape(6, 16, 3), Shape(12, 32, 35), Shape(13, 17, 8), Shape(101, 24, 40), Shape(97, 54, 200),
        Shape(200, 200, 200), Shape(5, 9, 35),
    ]

    /// Every activation × {bias, no bias} against the naive loop in Double; the packed layout is as documented.
    @Test("matches naive triple loop (AVX2 kernel and portable path)", arguments: shapes, kernelPaths)
    func matchesNaive(shape: Shape, vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var rng = SplitMix64(seed: UInt64(7 + m * 31 + n * 7 + k))
        let a = randomFloats(m * k, &rng)
        let b = randomFloats(k * n, &rng)
        let bias = randomFloats(n, &rng)
        let size = la_packed_size(Int32(k), Int32(n))
        #expect(size == k * 16 * ((n + 15) / 16))
        var packed = [Float](repeating: .nan, count: size)
        la_pack_b(Int32(k), Int32(n), b, &packed)
        // panel q, row p, column j: b[p][16q + j], zero past n
        for q in 0..<((n + 15) / 16) { for p in 0..<k { for j in 0..<16 {
            let want: Float = 16 * q + j < n ? b[p * n + 16 * q + j] : 0
            if packed[(q * k + p) * 16 + j] != want { Issue.record("packed[\(q),\(p),\(j)]"); return }
        } } }
        let prod = naiveProduct(m: m, n: n, k: k, { a[$0 * k + $1] }, { b[$0 * n + $1] })
        for act in allActivations {
            for useBias in [false, true] {
                var c = [Float](repeating: .nan, count: m * n + 3)  // 3 guard entries past the end
                if useBias {
                    la_gemm_packed(Int32(m), Int32(n), Int32(k), a, packed, bias, &c, code(act))
                } else {
                    la_gemm_packed(Int32(m), Int32(n), Int32(k), a, packed, nil, &c, code(act))
                }
                var want = prod.value, scale = prod.scale
                for i in 0..<m { for j in 0..<n {
                    let bj = useBias ? Double(bias[j]) : 0
                    want[i * n + j] = reference(act, prod.value[i * n + j] + bj)
                    scale[i * n + j] += abs(bj) + abs(want[i * n + j])
                } }
                let bad = firstMismatch(Array(c[0..<(m * n)]), want, scale: scale)
                #expect(bad == nil, "act=\(act.rawValue) bias=\(useBias) at \(bad ?? -1): got \(bad.map { c[$0] } ?? 0) want \(bad.map { want[$0] } ?? 0)")
                let guardIntact = c[(m * n)...].allSatisfy { $0.isNaN }
                #expect(guardIntact, "wrote past the output")
            }
        }
    }

    /// The batched form equals one call per member, and agrees with la_gemm_batched.
    @Test func batchedEqualsLoop() {
        let (batch, m, n, k) = (5, 37, 54, 29)
        var rng = SplitMix64(seed: 5)
        let a = randomFloats(batch * m * k, &rng), b = randomFloats(batch * k * n, &rng), bias = randomFloats(batch * n, &rng)
        let size = la_packed_size(Int32(k), Int32(n))
        var packed = [Float](repeating: 0, count: batch * size)
        packed.withUnsafeMutableBufferPointer { p in
            for e in 0..<batch { la_pack_b(Int32(k), Int32(n), Array(b[(e * k * n)..<((e + 1) * k * n)]), p.baseAddress! + e * size) }
        }
        var batched = [Float](repeating: .nan, count: batch * m * n)
        la_gemm_packed_batched(Int32(batch), Int32(m), Int32(n), Int32(k), a, packed, bias, &batched, code(LA_ACT_SILU))
        var reference = [Float](repeating: .nan, count: batch * m * n)
        la_gemm_batched(Int32(batch), Int32(m), Int32(n), Int32(k), a, b, bias, &reference, code(LA_ACT_SILU))
        for e in 0..<batch {
            var one = [Float](repeating: .nan, count: m * n)
            la_gemm_packed(Int32(m), Int32(n), Int32(k), Array(a[(e * m * k)..<((e + 1) * m * k)]),
                           Array(packed[(e * size)..<((e + 1) * size)]), Array(bias[(e * n)..<((e + 1) * n)]), &one, code(LA_ACT_SILU))
            #expect(Array(batched[(e * m * n)..<((e + 1) * m * n)]) == one, "member \(e)")
        }
        let worst = zip(batched, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5, "packed vs la_gemm_batched: \(worst)")
    }
}

// MARK: - Box–Muller

@Suite("la_box_muller")
struct BoxMullerTests {
    /// The documented transform of the words, evaluated in Double, to 2e-6 (the vector log and sincos);
    /// words that hit u1 = 1 (r = 0), u1 = 2^-24 (the largest radius) and every quarter turn included.
    @Test(arguments: kernelPaths)
    func matchesTheTransformInDouble(vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        var rng = SplitMix64(seed: 11)
        var words = (0..<4096).map { _ in rng.next() }
        words += [UInt64(0xFFFFFF) << 40, 0, UInt64(0x400000) << 16, UInt64(0x800000) << 16, UInt64(0xC00000) << 16, UInt64(0xFFFFFF) << 16]
        var out = [Float](repeating: .nan, count: 2 * words.count)
        la_box_muller(words.count, words, &out)
        var worst = 0.0
        for (i, w) in words.enumerated() {
            let u1 = Double((w >> 40) + 1) / 16_777_216, u2 = Double((w >> 16) & 0xFFFFFF) / 16_777_216
            let r = (-2 * log(u1)).squareRoot()
            worst = max(worst, abs(Double(out[2 * i]) - r * cos(2 * .pi * u2)), abs(Double(out[2 * i + 1]) - r * sin(2 * .pi * u2)))
        }
        #expect(worst < 2e-6, "largest error \(worst)")
    }

    /// 200,000 samples have the moments of N(0, 1): mean, variance, skewness and kurtosis within 5 standard errors.
    @Test(arguments: kernelPaths)
    func momentsAreStandardNormal(vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        var rng = SplitMix64(seed: 12)
        let words = (0..<100_000).map { _ in rng.next() }
        var z = [Float](repeating: 0, count: 200_000)
        la_box_muller(words.count, words, &z)
        let n = Double(z.count)
        let mean = z.reduce(0.0) { $0 + Double($1) } / n
        let m2 = z.reduce(0.0) { $0 + pow(Double($1) - mean, 2) } / n
        let m3 = z.reduce(0.0) { $0 + pow(Double($1) - mean, 3) } / n
        let m4 = z.reduce(0.0) { $0 + pow(Double($1) - mean, 4) } / n
        #expect(abs(mean) < 5 / n.squareRoot())
        #expect(abs(m2 - 1) < 5 * (2 / n).squareRoot())
        #expect(abs(m3) < 5 * (6 / n).squareRoot())
        #expect(abs(m4 - 3) < 5 * (24 / n).squareRoot())
    }
}

// MARK: - SPD solve

@Suite("la_solve_spd")
struct SolveSPDTests {
    /// [[4,1],[1,3]] x = [1,2] has x = [1/11, 7/11].
    @Test func knownTwoByTwo() {
        var x = [Double](repeating: 0, count: 2)
        let status = la_solve_spd(2, 1, [4, 1, 1, 3], [1, 2], &x)
        #expect(status == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [1.0 / 11, 7.0 / 11], tol: 1e-14) == nil, "\(x)")
    }

    /// Two right-hand sides (n x nrhs row-major); only the lower triangle is read.
    @Test func multipleRightHandSidesLowerTriangleOnly() {
        // A = [[2,-1,0],[-1,2,-1],[0,-1,2]]; the strict upper triangle is NaN garbage.
        let a: [Double] = [2, .nan, .nan,
                           -1, 2, .nan,
                           0, -1, 2]
        // Columns: A [1,2,3]^T = [0,0,4]^T and A [1,1,1]^T = [1,0,1]^T.
        let b: [Double] = [0, 1,
                           0, 0,
                           4, 1]
        var x = [Double](repeating: 0, count: 6)
        #expect(la_solve_spd(3, 2, a, b, &x) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [1, 1, 2, 1, 3, 1], tol: 1e-13) == nil, "\(x)")
    }

    /// Random well-conditioned SPD system: residual check, and x == b (in place) gives the same.
    @Test func randomSystemAndInPlace() {
        let (n, nrhs) = (40, 3)
        var rng = SplitMix64(seed: 2024)
        let mm = randomDoubles(n * n, &rng)
        var a = matmul(transpose(mm, n, n), mm, n, n, n)
        for i in 0..<n { a[i * n + i] += Double(n) }
        let b = randomDoubles(n * nrhs, &rng)

        var x = [Double](repeating: 0, count: n * nrhs)
        #expect(la_solve_spd(Int32(n), Int32(nrhs), a, b, &x) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(matmul(a, x, n, n, nrhs), b, tol: 1e-11) == nil)

        var inPlace = b
        let status = inPlace.withUnsafeMutableBufferPointer { p in
            la_solve_spd(Int32(n), Int32(nrhs), a, p.baseAddress!, p.baseAddress!)
        }
        #expect(status == Int32(LA_OK.rawValue))
        #expect(firstMismatch(inPlace, x, tol: 1e-13) == nil)
    }

    /// Indefinite, negative definite, singular, semidefinite and zero matrices are rejected
    /// with LA_ERR_NOT_SPD and x is left untouched.
    @Test(arguments: [
        ("indefinite", [1.0, 2, 2, 1]),
        ("negative definite", [-1.0, 0, 0, -1]),
        ("singular", [1.0, 1, 1, 1]),
        ("semidefinite", [1.0, 0, 0, 0]),
        ("zero", [0.0, 0, 0, 0]),
        ("nearly singular", [1.0, 1, 1, 1.0000000000000002]),  // det = 2.2e-16
    ])
    func rejectsNonSPD(name: String, a: [Double]) {
        var x: [Double] = [-7, -7]
        let status = la_solve_spd(2, 1, a, [1, 1], &x)
        #expect(status == Int32(LA_ERR_NOT_SPD.rawValue), "\(name)")
        #expect(x == [-7, -7], "\(name): x modified")
    }

    /// Argument errors, empty systems and non-finite input.
    @Test func argumentsAndNonFinite() {
        var x: [Double] = [0, 0]
        #expect(la_solve_spd(-1, 1, [1], [1], &x) == Int32(LA_ERR_ARG.rawValue))
        #expect(la_solve_spd(0, 1, [], [], &x) == Int32(LA_OK.rawValue))
        x = [-7, -7]
        #expect(la_solve_spd(2, 1, [2, 0, 0, 2], [.infinity, 1], &x) == Int32(LA_ERR_NONFINITE.rawValue))
        #expect(la_solve_spd(2, 1, [1, 0, .nan, 1], [1, 1], &x) == Int32(LA_ERR_NONFINITE.rawValue))
        #expect(x == [-7, -7], "x modified")
        // NaN in the (unread) strict upper triangle is fine.
        #expect(la_solve_spd(2, 1, [2, .nan, 0, 2], [1, 1], &x) == Int32(LA_OK.rawValue))
        #expect(x == [0.5, 0.5])
    }
}

// MARK: - Least squares

@Suite("la_lstsq")
struct LeastSquaresTests {
    /// Exact line fit y = 2 t + 1 on 10 points: regressors [t, 1].
    @Test func exactLineFit() {
        let ts = (0..<10).map(Double.init)
        let a = ts.flatMap { t -> [Double] in [t, 1] }
        let b = ts.map { 2 * $0 + 1 }
        var x = [Double](repeating: 0, count: 2)
        #expect(la_lstsq(10, 2, 1, a, b, &x, nil) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [2, 1], tol: 1e-12) == nil, "\(x)")
    }

    /// Inconsistent overdetermined system with known solution [1/3, 1/3] and singular values
    /// [sqrt(3), 1] (A^T A = [[2,1],[1,2]]).
    @Test func overdeterminedWithResidualAndSingularValues() {
        let a: [Double] = [1, 0,
                           0, 1,
                           1, 1]
        var x = [Double](repeating: 0, count: 2)
        var sv = [Double](repeating: -1, count: 2)
        #expect(la_lstsq(3, 2, 1, a, [1, 1, 0], &x, &sv) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [1.0 / 3, 1.0 / 3], tol: 1e-14) == nil, "\(x)")
        #expect(firstMismatch(sv, [sqrt(3.0), 1], tol: 1e-14) == nil, "\(sv)")

        // x may alias b: the solution lands in the leading n entries of the buffer.
        var buf: [Double] = [1, 1, 0]
        let status = buf.withUnsafeMutableBufferPointer { p in
            la_lstsq(3, 2, 1, a, p.baseAddress!, p.baseAddress!, nil)
        }
        #expect(status == Int32(LA_OK.rawValue))
        #expect(firstMismatch(Array(buf[..<2]), [1.0 / 3, 1.0 / 3], tol: 1e-14) == nil)
    }

    /// Rank-deficient: all rows [1, 1]; minimum-norm solution [1, 1]; singular values [sqrt 6, 0].
    @Test func rankDeficientGivesMinimumNorm() {
        var x = [Double](repeating: 0, count: 2)
        var sv = [Double](repeating: -1, count: 2)
        #expect(la_lstsq(3, 2, 1, [1, 1, 1, 1, 1, 1], [2, 2, 2], &x, &sv) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [1, 1], tol: 1e-12) == nil, "\(x)")
        #expect(abs(sv[0] - sqrt(6.0)) < 1e-12 && abs(sv[1]) < 1e-12, "\(sv)")
    }

    /// Underdetermined: [1 2 3] x = 14 has minimum-norm solution [1, 2, 3].
    @Test func underdeterminedGivesMinimumNorm() {
        var x = [Double](repeating: 0, count: 3)
        var sv: [Double] = [-1]
        #expect(la_lstsq(1, 3, 1, [1, 2, 3], [14], &x, &sv) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, [1, 2, 3], tol: 1e-13) == nil, "\(x)")
        #expect(abs(sv[0] - sqrt(14.0)) < 1e-13)
    }

    /// Random full-rank 30x5 with 3 right-hand sides: agrees with the normal equations solved by
    /// la_solve_spd, and the residual is orthogonal to the columns of A.
    @Test func agreesWithNormalEquations() {
        let (m, n, nrhs) = (30, 5, 3)
        var rng = SplitMix64(seed: 7)
        let a = randomDoubles(m * n, &rng)
        let b = randomDoubles(m * nrhs, &rng)
        var x = [Double](repeating: 0, count: n * nrhs)
        var sv = [Double](repeating: 0, count: n)
        #expect(la_lstsq(Int32(m), Int32(n), Int32(nrhs), a, b, &x, &sv) == Int32(LA_OK.rawValue))
        #expect(zip(sv, sv.dropFirst()).allSatisfy { $0 >= $1 } && sv.last! > 0, "\(sv)")

        let at = transpose(a, m, n)
        var xNormal = [Double](repeating: 0, count: n * nrhs)
        #expect(la_solve_spd(Int32(n), Int32(nrhs), matmul(at, a, n, m, n), matmul(at, b, n, m, nrhs),
                             &xNormal) == Int32(LA_OK.rawValue))
        #expect(firstMismatch(x, xNormal, tol: 1e-10) == nil)

        let residual = zip(matmul(a, x, m, n, nrhs), b).map { $0 - $1 }
        let orth = matmul(at, residual, n, m, nrhs)
        #expect(orth.allSatisfy { abs($0) < 1e-12 }, "\(orth)")
    }

    /// Argument errors, empty problems and non-finite input (x and sv untouched).
    @Test func argumentsEmptyAndNonFinite() {
        var x: [Double] = [5, 5]
        var sv: [Double] = [-1]
        #expect(la_lstsq(-1, 2, 1, [], [], &x, nil) == Int32(LA_ERR_ARG.rawValue))
        #expect(la_lstsq(0, 2, 1, [], [], &x, nil) == Int32(LA_OK.rawValue))
        #expect(x == [0, 0])
        x = [5, 5]
        #expect(la_lstsq(1, 2, 1, [1, .nan], [1], &x, &sv) == Int32(LA_ERR_NONFINITE.rawValue))
        #expect(la_lstsq(1, 2, 1, [1, 1], [.infinity], &x, &sv) == Int32(LA_ERR_NONFINITE.rawValue))
        #expect(x == [5, 5] && sv == [-1])
    }
}

// MARK: - Build info

@Test("la_set_vector_kernels switches this thread's dispatch and la_vector_kernels reports it")
func vectorKernelSwitch() {
    let initial = la_vector_kernels()
    la_set_vector_kernels(0)
    #expect(la_vector_kernels() == 0)
    la_set_vector_kernels(1)
    #expect(la_vector_kernels() == initial)
}

@Test func buildInfoNamesEigenAndSIMD() {
    let info = String(cString: la_build_info())
    #expect(info.hasPrefix("Eigen 3."))
    #expect(info.contains("SIMD: "))
    #expect(la_build_info() == la_build_info())  // static string
}

// MARK: - Ensemble sampling epilogue

@Suite("la_gaussian_step")
struct GaussianStepTests {
    /// s = 5 is all tail, 8 no tail, 13 and 27 (the Ant-like state) both; 37 rows leave a partial block of 5
    /// rows for the staged tails.
    @Test("matches the soft-bounded Gaussian step in Double, with and without noise, across the bound range",
          arguments: [5, 8, 13, 27], kernelPaths)
    func matchesReference(s: Int, vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        let rows = 37
        var seed: UInt64 = 12345
        func uniform(_ lo: Double, _ hi: Double) -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(lo + (hi - lo) * Double(seed >> 11) * 0x1.0p-53)
        }
        // raw log-variances from far below the lower bound to far above the upper one
        let head = (0..<(rows * 2 * s)).map { i in (i % (2 * s)) < s ? uniform(-3, 3) : uniform(-30, 15) }
        let states = (0..<(rows * s)).map { _ in uniform(-2, 2) }
        let tm = (0..<s).map { _ in uniform(-0.5, 0.5) }, ts = (0..<s).map { _ in uniform(0.1, 2) }
        let hi = (0..<s).map { _ in uniform(0, 1) }, lo = (0..<s).map { _ in uniform(-12, -8) }
        let noise = (0..<(rows * s)).map { _ in uniform(-3, 3) }
        func softplus(_ x: Double) -> Double { max(x, 0) + log(1 + exp(-abs(x))) }
        for withNoise in [false, true] {
            var out = [Float](repeating: .nan, count: rows * s)
            noise.withUnsafeBufferPointer { z in
                la_gaussian_step(Int32(rows), Int32(s), head, states, tm, ts, hi, lo, withNoise ? z.baseAddress : nil, &out)
            }
            for i in 0..<rows {
                for d in 0..<s {
                    let mu = Double(head[i * 2 * s + d]), raw = Double(head[i * 2 * s + s + d])
                    var expected = Double(states[i * s + d]) + mu * Double(ts[d]) + Double(tm[d])
                    if withNoise {
                        let upper = Double(hi[d]) - softplus(Double(hi[d]) - raw)
                        let logVar = Double(lo[d]) + softplus(upper - Double(lo[d]))
                        expected += exp(0.5 * logVar) * Double(ts[d]) * Double(noise[i * s + d])
                    }
                    #expect(abs(Double(out[i * s + d]) - expected) < 2e-5 * max(1, abs(expected)), "row \(i) dim \(d) noise \(withNoise)")
                }
            }
            // in place (`next` aliasing `states`) gives the same result
            var inPlace = states
            noise.withUnsafeBufferPointer { z in
                inPlace.withUnsafeMutableBufferPointer { x in
                    la_gaussian_step(Int32(rows), Int32(s), head, x.baseAddress!, tm, ts, hi, lo, withNoise ? z.baseAddress : nil, x.baseAddress!)
                }
            }
            #expect(inPlace == out)
        }
    }
}

// MARK: - Ensemble training loss

@Suite("la_gaussian_nll")
struct GaussianNLLTests {
    /// d = 5 (narrower than a vector), 8, 27 (the Ant-like state); 37 rows leave a partial block of 5 rows;
    /// raw log-variances far past both bounds.
    @Test("sums, head gradients and bound gradients match the soft-bounded NLL in Double", arguments: [5, 8, 27], kernelPaths)
    func matchesReference(d: Int, vector: Bool) {
        la_set_vector_kernels(vector ? 1 : 0)
        defer { la_set_vector_kernels(1) }
        let members = 3, batch = 37
        var seed: UInt64 = 99 + UInt64(d)
        func uniform(_ lo: Double, _ hi: Double) -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(lo + (hi - lo) * Double(seed >> 11) * 0x1.0p-53)
        }
        let head = (0..<(members * batch * 2 * d)).map { i in (i % (2 * d)) < d ? uniform(-3, 3) : uniform(-30, 15) }
        let target = (0..<(members * batch * d)).map { _ in uniform(-3, 3) }
        let hi = (0..<d).map { _ in uniform(0, 1) }, lo = (0..<d).map { _ in uniform(-12, -8) }
        var grad = [Float](repeating: .nan, count: head.count), sums = [Double](repeating: .nan, count: members)
        var gMax = [Double](repeating: 1, count: d), gMin = [Double](repeating: -1, count: d)  // accumulated onto
        la_gaussian_nll(Int32(members), Int32(batch), Int32(d), head, target, hi, lo, &grad, &sums, &gMax, &gMin)
        func softplus(_ x: Double) -> Double { max(x, 0) + log(1 + exp(-abs(x))) }
        func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let scale = 1 / Double(batch * d)
        var wantMax = [Double](repeating: 1, count: d), wantMin = [Double](repeating: -1, count: d)
        var sumAbsDS = [Double](repeating: 0, count: d)  // 1 − σ in float is exact only to ~6e-8 absolute
        for e in 0..<members {
            var sum = 0.0
            for b in 0..<batch {
                let row = e * batch + b
                for j in 0..<d {
                    let mu = Double(head[row * 2 * d + j]), r = Double(head[row * 2 * d + d + j])
                    let u = Double(hi[j]) - r, v = Double(hi[j]) - softplus(u) - Double(lo[j])
                    let s = Double(lo[j]) + softplus(v)
                    let diff = mu - Double(target[row * d + j])
                    let d2iv = diff * diff * exp(-s)
                    sum += d2iv + s
                    let dS = (1 - d2iv) * scale
                    let gMu = 2 * diff * exp(-s) * scale, gRaw = dS * logistic(v) * logistic(u)
                    #expect(abs(Double(grad[row * 2 * d + j]) - gMu) <= 1e-5 * max(abs(gMu), scale), "mean grad \(e) \(b) \(j)")
                    #expect(abs(Double(grad[row * 2 * d + d + j]) - gRaw) <= 1e-5 * max(abs(gRaw), scale), "raw grad \(e) \(b) \(j)")
                    wantMax[j] += dS * logistic(v) * (1 - logistic(u))
                    sumAbsDS[j] += abs(dS)
                    wantMin[j] += dS * (1 - logistic(v))
                }
            }
            #expect(abs(sums[e] - sum) <= 1e-5 * abs(sum), "member \(e): \(sums[e]) vs \(sum)")
        }
        for j in 0..<d {
            let tol = 1e-5 * max(1, abs(wantMax[j])) + 1e-6 * sumAbsDS[j]
            #expect(abs(gMax[j] - wantMax[j]) <= tol, "max bound \(j)")
            #expect(abs(gMin[j] - wantMin[j]) <= 1e-5 * max(1, abs(wantMin[j])) + 1e-6 * sumAbsDS[j], "min bound \(j)")
        }
    }
}

@Suite("la_symmetric_eigen")
struct SymmetricEigenTests {
    /// A = Q diag(λ) Qᵀ with a known orthogonal Q: the eigenvalues come back in increasing order and every
    /// column satisfies A v = λ v with |v| = 1; only the lower triangle is read; bad input is refused.
    @Test func recoversAKnownSpectrum() {
        let n = 5
        // Q from Gram–Schmidt on a fixed matrix
        var q = (0..<(n * n)).map { k in sin(Double(k * k) * 0.37 + 0.1) }
        for c in 0..<n {
            for p in 0..<c {
                let dot = (0..<n).reduce(0.0) { $0 + q[$1 * n + c] * q[$1 * n + p] }
                for r in 0..<n { q[r * n + c] -= dot * q[r * n + p] }
            }
            let norm = (0..<n).reduce(0.0) { $0 + q[$1 * n + c] * q[$1 * n + c] }.squareRoot()
            for r in 0..<n { q[r * n + c] /= norm }
        }
        let lambda = [3.0, -1.0, 0.0, 7.5, 1e-9]
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += q[i * n + k] * lambda[k] * q[j * n + k] } } }
        for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = .nan } }  // the upper triangle is not read
        var values = [Double](repeating: 0, count: n), vectors = [Double](repeating: 0, count: n * n)
        #expect(la_symmetric_eigen(Int32(n), a, &values, &vectors) == 0)
        for (v, l) in zip(values, lambda.sorted()) { #expect(abs(v - l) < 1e-12) }
        for k in 0..<n {
            var norm = 0.0
            for i in 0..<n {
                var av = 0.0
                for j in 0..<n { av += (j <= i ? a[i * n + j] : a[j * n + i]) * vectors[j * n + k] }
                #expect(abs(av - values[k] * vectors[i * n + k]) < 1e-12)
                norm += vectors[i * n + k] * vectors[i * n + k]
            }
            #expect(abs(norm - 1) < 1e-12)
        }
        var bad = a
        bad[n] = .infinity
        #expect(la_symmetric_eigen(Int32(n), bad, &values, &vectors) == Int32(LA_ERR_NONFINITE.rawValue))
        #expect(la_symmetric_eigen(-1, a, &values, &vectors) == Int32(LA_ERR_ARG.rawValue))
    }
}
