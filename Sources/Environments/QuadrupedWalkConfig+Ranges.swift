import ControlCore

extension QuadrupedWalkConfig.CostMode: ConfigChoice {}

/// Allowed values of ``QuadrupedWalkConfig`` (checked by the config loader at the key's file and line).
/// Physics and control rates as for the arm (1…10,000 physics steps per control step), gains and weights
/// non-negative and bounded, limits within a half turn, a standing pose of 3 joint angles (hip, thigh,
/// calf) within ±10 rad, episodes of at most 10⁷ steps.
extension QuadrupedWalkConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "physicsTimeStep": ConfigRange(1e-5, 0.1),        // s
            "controlFrequency": ConfigRange(0.1, 10_000),     // Hz
            "solverIterations": ConfigRange(1, 1_000),
            "friction": ConfigRange(0, 100),                  // μ
            "kp": ConfigRange(0, 1e6),                        // N·m/rad
            "kd": ConfigRange(0, 1e5, lowerOpen: true),       // N·m·s/rad; the servo's CFM is 1/kd
            "actionScale": ConfigRange(0, 10),                // rad per unit action
            "standingPose": ConfigRange(-10, 10),             // rad
            "commandedSpeed": ConfigRange(-10, 10),           // m/s
            "speedTrackingWeight": ConfigRange(0, 1e6),
            "speedTrackingSigma": ConfigRange(0, 100, lowerOpen: true),  // m/s
            "lateralWeight": ConfigRange(0, 1e6),
            "yawRateWeight": ConfigRange(0, 1e6),
            "energyWeight": ConfigRange(0, 1e6),
            "torqueWeight": ConfigRange(0, 1e6),
            "actionRateWeight": ConfigRange(0, 1e6),
            "aliveBonus": ConfigRange(-1e6, 1e6),
            "pitchLimit": ConfigRange(0, Double.pi),          // rad
            "rollLimit": ConfigRange(0, Double.pi),           // rad
            "fallHeight": ConfigRange(-10, 10),               // m
            "maxEpisodeSteps": ConfigRange(1, 10_000_000),
            "resetNoise": ConfigRange(0, 10),                 // rad
            "successSpeedTolerance": ConfigRange(0, 10),      // m/s
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        if standingPose.count != 3 {
            out.append(ConfigViolation(keyPath: "standingPose", message: "has \(standingPose.count) values; it takes 3 (hip, thigh, calf), applied to every leg"))
        }
        if let v = physicsStepsPerControlStepViolation(controlFrequency: controlFrequency, physicsTimeStep: physicsTimeStep) { out.append(v) }
        return out
    }
}
