import ControlCore

extension ArmReachConfig.ControlMode: ConfigChoice {}

/// Allowed values of ``ArmReachConfig`` (checked by the config loader at the key's file and line). Physics
/// steps of 10 µs…0.1 s, control at 0.1 Hz…10 kHz with 1…10,000 physics steps per control step; gains,
/// scales and weights non-negative and bounded; episodes of at most 10⁷ steps; poses within ±10 rad.
extension ArmReachConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "physicsTimeStep": ConfigRange(1e-5, 0.1),       // s
            "controlFrequency": ConfigRange(0.1, 10_000),    // Hz
            "kp": ConfigRange(0, 1e6),                       // N·m/rad
            "kd": ConfigRange(0, 1e5, lowerOpen: true),      // N·m·s/rad; the servo's CFM is 1/kd
            "torqueScale": ConfigRange(0, 10),               // of the effort limit
            "controlCostWeight": ConfigRange(0, 1e3),
            "successRadius": ConfigRange(0, 10),             // m
            "maxEpisodeSteps": ConfigRange(1, 10_000_000),
            "homePose": ConfigRange(-10, 10),                // rad (m for a prismatic joint)
            "resetNoise": ConfigRange(0, 10),                // rad
            "targetRangeFraction": ConfigRange(0, 1),
            "minTargetHeight": ConfigRange(-10, 10),         // m
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        physicsStepsPerControlStepViolation(controlFrequency: controlFrequency, physicsTimeStep: physicsTimeStep).map { [$0] } ?? []
    }
}

/// 1…10,000 physics steps per control step (1 / (controlFrequency · physicsTimeStep), rounded).
func physicsStepsPerControlStepViolation(controlFrequency: Double, physicsTimeStep: Double) -> ConfigViolation? {
    let substeps = 1 / (controlFrequency * physicsTimeStep)
    guard substeps.rounded() < 1 || substeps.rounded() > 10_000 else { return nil }
    return ConfigViolation(keyPath: "controlFrequency",
                           message: "\(controlFrequency) Hz with physicsTimeStep \(physicsTimeStep) s gives \(substeps.rounded()) physics steps per control step; allowed 1…10000",
                           related: ["physicsTimeStep"])
}
