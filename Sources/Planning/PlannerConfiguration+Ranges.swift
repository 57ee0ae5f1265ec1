import ControlCore

extension PlannerKind: ConfigChoice {}

/// Allowed values of ``PlannerConfiguration`` (checked by the config loader at the key's file and line):
/// horizon 1…1,000 decisions, replanning within the horizon, action repeat 1…1,000, a deadline of at most an
/// hour, and at most 10⁷ planned control steps per iteration (population · horizon · actionRepeat), which
/// bounds the candidate buffers (× action dimension × 8 bytes: 1 GB for 12 actions).
extension PlannerConfiguration: ConfigRanges {
    /// Largest population · horizon · actionRepeat.
    public static let maximumPlannedSteps = 10_000_000

    public static var ranges: [String: ConfigRange] {
        [
            "horizon": ConfigRange(1, 1_000),
            "replanInterval": ConfigRange(1, 1_000),
            "actionRepeat": ConfigRange(1, 1_000),
            "deadline": ConfigRange(0, 3_600),  // seconds, 0 = none
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        if replanInterval > horizon {
            out.append(ConfigViolation(keyPath: "replanInterval", message: "\(replanInterval) exceeds horizon (\(horizon))", related: ["horizon"]))
        }
        let steps = maximumPopulation * horizon * actionRepeat
        if steps > Self.maximumPlannedSteps {
            out.append(ConfigViolation(keyPath: "horizon", message: "population \(maximumPopulation) × horizon \(horizon) × actionRepeat \(actionRepeat) = \(steps) planned steps per iteration exceeds \(Self.maximumPlannedSteps)",
                                       related: ["actionRepeat", "cem.populationSize", "icem.populationSize", "mppi.sampleCount", "kind"]))
        }
        return out
    }
}
