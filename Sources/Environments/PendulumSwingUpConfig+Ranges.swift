import ControlCore

/// Allowed values of ``PendulumSwingUpConfig`` (checked by the config loader at the key's file and line):
/// physics steps of 10 µs…0.1 s, control at 0.1 Hz…10 kHz, torque up to 10⁴ N·m, episodes up to 10⁷ steps.
extension PendulumSwingUpConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "physicsTimeStep": ConfigRange(1e-5, 0.1),       // s
            "controlFrequency": ConfigRange(0.1, 10_000),    // Hz
            "maxTorque": ConfigRange(0, 1e4, lowerOpen: true), // N·m
            "maxEpisodeSteps": ConfigRange(1, 10_000_000),
            "velocityWeight": ConfigRange(0, 1e3),
            "torqueWeight": ConfigRange(0, 1e3),
            "resetVelocity": ConfigRange(0, 100),            // rad/s
            "uprightTolerance": ConfigRange(0, 3.15),        // rad
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        physicsStepsPerControlStepViolation(controlFrequency: controlFrequency, physicsTimeStep: physicsTimeStep).map { [$0] } ?? []
    }
}
