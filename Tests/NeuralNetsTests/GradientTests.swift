// Gradient checks of the layers against central finite differences taken in Double on
// reference implementations (TestSupport.swift), plus finite differences of the Float
// implementation itself (step 1e-3, relative tolerance 1e-2) for every activation.

import ControlCore
import Foundation
import NeuralNets
import Testing

@Suite("Gradients")
struct GradientTests {
    @Test("Linear: dW, db, dx match finite differences (Double reference)", arguments: Activation.allCases)
    func linearMatchesFiniteDifferences(_ act: Activation) {
        var rng = SeededRNG(seed: 10 + UInt64(act.rawValue))
        let (b, i, o) = (5, 4, 3)
        var layer = Linear(inputSize: i, outputSize: o, activation: act, rng: &rng)
        layer.bias.value = randomFloats(o, &rng, -0.5, 0.5)
        let x = randomMatrix(b, i, &rng)
        let r = randomMatrix(b, o, &rng)

        let y = layer.forward(x)
        let dx = layer.backward(r)

        // The Float forward agrees with the Double reference.
        let theta = flatValues(layer)
        let xd = x.storage.map(Double.init)
        let yRef = refMLP(xd, params: theta, widths: [i, o], activations: [act], batch: b)
        #expect(zip(y.storage, yRef).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(1, abs($1)) })

        let fdParams = finiteDifferences(theta) { t in
            dot(r.storage, refMLP(xd, params: t, widths: [i, o], activations: [act], batch: b))
        }
        expectGradientsClose(flatGrads(layer), fdParams, "Linear(\(act)) parameters")
        let fdInput = finiteDifferences(xd) { xs in
            dot(r.storage, refMLP(xs, params: theta, widths: [i, o], activations: [act], batch: b))
        }
        expectGradientsClose(dx.storage, fdInput, "Linear(\(act)) input")
    }

    @Test("Linear: gradients match finite differences of the Float implementation", arguments: Activation.allCases)
    func linearMatchesFloatFiniteDifferences(_ act: Activation) {
        var rng = SeededRNG(seed: 20 + UInt64(act.rawValue))
        let (b, i, o) = (4, 3, 3)
        var layer = Linear(inputSize: i, outputSize: o, activation: act, rng: &rng)
        layer.bias.value = randomFloats(o, &rng, -0.5, 0.5)
        let x = randomMatrix(b, i, &rng)
        let r = randomMatrix(b, o, &rng)
        _ = layer.forward(x)
        layer.backward(r)
        let analytic = layer.weight.grad + layer.bias.grad

        let h: Float = 1e-3
        var numeric: [Double] = []
        for which in 0..<2 {
            let n = which == 0 ? layer.weight.count : layer.bias.count
            for k in 0..<n {
                var plus = layer, minus = layer
                if which == 0 { plus.weight.value[k] += h; minus.weight.value[k] -= h } else { plus.bias.value[k] += h; minus.bias.value[k] -= h }
                let fp = dot(r.storage, plus(x).storage.map(Double.init))
                let fm = dot(r.storage, minus(x).storage.map(Double.init))
                numeric.append((fp - fm) / (2 * Double(h)))
            }
        }
        expectGradientsClose(analytic, numeric, rtol: 1e-2, atolScale: 1e-3, "Linear(\(act)) Float FD")
    }

    @Test("MLP: every parameter and the input match finite differences",
          arguments: [Activation.tanh, .silu, .relu, .elu])
    func mlpMatchesFiniteDifferences(_ hidden: Activation) {
        var rng = SeededRNG(seed: 30 + UInt64(hidden.rawValue))
        let widths = [3, 6, 5, 2], b = 4
        var net = MLP(widths: widths, hiddenActivation: hidden, rng: &rng)
        for l in net.layers.indices { net.layers[l].bias.value = randomFloats(widths[l + 1], &rng, -0.3, 0.3) }
        let acts = net.layers.map(\.activation)
        #expect(acts == [hidden, hidden, .identity])
        let x = randomMatrix(b, 3, &rng)
        let r = randomMatrix(b, 2, &rng)

        _ = net.forward(x)
        let dx = net.backward(r)
        let theta = flatValues(net), xd = x.storage.map(Double.init)
        let fd = finiteDifferences(theta) { t in dot(r.storage, refMLP(xd, params: t, widths: widths, activations: acts, batch: b)) }
        expectGradientsClose(flatGrads(net), fd, "MLP(\(hidden)) parameters")
        let fdx = finiteDifferences(xd) { xs in dot(r.storage, refMLP(xs, params: theta, widths: widths, activations: acts, batch: b)) }
        expectGradientsClose(dx.storage, fdx, "MLP(\(hidden)) input")

        // accumulateGradients adds the same parameter gradients (without dx); backward accumulates.
        var other = net
        other.zeroGrad()
        _ = other.forward(x)
        other.accumulateGradients(r)
        #expect(flatGrads(other) == flatGrads(net))
        other.accumulateGradients(r)
        #expect(zip(flatGrads(other), flatGrads(net)).allSatisfy { abs($0 - 2 * $1) <= 1e-6 * max(1, abs($0)) })
    }

    @Test("EnsembleMLP: stacked gradients and input gradients match finite differences",
          arguments: [Activation.silu, .tanh])
    func ensembleMatchesFiniteDifferences(_ hidden: Activation) {
        var rng = SeededRNG(seed: 40 + UInt64(hidden.rawValue))
        let widths = [3, 5, 4, 2], e = 3, b = 4
        var ens = EnsembleMLP(members: e, widths: widths, hiddenActivation: hidden, rng: &rng)
        for l in ens.layers.indices { ens.layers[l].bias.value = randomFloats(e * widths[l + 1], &rng, -0.3, 0.3) }
        let acts = ens.layers.map(\.activation)
        let x = BatchedMatrix(count: e, rows: b, cols: 3, storage: randomFloats(e * b * 3, &rng))
        let r = randomFloats(e * b * 2, &rng)

        _ = ens.forward(x)
        let dx = ens.backward(BatchedMatrix(count: e, rows: b, cols: 2, storage: r))

        // Reference: member m's parameters are slices of each stacked parameter.
        let shapes = ens.parameters.map(\.shape)
        func objective(_ theta: [Double], _ xs: [Double]) -> Double {
            var total = 0.0
            for m in 0..<e {
                var memberParams: [Double] = [], offset = 0
                for s in shapes {
                    let per = s.dropFirst().reduce(1, *)
                    memberParams += theta[offset + m * per..<offset + (m + 1) * per]
                    offset += s.reduce(1, *)
                }
                let xm = Array(xs[m * b * 3..<(m + 1) * b * 3])
                let y = refMLP(xm, params: memberParams, widths: widths, activations: acts, batch: b)
                total += dot(Array(r[m * b * 2..<(m + 1) * b * 2]), y)
            }
            return total
        }
        let theta = flatValues(ens), xd = x.storage.map(Double.init)
        expectGradientsClose(flatGrads(ens), finiteDifferences(theta) { objective($0, xd) }, "Ensemble(\(hidden)) parameters")
        expectGradientsClose(dx.storage, finiteDifferences(xd) { objective(theta, $0) }, "Ensemble(\(hidden)) input")
    }
}
