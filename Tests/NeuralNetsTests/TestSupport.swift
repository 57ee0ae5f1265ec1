// Shared helpers for the NeuralNets tests: Double-precision reference implementations of the
// layers (the finite differences are taken on these, in Double) and a gradient comparer.

import ControlCore
import Foundation
import NeuralNets
import Testing

/// Uniform floats in [lo, hi) from `rng`.
func randomFloats(_ n: Int, _ rng: inout SeededRNG, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.uniform(lo, hi)) }
}

/// A random matrix with entries in [lo, hi).
func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout SeededRNG, _ lo: Double = -1, _ hi: Double = 1) -> Matrix {
    Matrix(rows: rows, cols: cols, storage: randomFloats(rows * cols, &rng, lo, hi))
}

/// σ(z) in Double (the reference for `Activation`).
func refActivation(_ a: Activation, _ z: Double) -> Double {
    switch a {
    case .identity: z
    case .relu: max(z, 0)
    case .tanh: tanh(z)
    case .silu: z / (1 + exp(-z))
    case .elu: z > 0 ? z : expm1(z)
    }
}

/// y = σ(x·W + b) in Double; x (B × in), w (in × out), b (out), all row-major.
func refLinear(_ x: [Double], _ w: [Double], _ b: [Double], batch: Int, inSize: Int, outSize: Int,
               _ act: Activation) -> [Double] {
    var y = [Double](repeating: 0, count: batch * outSize)
    for i in 0..<batch {
        for j in 0..<outSize {
            var s = b[j]
            for p in 0..<inSize { s += x[i * inSize + p] * w[p * outSize + j] }
            y[i * outSize + j] = refActivation(act, s)
        }
    }
    return y
}

/// An MLP forward in Double over a flat parameter vector in the module's visiting order
/// (w0, b0, w1, b1, …).
func refMLP(_ x: [Double], params: [Double], widths: [Int], activations: [Activation], batch: Int) -> [Double] {
    var h = x
    var offset = 0
    for l in 0..<(widths.count - 1) {
        let (i, o) = (widths[l], widths[l + 1])
        let w = Array(params[offset..<offset + i * o]); offset += i * o
        let b = Array(params[offset..<offset + o]); offset += o
        h = refLinear(h, w, b, batch: batch, inSize: i, outSize: o, activations[l])
    }
    return h
}

/// Σ r·y in Double: the scalar objective the layer gradient checks differentiate (dL/dy = r).
func dot(_ r: [Float], _ y: [Double]) -> Double {
    zip(r, y).reduce(0) { $0 + Double($1.0) * $1.1 }
}

/// Central finite differences of `f` at `x` (Double) with step `h`.
func finiteDifferences(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
    var xs = x
    return (0..<x.count).map { i in
        let x0 = xs[i]
        xs[i] = x0 + h; let fp = f(xs)
        xs[i] = x0 - h; let fm = f(xs)
        xs[i] = x0
        return (fp - fm) / (2 * h)
    }
}

/// Expects `analytic` ≈ `numeric` entry-wise: |a − n| ≤ atol + rtol·|n|, with
/// atol = atolScale · max(1, max|n|).
func expectGradientsClose(_ analytic: [Float], _ numeric: [Double], rtol: Double = 2e-3, atolScale: Double = 1e-4,
                          _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.count == numeric.count, "\(what): sizes differ", sourceLocation: sourceLocation)
    let scale = max(1, numeric.map(abs).max() ?? 0)
    let atol = atolScale * scale
    var worst = 0.0, worstIndex = -1
    for (i, (a, n)) in zip(analytic, numeric).enumerated() {
        let excess = abs(Double(a) - n) - (atol + rtol * abs(n))
        if excess > worst { worst = excess; worstIndex = i }
    }
    #expect(worstIndex < 0,
            "\(what): entry \(worstIndex) analytic \(worstIndex >= 0 ? Double(analytic[worstIndex]) : 0) vs numeric \(worstIndex >= 0 ? numeric[worstIndex] : 0)",
            sourceLocation: sourceLocation)
}

/// All parameter values of a model, flattened in visiting order, as Double.
func flatValues(_ model: some Trainable) -> [Double] {
    model.parameters.flatMap { $0.value.map(Double.init) }
}

/// All parameter gradients of a model, flattened in visiting order.
func flatGrads(_ model: some Trainable) -> [Float] {
    model.parameters.flatMap(\.grad)
}
