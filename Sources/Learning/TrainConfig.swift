// TrainConfig.swift: the settings of `mbc train` (configs/sac-quadruped.yaml, sac-lagrangian-quadruped.yaml,
// sac-pendulum.yaml write every one out).

import ControlCore
import Environments
import Foundation

/// Which learner `mbc train` runs.
public enum TrainAlgorithm: String, Codable, Sendable, CaseIterable, ConfigChoice {
    /// Soft Actor-Critic (Haarnoja et al. 2018).
    case sac
    /// SAC with a cost critic and a Lagrange multiplier on the safety cost (Ha et al. 2020).
    case sacLagrangian = "sac-lagrangian"
    /// Model-based policy optimization (Janner et al. 2019): SAC trained mostly on short model rollouts.
    case mbpo
    /// MBPO with SAC-Lagrangian as the policy learner (the cost critic trains on model and real transitions).
    case safeMBPO = "safe-mbpo"

    /// Whether the learner has the cost critic and λ.
    public var isConstrained: Bool { self == .sacLagrangian || self == .safeMBPO }
    /// Whether the learner trains on model rollouts (`mbpo:` settings).
    public var isModelBased: Bool { self == .mbpo || self == .safeMBPO }
}

/// Settings of a training run. The loop is SAC's (Haarnoja et al. 2018, Algorithm 1): `randomSteps` env
/// steps with uniform random actions, then per env step one action sampled from π and `updatesPerStep`
/// gradient steps on minibatches from the replay buffer. Evaluations, metric rows and checkpoints happen at
/// the first episode end after each interval, so a checkpoint never holds a half-finished episode.
public struct TrainConfig: Codable, Sendable {
    public var algorithm: TrainAlgorithm = .sac
    /// Environment: `quadruped-walk`, `arm-reach` or `pendulum-swingup`, its settings in the key of that name.
    public var env: EnvironmentKind = .quadrupedWalk
    public var quadruped = QuadrupedWalkConfig()
    public var arm = ArmReachConfig()
    public var pendulum = PendulumSwingUpConfig()
    /// Random seed of the networks, the actions, the minibatches and the training episodes.
    public var seed: UInt64 = 0
    /// Environment steps of training (the budget).
    public var totalSteps: Int = 300_000
    /// Uniform random actions for this many first steps; gradient steps start after them.
    public var randomSteps: Int = 5000
    /// Gradient steps per environment step (SAC: 1; MBPO: G = 20).
    public var updatesPerStep: Int = 1
    /// Replay buffer capacity (SAC: 10⁶).
    public var replayCapacity: Int = 1_000_000
    /// Normalize observations by running mean and variance (frozen into the exported policy).
    public var normalizeObservations: Bool = true
    /// Domain randomization of the training environment: a spec file (`configs/randomization.yaml`), its draw
    /// applied at every training episode's reset from the episode's seed; empty: none. Evaluations stay nominal.
    public var randomize: String = ""
    public var sac = SACSettings()
    /// The safety constraint (used when `algorithm` is `sac-lagrangian`).
    public var lagrangian = LagrangianSettings()
    /// The model side of MBPO (used when `algorithm` is `mbpo` or `safe-mbpo`; `MBPO.swift`).
    public var mbpo = MBPOSettings()
    /// The training-time safety shield (off by default; `SafetyShield.swift`): a recovery action near the
    /// safety boundary. Evaluations and the exported policy never use it.
    public var shield = ShieldSettings()
    /// Deterministic evaluation every this many env steps (0: only at the end), over `evaluationEpisodes`
    /// episodes with seeds `evaluationSeed + i` (the same episodes every time).
    public var evaluationInterval: Int = 20_000
    public var evaluationEpisodes: Int = 5
    public var evaluationSeed: UInt64 = 1_000_000
    /// A metrics row (metrics/metrics.csv and TensorBoard) every this many env steps.
    public var logInterval: Int = 5000
    /// A checkpoint every this many env steps (and at the end).
    public var checkpointInterval: Int = 20_000
    public init() {}

    /// The environment's name and settings (for policy metadata).
    public var envConfigJSON: any Encodable & Sendable {
        switch env {
        case .quadrupedWalk: quadruped
        case .armReach: arm
        case .pendulumSwingUp: pendulum
        }
    }
}

