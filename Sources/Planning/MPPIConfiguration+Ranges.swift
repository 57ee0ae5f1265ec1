import ControlCore

/// Allowed values of ``MPPIConfiguration`` (checked by the config loader at the key's file and line).
extension MPPIConfiguration: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "sampleCount": ConfigRange(1, 100_000),
            "temperature": ConfigRange(0, 1e9, lowerOpen: true),         // λ > 0, cost units
            "noiseStdFraction": ConfigRange(0, 10, lowerOpen: true),      // σ of the half range
            "iterations": ConfigRange(1, 1_000),
        ]
    }
}
