// Activation forward/derivative checks: scalar derivatives against central differences in
// Double, and the batched (LinAlg epilogue / vectorized backward) paths against the scalars.

import ControlCore
import Foundation
import NeuralNets
import Testing

@Suite("Activation")
struct ActivationTests {
    /// Pre-activations away from ReLU's kink, on both sides and in the tails.
    static let points: [Double] = [-6, -3, -1.3, -0.5, -0.01, 0.02, 0.2, 0.7, 2.5, 6]

    @Test("σ′(z) and σ′ from the output match central differences", arguments: Activation.allCases)
    func derivativeMatchesFiniteDifferences(_ act: Activation) {
        for z in Self.points {
            let h = 1e-6
            let fd = (refActivation(act, z + h) - refActivation(act, z - h)) / (2 * h)
            let fromPre = act.derivative(preActivation: Float(z))
            #expect(abs(Double(fromPre) - fd) <= 1e-5 * max(1, abs(fd)), "\(act) σ′(\(z)): \(fromPre) vs \(fd)")
            if let fromOut = act.derivative(output: act(Float(z))) {
                #expect(abs(Double(fromOut) - fd) <= 1e-5 * max(1, abs(fd)), "\(act) σ′(y(\(z))): \(fromOut) vs \(fd)")
            } else {
                #expect(act.needsPreActivation)
            }
        }
    }

    @Test("Batched forward (LinAlg epilogue) matches the scalar definition", arguments: Activation.allCases)
    func batchedForwardMatchesScalar(_ act: Activation) {
        var rng = SeededRNG(seed: 1)
        var z = randomMatrix(6, 9, &rng, -5, 5)
        z.storage[0] = 0; z.storage[1] = -40; z.storage[2] = 40
        let y = z.applying(act)
        for i in 0..<z.count {
            let want = refActivation(act, Double(z.storage[i]))
            #expect(abs(Double(y.storage[i]) - want) <= 2e-6 * max(1, abs(want)), "\(act)(\(z.storage[i]))")
        }
        // Fused matmul with the identity and a bias gives the same as applying afterwards.
        let id = Matrix.identity(9)
        let fused = z.matmul(id, bias: Array(repeating: 0, count: 9), activation: act)
        #expect(fused == y)
    }

    @Test("Batched backward equals gradOutput ⊙ σ′(z), including z = 0 and the tails", arguments: Activation.allCases)
    func batchedBackwardMatchesScalarDerivative(_ act: Activation) {
        var rng = SeededRNG(seed: 2)
        var z = randomMatrix(5, 8, &rng, -5, 5)
        z.storage[0] = 0; z.storage[1] = -50; z.storage[2] = 50; z.storage[3] = 1e-30; z.storage[4] = -1e-3
        let y = z.applying(act)
        let g = randomMatrix(5, 8, &rng)
        let d = act.backward(gradOutput: g, output: y, preActivation: act.needsPreActivation ? z : nil)
        for i in 0..<z.count {
            let want = Double(g.storage[i]) * Double(act.derivative(preActivation: z.storage[i]))
            #expect(abs(Double(d.storage[i]) - want) <= 2e-6 * max(1, abs(want)),
                    "\(act) backward at z = \(z.storage[i]): \(d.storage[i]) vs \(want)")
        }
    }
}
