import ControlCore

extension PropagationMode: ConfigChoice {}

/// Allowed values of ``EnsembleConfig`` (checked by the config loader at the key's file and line).
/// 1…100 members, 1…16 hidden layers of 1…4,096 units, one weight decay per layer (hidden layers + 1),
/// minibatches of 1…100,000 rows per member, at most 10⁶ epochs (0: the default cap), a holdout fraction
/// in [0, 1) and log-variance bounds within ±20 with min < max. Widths and members are bounded so a
/// forward pass of a planner's rows stays within memory (E · rows · 4,096 floats).
extension EnsembleConfig: ConfigRanges {
    public static var ranges: [String: ConfigRange] {
        [
            "members": ConfigRange(1, 100),
            "elites": ConfigRange(1, 100),
            "hiddenLayers": ConfigRange(1, 4_096),               // units per hidden layer
            "learningRate": ConfigRange(0, 1, lowerOpen: true),
            "weightDecay": ConfigRange(0, 1),
            "batchSize": ConfigRange(1, 100_000),                // per member
            "maxEpochs": ConfigRange(0, 1_000_000),           // 0: no cap (the holdout rule ends training)
            "maxSeconds": ConfigRange(0, 1e7),               // s; 0: no time budget
            "patience": ConfigRange(1, 1_000_000),
            "minImprovement": ConfigRange(0, 1),                 // relative
            "holdoutFraction": ConfigRange(0, 1, upperOpen: true),
            "gradientClip": ConfigRange(0, 1e9),                 // 0 = off
            "initialMaxLogVariance": ConfigRange(-20, 20),
            "initialMinLogVariance": ConfigRange(-20, 20),
            "seed": .seed,
        ]
    }

    public func crossChecks() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        if elites > members { out.append(ConfigViolation(keyPath: "elites", message: "\(elites) exceeds members (\(members))", related: ["members"])) }
        if !(1...16).contains(hiddenLayers.count) {
            out.append(ConfigViolation(keyPath: "hiddenLayers", message: "has \(hiddenLayers.count) layers; allowed 1…16"))
        }
        if weightDecay.count != hiddenLayers.count + 1 {
            out.append(ConfigViolation(keyPath: "weightDecay", message: "has \(weightDecay.count) values; it needs one per layer, \(hiddenLayers.count + 1) for \(hiddenLayers.count) hidden layers",
                                       related: ["hiddenLayers"]))
        }
        if initialMinLogVariance >= initialMaxLogVariance {
            out.append(ConfigViolation(keyPath: "initialMinLogVariance", message: "\(initialMinLogVariance) is not below initialMaxLogVariance (\(initialMaxLogVariance))",
                                       related: ["initialMaxLogVariance"]))
        }
        return out
    }
}
