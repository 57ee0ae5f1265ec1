import ControlCore

/// Allowed values of ``PETSConfig`` (checked by the config loader at the key's file and line): 1…10,000
/// random episodes, 0…100,000 iterations, at most 10⁷ steps per episode (0: the environment's limit),
/// 1…1,000 particles with population × particles ≤ `SimulatorMPCConfig.maximumParticleRows`, 0…10⁶
/// evaluation episodes. Planning-cost weights 0…10⁶. The nested `arm`, `quadruped`, `dynamics` and `planner` settings have their own ranges.
extension PETSConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "seed": .seed,
            "randomEpisodes": ConfigRange(1, 10_000),
            "iterations": ConfigRange(0, 100_000),
            "maxSteps": ConfigRange(0, 10_000_000),
            "particles": ConfigRange(1, 1_000),
            "terminationPenalty": ConfigRange(0, 1e6),
            "safetyWeight": ConfigRange(0, 1e6),
            "evaluationEpisodes": ConfigRange(0, 1_000_000),
            "evaluationSeed": .seed,
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        particleRowsViolation(population: planner.maximumPopulation, particles: particles, limit: SimulatorMPCConfig.maximumParticleRows)
    }
}
