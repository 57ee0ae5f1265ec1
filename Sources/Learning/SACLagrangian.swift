// SACLagrangian.swift: the safety constraint of SAC-Lagrangian — a cost critic Q_c and a Lagrange
// multiplier λ updated by dual gradient ascent (Ha et al. 2020, "Learning to Walk in the Real World with
// Minimal Human Effort", the safety-constrained SAC; OmniSafe's SACLag for the actor-loss scaling).
//
// Constrained problem: max_π E[Σ γᵗ r]  s.t.  J_c(π) ≤ d, with the quadruped's pitch/roll cost c (1 on a
// step with f_s = min(φ̂ − |pitch|, ρ̂ − |roll|) < 0, or max(0, −f_s)).
//   - Twin cost critics Q_c1, Q_c2 are fitted like the reward critics, and used pessimistically: the target
//     y_c = c + γ_c (1 − d) max(0, max_j Q̄_cj(s′, a′)), a′ ~ π(·|s′) (no entropy term: the cost is not
//     softened), and the actor's penalty is max_j Q_cj(s, ã) — clipped double-Q with the sign of a cost,
//     since the actor minimizes Q_c and so seeks out where it is underestimated. Measured: with one cost
//     critic its mean prediction at the actor's actions drifted below zero (−0.6 → −267 by 31k env steps,
//     for a cost that is never negative) and the actor chased it. A fall (a terminal transition, d = 1) leads to an (a terminal transition, d = 1) leads to an
//     absorbing unsafe state costing `terminalCostPerStep` every step after it: y_c = c + γ_c c_T / (1 − γ_c).
//     Without that, the end of the episode would also end the cost, and a quick fall would look cheaper to
//     Q_c than a long wobble: measured, the first SAC-Lagrangian runs fell more often than SAC (λ and α
//     climbing together, 3,000–5,200 unsafe steps by 46k env steps against SAC's 2,000–3,100).
//   - The actor minimizes [α log π − min Q + λ Q_c] / (1 + λ): the Lagrangian, divided by (1 + λ) so its
//     gradient keeps the scale of SAC's whatever λ becomes (OmniSafe's normalization).
//   - λ ← max(0, λ + η (Ĵ_c − d)), every `updateInterval` env steps, with Ĵ_c the mean cost per step over
//     the last `costWindow` env steps of training and d = `costLimit` (per step). This is the projected
//     dual gradient step of Ha et al. 2020. We keep it (rather than λ = softplus(ν) or exp(ν)) because λ
//     then is exactly 0 while the constraint holds, so a safe policy is trained exactly as SAC and loses
//     no return; a softplus or log parameterization never reaches 0 and keeps taxing the reward.

import ControlCore
import Foundation
import NeuralNets

/// Settings of the safety constraint (SAC-Lagrangian).
public struct LagrangianSettings: Codable, Sendable, Hashable {
    /// d: the largest tolerated mean cost per env step (with the indicator cost, the fraction of unsafe
    /// steps): 0.025, OmniSafe's cost limit of 25 per 1,000-step episode.
    public var costLimit: Double = 0.025
    /// η: dual step size, in λ per unit of (Ĵ_c − d) per update.
    public var multiplierLearningRate: Double = 1
    /// λ at the start (Ha et al. 2020: 0).
    public var initialMultiplier: Double = 0
    /// Upper bound of λ (OmniSafe's λ_max), a guard against a constraint that cannot be met.
    public var maxMultiplier: Double = 100
    /// Ĵ_c is the mean cost per step over this many most recent training env steps.
    public var costWindow: Int = 5000
    /// λ is updated every this many env steps (after the random warm-up).
    public var updateInterval: Int = 1000
    /// Discount of the cost critic γ_c.
    public var costGamma: Double = 0.99
    /// c_T: cost per step of the absorbing state after a fall (a terminal transition), so Q_c counts a fall
    /// as c_T / (1 − γ_c) (100 with the defaults); 0 treats the end of an episode as the end of its cost.
    public var terminalCostPerStep: Double = 1
    public init() {}
}

/// λ ≥ 0 and its projected dual ascent.
public struct LagrangeMultiplier: Sendable, Codable, Equatable {
    public private(set) var value: Double
    public let learningRate: Double
    public let limit: Double
    public let maximum: Double
    public init(settings: LagrangianSettings) {
        value = settings.initialMultiplier
        learningRate = settings.multiplierLearningRate
        limit = settings.costLimit
        maximum = settings.maxMultiplier
    }
    public init(value: Double, settings: LagrangianSettings) {
        self.init(settings: settings)
        self.value = value
    }
    /// λ ← clamp(λ + η (Ĵ_c − d), 0, λ_max).
    public mutating func update(estimatedCost: Double) {
        value = min(maximum, max(0, value + learningRate * (estimatedCost - limit)))
    }
}

/// The twin cost critics Q_c1, Q_c2 (obs + act → hidden… → 1, ReLU), their targets, their optimizer and λ.
public struct SafetyCritic: Sendable {
    public let settings: LagrangianSettings
    public var critic: TwinCritic
    public var target: TwinCritic
    public var optimizer: Adam
    public var multiplier: LagrangeMultiplier

    public init(inputSize: Int, hidden: [Int], settings: LagrangianSettings, learningRate: Float, rng: inout SeededRNG) {
        self.settings = settings
        critic = TwinCritic(inputSize: inputSize, hidden: hidden, rng: &rng)
        target = critic
        optimizer = Adam(learningRate: learningRate)
        multiplier = LagrangeMultiplier(settings: settings)
    }

    /// One step on ½ Σ_j mean (Q_cj(s, a) − y_c)², y_c = c + γ_c(1 − d) max(0, max_j Q̄_cj(s′, a′)) + d γ_c c_T / (1 − γ_c).
    /// `input` is [s, a], `nextInput` [s′, a′] with a′ the actor's sample used for the reward target. Returns the loss.
    mutating func fit(batch: ReplayBuffer.Batch, input: Matrix, nextInput: Matrix) -> Double {
        let b = input.rows, gamma = Float(settings.costGamma)
        let absorbing = Float(settings.costGamma * settings.terminalCostPerStep / (1 - settings.costGamma))
        let next1 = target.q1(nextInput).storage, next2 = target.q2(nextInput).storage
        let y = (0..<b).map { i in
            batch.costs[i] + gamma * (1 - batch.terminals[i]) * max(0, max(next1[i], next2[i])) + batch.terminals[i] * absorbing
        }
        let loss = critic.regressionGradients(input, target: y)
        optimizer.step(&critic)
        return loss
    }

    mutating func updateTarget(tau: Float) { SACAgent.polyak(&target, toward: critic, tau: tau) }
}
