// SAC.swift: Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications",
// Algorithm 1), with the optional Lagrangian safety term of SACLagrangian.swift in the actor loss.
//
// One gradient step, in the paper's order:
//   1. soft Q target   y = r + γ(1 − d)(min_j Q̄_j(s′, a′) − α log π(a′|s′)),  a′ ~ π(·|s′)
//   2. critics          J_Q = ½ Σ_j mean (Q_j(s, a) − y)²                 (twin Q, Fujimoto et al. 2018)
//   3. actor            J_π = mean [α log π(ã|s) − min_j Q_j(s, ã)],  ã = tanh(μ + σε) (reparameterized)
//   4. temperature      J(α) = mean [−α (log π(ã|s) + H̄)], on log α,  H̄ = −|A|
//   5. targets          Q̄ ← τ Q + (1 − τ) Q̄
// With a safety critic (SAC-Lagrangian) step 2 also fits Q_c, and step 3 minimizes
// [α log π − min Q + λ Q_c] / (1 + λ).

import ControlCore
import Foundation
import NeuralNets

/// SAC's hyperparameters; the defaults are the paper's (Haarnoja et al. 2018, Table 1).
public struct SACSettings: Codable, Sendable, Hashable {
    /// Hidden layer widths of the actor and of each critic (ReLU): 2 × 256.
    public var hidden: [Int] = [256, 256]
    /// Minibatch size: 256.
    public var batchSize: Int = 256
    /// Adam learning rate of the actor, the critics and the temperature: 3·10⁻⁴.
    public var learningRate: Double = 3e-4
    /// Discount γ: 0.99.
    public var gamma: Double = 0.99
    /// Polyak averaging coefficient τ of the target critics: 0.005.
    public var tau: Double = 0.005
    /// Initial temperature α (the reference implementations start at 1).
    public var initialAlpha: Double = 1
    /// Target entropy per action dimension: H̄ = this · |A| (the paper: −1, i.e. H̄ = −|A|).
    public var targetEntropyPerAction: Double = -1
    public init() {}
}

/// A scalar trained by Adam (log α, or any one-number parameter).
struct ScalarParameter: Trainable, Sendable {
    var parameter: Parameter
    init(name: String, value: Float) { parameter = Parameter(name: name, shape: [1], value: [value]) }
    var value: Float { parameter.value[0] }
    mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows { try body(&parameter) }
}

/// The twin Q critics Q₁, Q₂ (each obs + act → hidden… → 1, ReLU), trained by one optimizer.
public struct TwinCritic: Trainable, Sendable {
    public var q1: MLP
    public var q2: MLP
    public init(inputSize: Int, hidden: [Int], rng: inout SeededRNG) {
        q1 = MLP(widths: [inputSize] + hidden + [1], hiddenActivation: .relu, rng: &rng)
        q2 = MLP(widths: [inputSize] + hidden + [1], hiddenActivation: .relu, rng: &rng)
    }
    public init(q1: MLP, q2: MLP) { self.q1 = q1; self.q2 = q2 }
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try q1.forEachParameter(body)
        try q2.forEachParameter(body)
    }

    /// The gradients of ½ Σ_j mean (Q_j(input) − y)² (the twin critics regressed to one target y, one value per
    /// row), written into both critics' gradients (zeroed first); returns the loss. The caller steps the optimizer.
    public mutating func regressionGradients(_ input: Matrix, target y: [Float]) -> Double {
        let b = input.rows
        precondition(y.count == b, "TwinCritic: \(y.count) targets for \(b) rows")
        zeroGrad()
        var loss = 0.0
        func gradient(_ q: Matrix) -> Matrix {
            Matrix(rows: b, cols: 1) { g in
                for i in 0..<b { let e = q.storage[i] - y[i]; g[i] = e / Float(b); loss += 0.5 * Double(e * e) / Double(b) }
            }
        }
        q1.accumulateGradients(gradient(q1.forward(input)))
        q2.accumulateGradients(gradient(q2.forward(input)))
        return loss
    }

    /// Which of the two estimates a row uses: the lower (rewards: clipped double-Q, Fujimoto et al. 2018) or the
    /// higher (costs: the pessimistic one). Ties go to Q₁.
    public enum Pick: Sendable { case lower, higher }

    /// Both critics at `input` (a training forward: their caches are kept), per row the picked value, and
    /// ∂(weight · Σ_rows picked)/∂input through each row's picked critic — without touching any parameter
    /// gradient (`MLP.inputGradient`): what an actor step needs from critics it does not train.
    public mutating func picked(_ pick: Pick, at input: Matrix, weight: Float) -> (values: [Float], inputGradient: Matrix) {
        let b = input.rows
        let v1 = q1.forward(input).storage, v2 = q2.forward(input).storage
        var rows1: [Int] = [], rows2: [Int] = []
        rows1.reserveCapacity(b); rows2.reserveCapacity(b)
        var values = [Float](repeating: 0, count: b)
        for i in 0..<b {
            let first = pick == .lower ? v1[i] <= v2[i] : v1[i] >= v2[i]
            if first { rows1.append(i); values[i] = v1[i] } else { rows2.append(i); values[i] = v2[i] }
        }
        // each row backpropagates through its picked critic only (half the work of two full backward passes)
        let g1 = q1.inputGradient(Matrix(rows: rows1.count, cols: 1, repeating: weight), rows: rows1)
        let g2 = q2.inputGradient(Matrix(rows: rows2.count, cols: 1, repeating: weight), rows: rows2)
        let d = input.cols
        let gradient = Matrix(rows: b, cols: d) { out in
            for (g, rows) in [(g1, rows1), (g2, rows2)] {
                g.storage.withUnsafeBufferPointer { src in
                    for (r, i) in rows.enumerated() {
                        for j in 0..<d { out[i * d + j] = src[r * d + j] }
                    }
                }
            }
        }
        return (values, gradient)
    }
}

/// Losses and statistics of one SAC gradient step.
public struct SACUpdateStats: Sendable {
    public var criticLoss: Double = 0
    public var actorLoss: Double = 0
    public var alphaLoss: Double = 0
    public var costCriticLoss: Double = 0
    /// Policy entropy estimate −mean log π(ã|s).
    public var entropy: Double = 0
    /// Mean min_j Q_j(s, ã) and Q_c(s, ã) over the batch.
    public var meanQ: Double = 0
    public var meanCostQ: Double = 0
}

/// The SAC learner: actor, twin critics and their targets, the temperature, their Adam optimizers, and (for
/// SAC-Lagrangian) the safety critic. A value type: copying it copies the whole learner state.
public struct SACAgent: Sendable {
    public let settings: SACSettings
    public let observationDimension: Int
    public let actionDimension: Int
    public var actor: SquashedGaussianActor
    public var critic: TwinCritic
    public var targetCritic: TwinCritic
    var logAlpha: ScalarParameter
    public var actorOptimizer: Adam
    public var criticOptimizer: Adam
    public var alphaOptimizer: Adam
    /// The cost critic and λ of SAC-Lagrangian; nil for plain SAC.
    public var safety: SafetyCritic?
    /// Gradient steps taken.
    public var updates = 0

    /// A fresh learner; `lagrangian` adds a safety critic (SAC-Lagrangian).
    public init(observationDimension: Int, actionDimension: Int, settings: SACSettings = SACSettings(),
                lagrangian: LagrangianSettings? = nil, rng: inout SeededRNG) {
        self.settings = settings
        self.observationDimension = observationDimension
        self.actionDimension = actionDimension
        actor = SquashedGaussianActor(observationDimension: observationDimension, actionDimension: actionDimension,
                                      hidden: settings.hidden, rng: &rng)
        critic = TwinCritic(inputSize: observationDimension + actionDimension, hidden: settings.hidden, rng: &rng)
        targetCritic = critic
        logAlpha = ScalarParameter(name: "log_alpha", value: Float(log(settings.initialAlpha)))
        let lr = Float(settings.learningRate)
        actorOptimizer = Adam(learningRate: lr)
        criticOptimizer = Adam(learningRate: lr)
        alphaOptimizer = Adam(learningRate: lr)
        if let lagrangian {
            safety = SafetyCritic(inputSize: observationDimension + actionDimension, hidden: settings.hidden,
                                  settings: lagrangian, learningRate: lr, rng: &rng)
        }
    }

    /// The temperature α = exp(log α).
    public var alpha: Double { Double(exp(logAlpha.value)) }
    /// H̄ = targetEntropyPerAction · |A|.
    public var targetEntropy: Double { settings.targetEntropyPerAction * Double(actionDimension) }

    /// One gradient step on a minibatch (observations already normalized).
    /// - Throws: `LearningError.diverged` when a loss or a weight becomes NaN or infinite.
    @discardableResult
    public mutating func update(_ batch: ReplayBuffer.Batch, rng: inout SeededRNG) throws -> SACUpdateStats {
        let b = batch.observations.rows
        let gamma = Float(settings.gamma), alpha = Float(alpha)
        var stats = SACUpdateStats()

        // 1. soft Q target from the target critics at a′ ~ π(·|s′)
        let next = actor.sample(batch.nextObservations, rng: &rng)
        let nextInput = batch.nextObservations.concatenatingColumns(next.actions)
        let q1Next = targetCritic.q1(nextInput).storage, q2Next = targetCritic.q2(nextInput).storage
        let target = (0..<b).map { i in
            batch.rewards[i] + gamma * (1 - batch.terminals[i]) * (min(q1Next[i], q2Next[i]) - alpha * next.logProb[i])
        }

        // 2. critics: ½ Σ_j mean (Q_j − y)²
        let input = batch.observations.concatenatingColumns(batch.actions)
        stats.criticLoss = critic.regressionGradients(input, target: target)
        criticOptimizer.step(&critic)
        if safety != nil {
            stats.costCriticLoss = safety!.fit(batch: batch, input: input, nextInput: nextInput)
        }

        // 3. actor: mean [α log π − min Q + λ Q_c] / (1 + λ)
        let noise = SquashedGaussianActor.noise(rows: b, actionDimension, &rng)
        actor.zeroGrad()
        let sample = actor.forwardSample(batch.observations, noise: noise)
        let actorInput = batch.observations.concatenatingColumns(sample.actions)
        let lambda = Float(safety?.multiplier.value ?? 0), scale = 1 / (1 + lambda) / Float(b)
        let (q, criticGradient) = critic.picked(.lower, at: actorInput, weight: -scale)
        var inputGradient = criticGradient
        var actorLoss = 0.0, meanQ = 0.0
        for i in 0..<b {
            actorLoss += Double(alpha * sample.logProb[i] - q[i])
            meanQ += Double(q[i])
        }
        if safety != nil {
            let (costQ, costGradient) = safety!.critic.picked(.higher, at: actorInput, weight: lambda * scale)
            for k in inputGradient.storage.indices { inputGradient.storage[k] += costGradient.storage[k] }
            actorLoss += Double(lambda) * costQ.reduce(0) { $0 + Double($1) }
            stats.meanCostQ = costQ.reduce(0) { $0 + Double($1) } / Double(b)
        }
        let actionGradient = inputGradient.columns(observationDimension..<(observationDimension + actionDimension))
        actor.backward(sample, actionGradient: actionGradient, logProbGradient: Array(repeating: alpha * scale, count: b))
        actorOptimizer.step(&actor)
        stats.actorLoss = actorLoss / Double(b) / Double(1 + lambda)
        stats.meanQ = meanQ / Double(b)

        // 4. temperature: ∂/∂log α of mean[−α(log π + H̄)] taken, as the reference code, as −mean(log π + H̄)
        let meanLogProb = sample.logProb.reduce(0) { $0 + Double($1) } / Double(b)
        logAlpha.zeroGrad()
        logAlpha.parameter.grad[0] = Float(-(meanLogProb + targetEntropy))
        alphaOptimizer.step(&logAlpha)
        stats.alphaLoss = -Double(logAlpha.value) * (meanLogProb + targetEntropy)
        stats.entropy = -meanLogProb

        // 5. Polyak averaging of the targets
        Self.polyak(&targetCritic, toward: critic, tau: Float(settings.tau))
        if safety != nil { safety!.updateTarget(tau: Float(settings.tau)) }
        updates += 1

        guard stats.criticLoss.isFinite, stats.actorLoss.isFinite, stats.costCriticLoss.isFinite, logAlpha.value.isFinite else {
            throw LearningError.diverged("update \(updates): critic loss \(stats.criticLoss), actor loss \(stats.actorLoss), "
                                         + "cost critic loss \(stats.costCriticLoss), log α \(logAlpha.value)")
        }
        return stats
    }

    /// target ← τ · source + (1 − τ) · target, parameter by parameter.
    static func polyak<M: Trainable>(_ target: inout M, toward source: M, tau: Float) {
        let values = source.parameters.map(\.value)
        var k = 0
        target.forEachParameter { p in
            let src = values[k]
            p.value.withUnsafeMutableBufferPointer { t in
                for i in t.indices { t[i] += tau * (src[i] - t[i]) }
            }
            k += 1
        }
    }

    /// Deterministic actions tanh(μ(s)) for normalized observations.
    public func deterministicActions(_ observations: Matrix) -> Matrix { actor.meanActions(observations) }
}
