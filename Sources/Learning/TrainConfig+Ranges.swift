import ControlCore

/// Allowed values of ``TrainConfig`` (checked by the config loader at the key's file and line): budgets and
/// intervals in env steps up to 10⁹, replay up to 10⁸ transitions, 0…1,000 gradient steps per env step.
extension TrainConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "seed": .seed,
            "totalSteps": ConfigRange(1, 1e9),
            "randomSteps": ConfigRange(0, 1e9),
            "updatesPerStep": ConfigRange(0, 1000),
            "replayCapacity": ConfigRange(1, 1e8),
            "evaluationInterval": ConfigRange(0, 1e9),
            "evaluationEpisodes": ConfigRange(0, 10_000),
            "evaluationSeed": .seed,
            "logInterval": ConfigRange(1, 1e9),
            "checkpointInterval": ConfigRange(1, 1e9),
        ]
    }
}

/// Allowed values of ``SACSettings``: widths 1…8,192, learning rate in (0, 1], γ in [0, 1), τ in (0, 1].
extension SACSettings: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "hidden": ConfigRange(1, 8192),
            "batchSize": ConfigRange(1, 1_000_000),
            "learningRate": ConfigRange(0, 1, lowerOpen: true),
            "gamma": ConfigRange(0, 1, upperOpen: true),
            "tau": ConfigRange(0, 1, lowerOpen: true),
            "initialAlpha": ConfigRange(0, 1e6, lowerOpen: true),
            "targetEntropyPerAction": ConfigRange(-100, 100),
        ]
    }
    public func crossChecks() -> [ConfigViolation] {
        hidden.isEmpty ? [ConfigViolation(keyPath: "hidden", message: "needs at least one hidden layer")] : []
    }
}

/// Allowed values of ``LagrangianSettings``: non-negative limit, step size and multipliers; γ_c in [0, 1).
extension LagrangianSettings: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "costLimit": ConfigRange(0, 1e6),
            "multiplierLearningRate": ConfigRange(0, 1e6),
            "initialMultiplier": ConfigRange(0, 1e6),
            "maxMultiplier": ConfigRange(0, 1e9),
            "costWindow": ConfigRange(1, 1e8),
            "updateInterval": ConfigRange(1, 1e9),
            "costGamma": ConfigRange(0, 1, upperOpen: true),
            "terminalCostPerStep": ConfigRange(0, 1e6),
        ]
    }
}

/// Allowed values of ``ShieldSettings``: margins in [−π, π] rad with the release at or above the trigger,
/// 1…10⁶ recovery steps, recovery action components in [−1, 1] (normalized actions).
extension ShieldSettings: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "triggerMargin": ConfigRange(-Double.pi, Double.pi),
            "releaseMargin": ConfigRange(-Double.pi, Double.pi),
            "maxSteps": ConfigRange(1, 1e6),
            "lookaheadSteps": ConfigRange(0, 1000),
            "recoveryAction": ConfigRange(-1, 1),
        ]
    }
    public func crossChecks() -> [ConfigViolation] {
        releaseMargin < triggerMargin
            ? [ConfigViolation(keyPath: "releaseMargin", message: "must be at least triggerMargin (\(triggerMargin)), or the shield would release a robot it has just taken over")]
            : []
    }
}

/// Allowed values of ``MBPOSettings``: intervals and counts from 1, the schedule [e₀, e₁, k₀, k₁] with
/// e₁ ≥ e₀ ≥ 0 and 1 ≤ k₀, k₁ ≤ 1,000, a real ratio in [0, 1].
extension MBPOSettings: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "modelTrainInterval": ConfigRange(1, 1e9),
            "rolloutsPerEnvStep": ConfigRange(1, 1e6),
            "epochLength": ConfigRange(1, 1e9),
            "rolloutSchedule": ConfigRange(0, 1e9),
            "retainEpochs": ConfigRange(1, 1e6),
            "realRatio": ConfigRange(0, 1),
            "rolloutChunk": ConfigRange(1, 1e7),
        ]
    }
    public func crossChecks() -> [ConfigViolation] {
        guard rolloutSchedule.count == 4 else {
            return [ConfigViolation(keyPath: "rolloutSchedule", message: "needs 4 numbers [e0, e1, k0, k1], has \(rolloutSchedule.count)")]
        }
        var out: [ConfigViolation] = []
        if rolloutSchedule[1] < rolloutSchedule[0] {
            out.append(ConfigViolation(keyPath: "rolloutSchedule", message: "its last epoch e1 = \(rolloutSchedule[1]) is before its first e0 = \(rolloutSchedule[0])"))
        }
        for k in rolloutSchedule[2...] where k < 1 || k > 1000 {
            out.append(ConfigViolation(keyPath: "rolloutSchedule", message: "rollout length \(k) is outside 1…1000"))
        }
        return out
    }
}
