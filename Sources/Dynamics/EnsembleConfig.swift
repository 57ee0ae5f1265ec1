import Foundation
import NeuralNets

/// Settings of a probabilistic ensemble (PETS, Chua et al. 2018; MBPO, Janner et al. 2019), every default
/// written out in `configs/dynamics.yaml`. Decoding is synthesized; documents that name only some keys
/// (a YAML file, the settings stored in a model written by an older version) are merged over the defaults
/// by `ConfigCoding.decode(_:fromJSON:)`. Ranges: `EnsembleConfig+Ranges.swift`.
public struct EnsembleConfig: Codable, Sendable, Hashable {
    /// Ensemble members E (MBPO: 7) and elites kept for prediction (MBPO: 5; PETS uses all 5 of 5).
    public var members: Int = 7
    public var elites: Int = 5
    /// Hidden layer widths (PETS/MBPO: 4 × 200).
    public var hiddenLayers: [Int] = [200, 200, 200, 200]
    /// Hidden activation: silu (MBPO's swish), relu, tanh, elu.
    public var activation: HiddenActivation = .silu
    /// Weight initialization: `truncated-normal` (PETS/mbrl-lib: N(0, 1/(4·fan_in)) cut at ±2σ),
    /// `he-uniform` or `xavier-uniform`.
    public var initialization: WeightInitialization = .truncatedNormal
    /// Adam learning rate (MBPO: 1e-3).
    public var learningRate: Double = 1e-3
    /// L2 weight decay per layer, input to output (PETS: 2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4).
    public var weightDecay: [Double] = [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]
    /// Minibatch size per member.
    public var batchSize: Int = 256
    /// Optional cap on training epochs, a budget rather than the stopping rule: 0 (the default) = no cap, so
    /// training ends when the holdout criterion (`patience`, `minImprovement`) stops it; a safety cap of
    /// `EnsembleConfig.epochSafetyCap` epochs applies even then. A fit that ends here reports
    /// `TrainingStop.maxEpochs`. PETS keeps a cap of 200 (`PETSConfig`).
    public var maxEpochs: Int = 0
    /// Optional wall-clock budget for training, seconds (checked after each epoch); 0 = none. A fit that ends
    /// here reports `TrainingStop.timeBudget` (the result then depends on the machine's speed).
    public var maxSeconds: Double = 0
    /// Early stopping (MBPO, Janner et al. 2019; mbrl-lib): stop after this many consecutive epochs in which
    /// no member improved its best holdout MSE by more than `minImprovement` (relative); each member keeps
    /// its best weights. This is what ends training by default (`TrainingStop.holdout`).
    public var patience: Int = 5
    public var minImprovement: Double = 0.01
    /// Epochs after which training stops even without a cap (`maxEpochs` 0) and while the holdout error is
    /// still improving, so that a run cannot go on forever.
    public static let epochSafetyCap = 10_000
    /// The epoch cap in force: `maxEpochs` when set, else `epochSafetyCap`.
    public var effectiveMaxEpochs: Int { maxEpochs > 0 ? maxEpochs : Self.epochSafetyCap }
    /// Fraction of episodes held out for early stopping and elite selection.
    public var holdoutFraction: Double = 0.2
    /// Train each member on its own bootstrap resample of the training set.
    public var bootstrap: Bool = true
    /// Global gradient-norm clip (0 = off).
    public var gradientClip: Double = 0
    /// Initial soft log-variance bounds (mbrl-lib: max 0.5, min −10), learned during training.
    public var initialMaxLogVariance: Double = 0.5
    public var initialMinLogVariance: Double = -10
    /// State columns whose values are angles wrapping at ±π (fed to the network as sin, cos; their change
    /// is wrapped to (−π, π]). Angles logged unwrapped (as this package's recorder does) need none.
    public var wrappedAngles: [String] = []
    /// Seed of initialization, bootstrap and minibatch order.
    public var seed: UInt64 = 0
    public init() {}
}

/// Which rule ended a `ProbabilisticEnsemble.fit`.
public enum TrainingStop: String, Codable, Sendable, CaseIterable {
    /// The holdout criterion: `patience` epochs without a member improving its holdout MSE by
    /// `minImprovement` (the default way training ends).
    case holdout
    /// The epoch cap: `maxEpochs`, or `EnsembleConfig.epochSafetyCap` when there is none.
    case maxEpochs = "max_epochs"
    /// The wall-clock budget `maxSeconds`.
    case timeBudget = "time_budget"
}
