// Adam checks: a reference update in Double (L2, decoupled decay, clipping), convergence on
// a quadratic.

import ControlCore
import Foundation
import NeuralNets
import Testing

/// Three parameters with different decay settings.
private struct Toy: Trainable {
    var a = Parameter(name: "a", shape: [3], value: [1, -2, 0.5])
    var b = Parameter(name: "b", shape: [2], value: [0.3, 4], weightDecay: .l2(0.1))
    var c = Parameter(name: "c", shape: [2], value: [-1, 2], weightDecay: .decoupled(0.2))
    mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try body(&a); try body(&b); try body(&c)
    }
}

@Suite("Adam")
struct AdamTests {
    @Test("Matches a Double reference of PyTorch's Adam/AdamW with L2, decoupled decay and clipping",
          arguments: [nil, Float(1.0)])
    func matchesReference(_ maxNorm: Float?) {
        var toy = Toy()
        var adam = Adam(learningRate: 0.01, maxGradientNorm: maxNorm)
        var theta = toy.parameters.map { $0.value.map(Double.init) }
        let decays: [(l2: Double, dec: Double)] = [(0, 0), (0.1, 0), (0, 0.2)]
        var m = theta.map { $0.map { _ in 0.0 } }, v = m
        var rng = SeededRNG(seed: 60)
        for t in 1...6 {
            let grads = toy.parameters.map { p in randomFloats(p.count, &rng, -3, 3) }
            toy.a.grad = grads[0]; toy.b.grad = grads[1]; toy.c.grad = grads[2]
            let norm = grads.flatMap { $0 }.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let clip = maxNorm.map { norm > Double($0) ? Double($0) / (norm + 1e-6) : 1 } ?? 1
            let reported = adam.step(&toy)
            if maxNorm == nil {
                #expect(reported == nil)
            } else {
                #expect(abs(Double(reported ?? .nan) - norm) < 1e-5 * norm)
            }
            for k in 0..<3 {
                for i in theta[k].indices {
                    let g = clip * Double(grads[k][i]) + decays[k].l2 * theta[k][i]
                    theta[k][i] *= 1 - 0.01 * decays[k].dec
                    m[k][i] = 0.9 * m[k][i] + 0.1 * g
                    v[k][i] = 0.999 * v[k][i] + 0.001 * g * g
                    let mhat = m[k][i] / (1 - pow(0.9, Double(t)))
                    let denom = (v[k][i] / (1 - pow(0.999, Double(t)))).squareRoot() + 1e-8
                    theta[k][i] -= 0.01 * mhat / denom
                }
            }
        }
        let got = toy.parameters.map(\.value)
        for k in 0..<3 {
            for i in theta[k].indices {
                #expect(abs(Double(got[k][i]) - theta[k][i]) < 1e-5, "parameter \(k)[\(i)]")
            }
        }
        #expect(adam.stepCount == 6)
    }

    @Test("Minimizes a quadratic")
    func minimizesQuadratic() {
        // f(x) = Σ w_i (x_i − c_i)², gradient 2 w_i (x_i − c_i).
        struct Quad: Trainable {
            var x = Parameter(name: "x", shape: [4], value: [3, -2, 0, 5])
            mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows { try body(&x) }
        }
        let c: [Float] = [1, 2, -3, 0.5], w: [Float] = [1, 10, 0.1, 3]
        var q = Quad()
        var adam = Adam(learningRate: 0.05)
        for _ in 0..<1500 {
            q.zeroGrad()
            for i in 0..<4 { q.x.grad[i] = 2 * w[i] * (q.x.value[i] - c[i]) }
            adam.step(&q)
        }
        for i in 0..<4 { #expect(abs(q.x.value[i] - c[i]) < 1e-3, "x[\(i)] = \(q.x.value[i])") }
    }
}
