import ControlCore

/// Allowed values of ``SimulatorMPCConfig`` (checked by the config loader at the key's file and line).
/// 0…10⁶ episodes (0 runs none: a config check), at most 10⁷ control steps per episode (0: the
/// environment's limit), 1…256 workers, 1…1,000 particles, and for a learned model at most
/// `maximumParticleRows` particles per planning step (population × particles), which bounds the
/// ensemble's batch buffers (rows × width floats per layer).
extension SimulatorMPCConfig: ConfigRanges {
    /// Largest population × particles planned on a learned model (PETS: 500 × 20 = 10,000).
    public static let maximumParticleRows = 200_000

    public static var ranges: [String: ConfigRange] {
        [
            "episodes": ConfigRange(0, 1_000_000),
            "seed": .seed,
            "maxSteps": ConfigRange(0, 10_000_000),
            "workers": ConfigRange(1, 256),
            "terminationPenalty": ConfigRange(0, 1e6),
            "safetyWeight": ConfigRange(0, 1e6),
            "particles": ConfigRange(1, 1_000),
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        guard !model.isEmpty else { return [] }
        return particleRowsViolation(population: planner.maximumPopulation, particles: particles, limit: Self.maximumParticleRows)
    }
}

/// population × particles within `limit` (the rows of one batched ensemble forward).
func particleRowsViolation(population: Int, particles: Int, limit: Int) -> [ConfigViolation] {
    guard population * particles > limit else { return [] }
    return [ConfigViolation(keyPath: "particles", message: "\(particles) particles × population \(population) = \(population * particles) rows per planning step exceeds \(limit)",
                            related: ["planner.cem.populationSize", "planner.icem.populationSize", "planner.mppi.sampleCount", "planner.kind"])]
}
