// Loss checks: values against Double references, gradients against central differences in
// Double (MSE, Gaussian NLL, and PETS' soft-bounded head including the bound parameters).

import ControlCore
import Foundation
import NeuralNets
import Testing

/// softplus in Double.
private func softplusD(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

/// PETS' head loss in Double: θ = [head (E·B·2D) | maxLogVar (D) | minLogVar (D)].
private func refHeadLoss(_ theta: [Double], target: [Float], e: Int, b: Int, d: Int) -> Double {
    let n = e * b * 2 * d
    let hi = Array(theta[n..<n + d]), lo = Array(theta[n + d..<n + 2 * d])
    var total = 0.0
    for m in 0..<e {
        var s = 0.0
        for i in 0..<b {
            let row = m * b + i
            for j in 0..<d {
                let mu = theta[row * 2 * d + j], r = theta[row * 2 * d + d + j]
                var lv = hi[j] - softplusD(hi[j] - r)
                lv = lo[j] + softplusD(lv - lo[j])
                let diff = mu - Double(target[row * d + j])
                s += diff * diff * exp(-lv) + lv
            }
        }
        total += s / Double(b * d)
    }
    return total + 0.01 * (hi.reduce(0, +) - lo.reduce(0, +))
}

@Suite("Losses")
struct LossTests {
    @Test("MSE value and gradient (matrix and ensemble forms)")
    func meanSquaredError() {
        var rng = SeededRNG(seed: 50)
        let p = randomMatrix(4, 3, &rng), t = randomMatrix(4, 3, &rng)
        let (value, grad) = Loss.meanSquaredError(prediction: p, target: t)
        let ref: ([Double]) -> Double = { x in zip(x, t.storage).reduce(0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) } / 12 }
        #expect(abs(Double(value) - ref(p.storage.map(Double.init))) < 1e-6)
        expectGradientsClose(grad.storage, finiteDifferences(p.storage.map(Double.init), ref), "MSE")

        // Ensemble form: per-member means, summed.
        let pb = BatchedMatrix([p, t]), tb = BatchedMatrix([t, p])
        let (vb, gb) = Loss.meanSquaredError(prediction: pb, target: tb)
        #expect(abs(vb - 2 * value) < 1e-5)
        #expect(gb[0] == grad)
    }

    @Test("Gaussian NLL with a given log-variance")
    func gaussianNLLPlain() {
        var rng = SeededRNG(seed: 51)
        let (b, d) = (3, 2)
        let mean = randomMatrix(b, d, &rng), lv = randomMatrix(b, d, &rng, -2, 1), y = randomMatrix(b, d, &rng)
        let r = Loss.gaussianNLL(mean: mean, logVariance: lv, target: y)
        let theta = (mean.storage + lv.storage).map(Double.init)
        let f: ([Double]) -> Double = { t in
            var s = 0.0
            for k in 0..<(b * d) {
                let diff = t[k] - Double(y.storage[k])
                s += diff * diff * exp(-t[b * d + k]) + t[b * d + k]
            }
            return s / Double(b * d)
        }
        #expect(abs(Double(r.value) - f(theta)) < 1e-5 * max(1, abs(f(theta))))
        expectGradientsClose(r.gradMean.storage + r.gradLogVariance.storage, finiteDifferences(theta, f), "Gaussian NLL")
    }

    @Test("PETS head loss: value and gradients w.r.t. head, maxLogVar and minLogVar")
    func gaussianHeadWithSoftBounds() {
        var rng = SeededRNG(seed: 52)
        let (e, b, d) = (2, 3, 2)
        var bounds = LogVarianceBounds(outputSize: d)
        bounds.maxLogVariance.value = [0.5, 0.2]
        bounds.minLogVariance.value = [-2, -3]
        var head = BatchedMatrix(count: e, rows: b, cols: 2 * d, storage: randomFloats(e * b * 2 * d, &rng))
        // Raw log-variances across both soft bounds: below min, inside, above max.
        let raws: [Float] = [-5, -2.5, -1, 0, 0.4, 1.5, 3, -3.5, -0.2, 0.9, 2.2, -4]
        var k = 0
        for m in 0..<e { for i in 0..<b { for j in 0..<d { head[m, i, d + j] = raws[k % raws.count]; k += 1 } } }
        let target = BatchedMatrix(count: e, rows: b, cols: d, storage: randomFloats(e * b * d, &rng))

        let loss = Loss.gaussianNLL(head: head, target: target, bounds: bounds)
        let theta = (head.storage + bounds.maxLogVariance.value + bounds.minLogVariance.value).map(Double.init)
        let f: ([Double]) -> Double = { refHeadLoss($0, target: target.storage, e: e, b: b, d: d) }
        #expect(abs(Double(loss.value) - f(theta)) < 1e-5 * max(1, abs(f(theta))))
        let analytic = loss.gradHead.storage + loss.gradMaxLogVariance + loss.gradMinLogVariance
        expectGradientsClose(analytic, finiteDifferences(theta, f), "PETS head loss")

        // The bound gradients accumulate into the parameters.
        bounds.accumulateGradients(from: loss)
        bounds.accumulateGradients(from: loss)
        #expect(bounds.maxLogVariance.grad == loss.gradMaxLogVariance.map { 2 * $0 })
        #expect(bounds.minLogVariance.grad == loss.gradMinLogVariance.map { 2 * $0 })

        // The single-network form is the ensemble form with E = 1.
        let single = Loss.gaussianNLL(head: head[1], target: target[1], bounds: bounds)
        let asEnsemble = Loss.gaussianNLL(head: BatchedMatrix([head[1]]), target: BatchedMatrix([target[1]]), bounds: bounds)
        #expect(single.value == asEnsemble.value)
        #expect(single.gradHead == asEnsemble.gradHead[0])
        #expect(single.gradMaxLogVariance == asEnsemble.gradMaxLogVariance)
    }

    @Test("Soft bounds keep the log-variance inside [min, max] and pass it through inside")
    func softBoundsRange() {
        let bounds = LogVarianceBounds(outputSize: 1)  // [-10, 0.5]
        let raw = Matrix(rows: 7, cols: 1, storage: [-100, -12, -10, -4, 0, 0.5, 50])
        let s = bounds.bound(raw)
        for v in s.storage { #expect(v >= -10 && v < 0.5 + 1e-3) }
        #expect(abs(s[3, 0] - -4) < 0.01)  // interior: nearly the identity
        let (mean, lv) = bounds.meanAndLogVariance(raw.concatenatingColumns(raw))
        #expect(mean == raw && lv == s)
    }
}
