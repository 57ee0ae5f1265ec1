// End-to-end checks: fitting sin(x), ensemble consistency with its members, determinism by seed.

import ControlCore
import Foundation
import NeuralNets
import Testing

@Suite("Training")
struct TrainingTests {
    @Test("An MLP fits sin(x) on [-π, π] to MSE < 1e-3")
    func fitsSine() {
        var rng = SeededRNG(seed: 70)
        var net = MLP(widths: [1, 32, 32, 1], hiddenActivation: .tanh, rng: &rng)
        let n = 64
        let xs = (0..<n).map { Float(-Double.pi + 2 * Double.pi * Double($0) / Double(n - 1)) }
        let x = Matrix(rows: n, cols: 1, storage: xs)
        let y = Matrix(rows: n, cols: 1, storage: xs.map { sin($0) })
        var adam = Adam(learningRate: 0.01)
        var loss: Float = .infinity
        var steps = 0
        while loss >= 1e-4 && steps < 3000 {
            net.zeroGrad()
            let pred = net.forward(x)
            let (l, g) = Loss.meanSquaredError(prediction: pred, target: y)
            loss = l
            net.accumulateGradients(g)
            adam.step(&net)
            steps += 1
        }
        // Off-grid check on a denser grid.
        let xt = (0..<257).map { Float(-Double.pi + 2 * Double.pi * Double($0) / 256) }
        let test = Loss.meanSquaredError(prediction: net(Matrix(rows: 257, cols: 1, storage: xt)),
                                         target: Matrix(rows: 257, cols: 1, storage: xt.map { sin($0) })).value
        #expect(test < 1e-3, "test MSE \(test) after \(steps) steps (train \(loss))")
    }

    @Test("Ensemble: members differ, batched forward equals each member's forward, gradients equal each member's")
    func ensembleMatchesMembers() {
        var rng = SeededRNG(seed: 71)
        let widths = [5, 16, 16, 4], e = 4, b = 6
        var seedCopy = rng
        var ens = EnsembleMLP(members: e, widths: widths, hiddenActivation: .silu, rng: &rng)

        // Member e is the MLP built from the e-th split of the generator.
        for m in 0..<e {
            var sub = seedCopy.split()
            let standalone = MLP(widths: widths, hiddenActivation: .silu, rng: &sub)
            #expect(flatValues(standalone) == flatValues(ens.member(m)))
        }
        #expect(flatValues(ens.member(0)) != flatValues(ens.member(1)))
        #expect(ens.parameterCount == e * (5 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4))

        let x = BatchedMatrix(count: e, rows: b, cols: 5, storage: randomFloats(e * b * 5, &rng))
        let y = ens(x)
        let yTrain = ens.forward(x)
        #expect(yTrain == y)  // training forward (SiLU via the epilogue) is bit-identical
        for m in 0..<e {
            #expect(ens.member(m)(x[m]).maxAbsDifference(y[m]) <= 1e-6)
        }

        // Same input to every member gives different outputs (different init).
        let same = ens(BatchedMatrix(repeating: x[0], count: e))
        #expect(same[0].maxAbsDifference(same[1]) > 1e-3)

        // Backward: member gradients equal standalone MLP gradients.
        let g = BatchedMatrix(count: e, rows: b, cols: 4, storage: randomFloats(e * b * 4, &rng))
        let dx = ens.backward(g)
        for m in 0..<e {
            var net = ens.member(m)
            net.zeroGrad()
            _ = net.forward(x[m])
            let dxm = net.backward(g[m])
            #expect(dxm.maxAbsDifference(dx[m]) <= 1e-6)
            let a = flatGrads(net), bgr = flatGrads(ens.member(m))
            #expect(zip(a, bgr).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
        }

        // Elite selection keeps the chosen members in order.
        let elites = ens.selecting(members: [2, 0])
        #expect(elites.members == 2)
        #expect(flatValues(elites.member(0)) == flatValues(ens.member(2)))
    }

    /// A few Adam steps of a PETS-style ensemble (NLL with learnable bounds) from a seed.
    private static func trainedEnsemble(seed: UInt64) -> (EnsembleMLP, LogVarianceBounds, [Float]) {
        var rng = SeededRNG(seed: seed)
        var ens = EnsembleMLP(members: 3, widths: [4, 12, 12, 6], hiddenActivation: .silu, rng: &rng)
        ens.setWeightDecay([2.5e-5, 5e-5, 1e-4])
        var bounds = LogVarianceBounds(outputSize: 3)
        var opt = Adam(learningRate: 1e-2, maxGradientNorm: 5)
        var boundsOpt = Adam(learningRate: 1e-2)
        var losses: [Float] = []
        let x = BatchedMatrix(count: 3, rows: 8, cols: 4, storage: randomFloats(96, &rng))
        let t = BatchedMatrix(count: 3, rows: 8, cols: 3, storage: randomFloats(72, &rng))
        for _ in 0..<15 {
            ens.zeroGrad(); bounds.zeroGrad()
            let head = ens.forward(x)
            let loss = Loss.gaussianNLL(head: head, target: t, bounds: bounds)
            ens.accumulateGradients(loss.gradHead)
            bounds.accumulateGradients(from: loss)
            opt.step(&ens)
            boundsOpt.step(&bounds)
            losses.append(loss.value)
        }
        return (ens, bounds, losses)
    }

    @Test("Determinism: the same seed gives bit-identical weights and training; another seed differs")
    func determinismBySeed() {
        let (a, ba, la) = Self.trainedEnsemble(seed: 7)
        let (b, bb, lb) = Self.trainedEnsemble(seed: 7)
        let (c, _, _) = Self.trainedEnsemble(seed: 8)
        #expect(flatValues(a) == flatValues(b))
        #expect(flatValues(ba) == flatValues(bb))
        #expect(la == lb)
        #expect(flatValues(a) != flatValues(c))
        #expect(la.last! < la.first!, "NLL did not decrease: \(la)")

        var r1 = SeededRNG(seed: 3), r2 = SeededRNG(seed: 3)
        #expect(flatValues(MLP(widths: [3, 8, 2], hiddenActivation: .relu, rng: &r1))
                == flatValues(MLP(widths: [3, 8, 2], hiddenActivation: .relu, rng: &r2)))
    }
}
