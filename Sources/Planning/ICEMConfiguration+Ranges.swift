import ControlCore

/// Allowed values of ``ICEMConfiguration`` (checked by the config loader at the key's file and line).
extension ICEMConfiguration: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "populationSize": ConfigRange(1, 100_000),
            "eliteCount": ConfigRange(1, 100_000),
            "iterations": ConfigRange(1, 1_000),
            "noiseExponent": ConfigRange(0, 10),                       // β ≥ 0 (2: pink-ish, 0: white)
            "populationDecay": ConfigRange(1, 100),                    // γ ≥ 1
            "keptEliteFraction": ConfigRange(0, 1),                    // ξ
            "smoothing": ConfigRange(0, 1, upperOpen: true),           // α ∈ [0, 1)
            "initialStdFraction": ConfigRange(0, 10, lowerOpen: true),  // of the half range
            "minimumStdFraction": ConfigRange(0, 10),
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        eliteCount <= populationSize ? [] : [ConfigViolation(keyPath: "eliteCount", message: "\(eliteCount) exceeds populationSize (\(populationSize))", related: ["populationSize"])]
    }
}
