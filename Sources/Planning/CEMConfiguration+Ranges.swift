import ControlCore

/// Allowed values of ``CEMConfiguration`` (checked by the config loader at the key's file and line).
/// N ≤ 100,000 candidates (PETS uses 500); the planner's own cap on N · H · r is in
/// `PlannerConfiguration+Ranges.swift`.
extension CEMConfiguration: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "populationSize": ConfigRange(1, 100_000),
            "eliteCount": ConfigRange(1, 100_000),
            "iterations": ConfigRange(1, 1_000),
            "smoothing": ConfigRange(0, 1, upperOpen: true),              // α ∈ [0, 1)
            "initialVarianceFraction": ConfigRange(0, 10, lowerOpen: true),  // of (ub − lb)²
            "minimumVarianceFraction": ConfigRange(0, 10),
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        eliteCount <= populationSize ? [] : [ConfigViolation(keyPath: "eliteCount", message: "\(eliteCount) exceeds populationSize (\(populationSize))", related: ["populationSize"])]
    }
}
