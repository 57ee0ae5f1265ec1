import ControlCore
import Foundation
import NeuralNets
import Testing
@testable import Learning

/// Gradient checks of the SAC pieces against finite differences, and the directions of α and λ.
@Suite struct SACGradientTests {
    /// ℓ = Σ_b [c·log π_b + Σ_i w_bi a_bi] with ε fixed: the analytic gradient (including the tanh correction
    /// and the log σ path) matches central differences on every weight of a small actor.
    @Test func actorGradientMatchesFiniteDifferences() {
        var rng = SeededRNG(seed: 3)
        var actor = SquashedGaussianActor(observationDimension: 3, actionDimension: 2, hidden: [6], rng: &rng)
        let obs = Matrix(rows: 4, cols: 3, storage: (0..<12).map { _ in Float(rng.uniform(-1, 1)) })
        let noise = SquashedGaussianActor.noise(rows: 4, 2, &rng)
        let w = Matrix(rows: 4, cols: 2, storage: (0..<8).map { _ in Float(rng.uniform(-1, 1)) })
        let c: Float = 0.7
        func loss(_ a: SquashedGaussianActor) -> Double {
            let s = SquashedGaussianActor.squash(a.network(obs), actionDimension: 2, noise: noise)
            var l = 0.0
            for b in 0..<4 {
                l += Double(c * s.logProb[b])
                for i in 0..<2 { l += Double(w.storage[b * 2 + i] * s.actions.storage[b * 2 + i]) }
            }
            return l
        }
        actor.zeroGrad()
        let sample = actor.forwardSample(obs, noise: noise)
        actor.backward(sample, actionGradient: w, logProbGradient: Array(repeating: c, count: 4))
        let analytic = actor.parameters
        var checked = 0
        for (p, parameter) in analytic.enumerated() {
            for k in stride(from: 0, to: parameter.count, by: 3) {
                let h: Float = 1e-2
                func shifted(_ delta: Float) -> Double {
                    var a = actor
                    var index = 0
                    a.forEachParameter { q in if index == p { q.value[k] += delta }; index += 1 }
                    return loss(a)
                }
                let numeric = (shifted(h) - shifted(-h)) / Double(2 * h)
                #expect(abs(numeric - Double(parameter.grad[k])) <= 2e-2 * max(1, abs(numeric)),
                        "\(parameter.name)[\(k)]: analytic \(parameter.grad[k]), numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 15)
    }

    /// The log-probability equals the density of the squashed Gaussian computed directly.
    @Test func logProbabilityIsTheSquashedGaussianDensity() {
        var rng = SeededRNG(seed: 1)
        let actor = SquashedGaussianActor(observationDimension: 2, actionDimension: 3, hidden: [4], rng: &rng)
        let obs = Matrix(rows: 2, cols: 2, storage: [0.3, -0.2, 1.0, 0.5])
        let noise = SquashedGaussianActor.noise(rows: 2, 3, &rng)
        let out = actor.network(obs)
        let s = SquashedGaussianActor.squash(out, actionDimension: 3, noise: noise)
        for b in 0..<2 {
            var expected = 0.0
            for i in 0..<3 {
                let mu = Double(out.storage[b * 6 + i]), sigma = exp(Double(out.storage[b * 6 + 3 + i]))
                let u = mu + sigma * Double(noise[b * 3 + i]), a = tanh(u)
                expected += -0.5 * pow((u - mu) / sigma, 2) - log(sigma) - 0.5 * log(2 * Double.pi) - log(1 - a * a)
            }
            #expect(abs(Double(s.logProb[b]) - expected) < 1e-3 * max(1, abs(expected)))
        }
    }

    /// α rises while the policy's entropy is below the target and falls while it is above.
    @Test func temperatureFollowsTheEntropyTarget() throws {
        func alphaAfterUpdates(targetEntropyPerAction: Double) throws -> (before: Double, after: Double, entropy: Double) {
            var rng = SeededRNG(seed: 5)
            var settings = SACSettings()
            settings.hidden = [16]; settings.batchSize = 32; settings.targetEntropyPerAction = targetEntropyPerAction
            var agent = SACAgent(observationDimension: 3, actionDimension: 2, settings: settings, rng: &rng)
            var buffer = ReplayBuffer(capacity: 100, observationDimension: 3, actionDimension: 2)
            for _ in 0..<100 {
                let o = (0..<3).map { _ in rng.uniform(-1, 1) }
                buffer.append(observation: o, action: [rng.uniform(-1, 1), rng.uniform(-1, 1)], reward: rng.uniform(-1, 1), cost: 0,
                              nextObservation: o, terminated: false)
            }
            let before = agent.alpha
            var entropy = 0.0
            for _ in 0..<5 { entropy = try agent.update(buffer.sample(32, rng: &rng), rng: &rng).entropy }
            return (before, agent.alpha, entropy)
        }
        // a fresh tanh-Gaussian over 2 actions has entropy around 1: a target of +5 per action is far above, −5 far below
        let high = try alphaAfterUpdates(targetEntropyPerAction: 5)
        #expect(high.entropy < 10)
        #expect(high.after > high.before)
        let low = try alphaAfterUpdates(targetEntropyPerAction: -5)
        #expect(low.entropy > -10)
        #expect(low.after < low.before)
    }

    /// λ rises while the measured cost exceeds the limit, falls back, and never goes below 0.
    @Test func multiplierFollowsTheConstraint() {
        var settings = LagrangianSettings()
        settings.costLimit = 0.01; settings.multiplierLearningRate = 10
        var lambda = LagrangeMultiplier(settings: settings)
        for _ in 0..<5 { lambda.update(estimatedCost: 0.001) }
        #expect(lambda.value == 0)
        lambda.update(estimatedCost: 0.11)
        #expect(abs(lambda.value - 1.0) < 1e-12)
        lambda.update(estimatedCost: 0.06)
        #expect(abs(lambda.value - 1.5) < 1e-12)
        for _ in 0..<100 { lambda.update(estimatedCost: 0) }
        #expect(lambda.value == 0)
        settings.maxMultiplier = 2
        var bounded = LagrangeMultiplier(settings: settings)
        for _ in 0..<100 { bounded.update(estimatedCost: 1) }
        #expect(bounded.value == 2)
    }

    /// The critics regress to a fixed target: with γ = 0 the soft target is the reward, so Q(s, a) → r(s, a).
    @Test func criticRegressesToTheReward() throws {
        var rng = SeededRNG(seed: 11)
        var settings = SACSettings()
        settings.hidden = [32, 32]; settings.batchSize = 64; settings.gamma = 0; settings.learningRate = 3e-3
        var agent = SACAgent(observationDimension: 2, actionDimension: 1, settings: settings, rng: &rng)
        var buffer = ReplayBuffer(capacity: 256, observationDimension: 2, actionDimension: 1)
        func reward(_ o: [Double], _ a: Double) -> Double { o[0] - 0.5 * o[1] + a * a }
        for _ in 0..<256 {
            let o = [rng.uniform(-1, 1), rng.uniform(-1, 1)], a = rng.uniform(-1, 1)
            buffer.append(observation: o, action: [a], reward: reward(o, a), cost: 0, nextObservation: o, terminated: false)
        }
        var first = 0.0, last = 0.0
        for k in 0..<600 {
            let loss = try agent.update(buffer.sample(64, rng: &rng), rng: &rng).criticLoss
            if k == 0 { first = loss }
            last = loss
        }
        #expect(last < 0.02 * first, "critic loss \(first) → \(last)")
        let probe = ReplayBuffer.Batch(observations: Matrix(rows: 1, cols: 2, storage: [0.5, -0.5]), actions: Matrix(rows: 1, cols: 1, storage: [0.5]),
                                       rewards: [0], costs: [0], nextObservations: Matrix(rows: 1, cols: 2, storage: [0, 0]), terminals: [0])
        let q = agent.critic.q1(probe.observations.concatenatingColumns(probe.actions)).storage[0]
        #expect(abs(Double(q) - reward([0.5, -0.5], 0.5)) < 0.1)
    }

    /// The cost critic regresses to its target; a fall (terminal transition) leads to an absorbing unsafe state
    /// worth γ_c c_T / (1 − γ_c), and with c_T = 0 the cost ends with the episode.
    @Test func costCriticCountsAFallAsAbsorbingUnsafe() {
        func fitted(terminalCostPerStep: Double) -> Float {
            var rng = SeededRNG(seed: 4)
            var settings = LagrangianSettings()
            settings.costGamma = 0.5; settings.terminalCostPerStep = terminalCostPerStep
            var safety = SafetyCritic(inputSize: 2, hidden: [16], settings: settings, learningRate: 1e-2, rng: &rng)
            let input = Matrix(rows: 32, cols: 2, storage: (0..<64).map { _ in Float(rng.uniform(-1, 1)) })
            let batch = ReplayBuffer.Batch(observations: input.columns(0..<1), actions: input.columns(1..<2),
                                           rewards: Array(repeating: 0, count: 32), costs: Array(repeating: 0.2, count: 32),
                                           nextObservations: input.columns(0..<1), terminals: Array(repeating: 1, count: 32))
            for _ in 0..<400 { _ = safety.fit(batch: batch, input: input, nextInput: input) }
            return safety.critic.q1(input).storage.reduce(0, +) / 32
        }
        #expect(abs(fitted(terminalCostPerStep: 1) - 1.2) < 0.05)   // 0.2 + 0.5 · 1 / (1 − 0.5)
        #expect(abs(fitted(terminalCostPerStep: 0) - 0.2) < 0.05)
    }
}
