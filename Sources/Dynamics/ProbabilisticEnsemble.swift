import ControlCore
import Datasets
import Foundation
import NeuralNets

/// Per-epoch training report.
public struct EpochReport: Sendable {
    public var epoch: Int
    /// Mean training loss (Gaussian NLL per member, normalized units) over the epoch's minibatches.
    public var trainLoss: Double
    /// Holdout MSE of each member's mean prediction, normalized target units.
    public var holdoutMSE: [Double]
    /// Epochs since any member last improved.
    public var epochsWithoutImprovement: Int
    /// The rule that ended training after this epoch; nil for every epoch but the last.
    public var stoppedBy: TrainingStop? = nil
}

/// How a sampled trajectory uses the ensemble (Chua et al. 2018, §5 "trajectory sampling").
public enum PropagationMode: String, Codable, Sendable, CaseIterable {
    /// TS-∞: each particle keeps one member for the whole horizon.
    case tsInfinity = "ts-inf"
    /// TS-1: each particle draws a new member every step.
    case tsOne = "ts-1"
    /// Expectation: the mean over the elites, no sampling.
    case expectation
}

/// The network plus its learned log-variance bounds: what one Adam step updates.
struct EnsembleParameters: Trainable, Sendable {
    var net: EnsembleMLP
    var bounds: LogVarianceBounds
    mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try net.forEachParameter(body)
        try bounds.forEachParameter(body)
    }
}

/// A probabilistic ensemble dynamics model (PETS / MBPO): E MLPs with Gaussian heads predicting the
/// normalized change of the state, Δs = s' − s, trained by Gaussian negative log-likelihood with learned
/// soft log-variance bounds on bootstrap resamples, early-stopped on a holdout split by episode, with the
/// best `elites` members kept for prediction.
///
/// Inputs are [state features, action] normalized by their training mean and standard deviation (angles in
/// `wrappedAngles` enter as sin and cos); targets are Δs normalized likewise. `predict` returns the next
/// state's mean and variance in physical units, combining the elites as a Gaussian mixture (mean of
/// means; mean of variances plus variance of means). Quaternion states `base.orientation.{w,x,y,z}` are
/// renormalized after each prediction.
public final class ProbabilisticEnsemble: DynamicsModel, @unchecked Sendable {
    public let config: EnsembleConfig
    public let stateNames: [String]
    public let actionNames: [String]
    public var stateDimension: Int { stateNames.count }
    public var actionDimension: Int { actionNames.count }
    /// Indices of the elite members, best first.
    public internal(set) var eliteMembers: [Int]
    var parameters: EnsembleParameters
    /// Normalization statistics: input features (mean, std) and Δs (mean, std).
    var inputMean: [Float], inputStd: [Float], targetMean: [Float]
    /// Standard deviation of the training targets Δs per state column (physical units): the unit of the
    /// normalized holdout MSE.
    public internal(set) var targetStd: [Float]
    let angleDims: [Int]
    let quaternionDims: [Int]?

    /// An untrained ensemble for the given state and action names.
    public init(config: EnsembleConfig = EnsembleConfig(), stateNames: [String], actionNames: [String]) throws {
        guard config.members >= 1, config.elites >= 1, config.elites <= config.members else {
            throw DynamicsError.invalidConfig("elites (\(config.elites)) must be between 1 and members (\(config.members))")
        }
        guard config.maxEpochs >= 0, config.maxSeconds >= 0, config.maxSeconds.isFinite, config.patience >= 1 else {
            throw DynamicsError.invalidConfig("maxEpochs (\(config.maxEpochs)) and maxSeconds (\(config.maxSeconds)) must be ≥ 0 (0 = no cap), patience (\(config.patience)) ≥ 1")
        }
        guard config.weightDecay.count == config.hiddenLayers.count + 1 else {
            throw DynamicsError.invalidConfig("weightDecay needs \(config.hiddenLayers.count + 1) values (one per layer), got \(config.weightDecay.count)")
        }
        self.config = config
        self.stateNames = stateNames
        self.actionNames = actionNames
        angleDims = config.wrappedAngles.compactMap { stateNames.firstIndex(of: $0) }
        let q = ["base.orientation.w", "base.orientation.x", "base.orientation.y", "base.orientation.z"].map { stateNames.firstIndex(of: $0) }
        quaternionDims = q.allSatisfy { $0 != nil } ? q.map { $0! } : nil
        let inputSize = stateNames.count + angleDims.count + actionNames.count
        var rng = SeededRNG(seed: config.seed)
        var net = EnsembleMLP(members: config.members, widths: [inputSize] + config.hiddenLayers + [2 * stateNames.count],
                              hiddenActivation: config.activation.activation, initialization: config.initialization, rng: &rng)
        net.setWeightDecay(config.weightDecay.map { Float($0) })
        parameters = EnsembleParameters(net: net, bounds: LogVarianceBounds(
            outputSize: stateNames.count, max: Float(config.initialMaxLogVariance), min: Float(config.initialMinLogVariance)))
        inputMean = Array(repeating: 0, count: inputSize); inputStd = Array(repeating: 1, count: inputSize)
        targetMean = Array(repeating: 0, count: stateNames.count); targetStd = Array(repeating: 1, count: stateNames.count)
        eliteMembers = Array(0..<config.elites)
    }

    // MARK: - features

    /// Network input features of `count` rows: states (with sin/cos for wrapped angles) then actions, raw.
    func features(states: [Double], actions: [Double], count: Int) -> [Float] {
        let S = stateDimension, A = actionDimension, F = S + angleDims.count + A
        var out = [Float](repeating: 0, count: count * F)
        for i in 0..<count {
            var k = i * F
            for d in 0..<S {
                let v = states[i * S + d]
                out[k] = Float(angleDims.contains(d) ? sin(v) : v); k += 1
            }
            for d in angleDims { out[k] = Float(cos(states[i * S + d])); k += 1 }
            for d in 0..<A { out[k] = Float(actions[i * A + d]); k += 1 }
        }
        return out
    }

    /// Δs targets, wrapped for angle dimensions.
    func deltas(_ data: TransitionDataset) -> [Float] {
        let S = stateDimension
        return (0..<(data.count * S)).map { k in
            var d = data.nextStates[k] - data.states[k]
            if angleDims.contains(k % S) { d = wrapToPi(d) }
            return Float(d)
        }
    }

    // MARK: - training

    /// Fits the ensemble to `data` (PETS/MBPO recipe): normalizers from the training split, bootstrap
    /// resamples per member, Adam on the Gaussian NLL with the log-variance bound regularizer, early
    /// stopping on the holdout split (whole episodes), best weights per member, elites by holdout MSE.
    ///
    /// Training ends, checked after each epoch in this order, when (1) `patience` consecutive epochs passed
    /// without any member improving its best holdout MSE by more than `minImprovement` (relative) — the
    /// default rule —, (2) the epoch cap `config.effectiveMaxEpochs` is reached, or (3) `maxSeconds` of
    /// training have passed. The rule is recorded in the last report's `stoppedBy` and in `lastStoppedBy`.
    /// - Returns: the per-epoch reports.
    /// - Throws: `DynamicsError` when the data do not match the model or contain non-finite values.
    @discardableResult
    public func fit(_ data: TransitionDataset, progress: ((EpochReport) -> Void)? = nil) throws -> [EpochReport] {
        guard data.stateNames == stateNames, data.actionNames == actionNames else {
            throw DynamicsError.mismatch("data columns \(data.stateNames + data.actionNames) differ from the model's \(stateNames + actionNames)")
        }
        let (train, holdout) = data.splitByEpisode(holdoutFraction: config.holdoutFraction, seed: config.seed)
        guard train.count >= 2, holdout.count >= 1 else { throw DynamicsError.insufficientData("need at least 2 training and 1 holdout transitions, have \(train.count) and \(holdout.count)") }
        let F = inputMean.count, S = stateDimension, E = config.members
        let xTrain = features(states: train.states, actions: train.actions, count: train.count)
        let yTrain = deltas(train)
        if let bad = xTrain.firstIndex(where: { !$0.isFinite }) ?? yTrain.firstIndex(where: { !$0.isFinite }) {
            throw DynamicsError.nonFinite("transition \(bad / max(F, 1)) has a non-finite value")
        }
        (inputMean, inputStd) = columnStatistics(xTrain, columns: F)
        (targetMean, targetStd) = columnStatistics(yTrain, columns: S)
        let xn = normalize(xTrain, mean: inputMean, std: inputStd)
        let yn = normalize(yTrain, mean: targetMean, std: targetStd)
        let xHold = normalize(features(states: holdout.states, actions: holdout.actions, count: holdout.count), mean: inputMean, std: inputStd)
        let yHold = normalize(deltas(holdout), mean: targetMean, std: targetStd)

        var rng = SeededRNG(seed: config.seed &+ 1)
        let n = train.count
        let memberIndices: [[Int]] = (0..<E).map { _ in
            config.bootstrap ? (0..<n).map { _ in Int(rng.next() % UInt64(n)) } : Array(0..<n)
        }
        var adam = Adam(learningRate: Float(config.learningRate),
                        maxGradientNorm: config.gradientClip > 0 ? Float(config.gradientClip) : nil)
        let B = min(config.batchSize, n)
        var best = holdoutMSE(xHold, yHold, count: holdout.count)
        var bestNets = (0..<E).map { parameters.net.member($0) }
        var reports: [EpochReport] = []
        var stale = 0
        var xb = [Float](repeating: 0, count: E * B * F), yb = [Float](repeating: 0, count: E * B * S)
        let started = Date()
        let cap = config.effectiveMaxEpochs
        for epoch in 1...cap {
            let orders = memberIndices.map { idx -> [Int] in var o = idx; shuffle(&o, &rng); return o }
            var lossSum = 0.0, batches = 0
            var start = 0
            while start + B <= n {
                // gather each member's minibatch: (E × B × F) inputs, (E × B × S) targets
                for e in 0..<E {
                    for r in 0..<B {
                        let i = orders[e][start + r]
                        let xo = (e * B + r) * F, yo = (e * B + r) * S
                        for f in 0..<F { xb[xo + f] = xn[i * F + f] }
                        for s in 0..<S { yb[yo + s] = yn[i * S + s] }
                    }
                }
                let loss = trainStep(inputs: xb, targets: yb, batch: B, optimizer: &adam)
                lossSum += Double(loss); batches += 1
                start += B
            }
            parameters.net.clearCache()
            // early stopping on the holdout MSE, keeping each member's best weights
            let mse = holdoutMSE(xHold, yHold, count: holdout.count)
            var improved = false
            for e in 0..<E where (best[e] - mse[e]) / max(abs(best[e]), 1e-12) > config.minImprovement {
                best[e] = mse[e]; bestNets[e] = parameters.net.member(e); improved = true
            }
            stale = improved ? 0 : stale + 1
            var report = EpochReport(epoch: epoch, trainLoss: lossSum / Double(max(batches, 1)) / Double(E),
                                     holdoutMSE: mse, epochsWithoutImprovement: stale)
            if stale >= config.patience {
                report.stoppedBy = .holdout
            } else if epoch == cap {
                report.stoppedBy = .maxEpochs
            } else if config.maxSeconds > 0, Date().timeIntervalSince(started) >= config.maxSeconds {
                report.stoppedBy = .timeBudget
            }
            reports.append(report)
            progress?(report)
            if lossSum.isNaN { throw DynamicsError.nonFinite("training loss became NaN at epoch \(epoch)") }
            if report.stoppedBy != nil { break }
        }
        parameters.net = EnsembleMLP(stacking: bestNets)
        eliteMembers = Array((0..<E).sorted { best[$0] < best[$1] }.prefix(config.elites))
        lastHoldoutMSE = best
        lastStoppedBy = reports.last?.stoppedBy
        return reports
    }

    /// One Adam step on one minibatch per member: inputs (E × batch × F) and targets (E × batch × S), both
    /// normalized. Returns the loss (Gaussian NLL summed over members + bound regularizer).
    @discardableResult
    public func trainStep(inputs: [Float], targets: [Float], batch: Int, optimizer: inout Adam) -> Float {
        let E = config.members, F = inputMean.count, S = stateDimension
        parameters.zeroGrad()
        let head = parameters.net.forward(BatchedMatrix(count: E, rows: batch, cols: F, storage: inputs))
        let loss = Loss.gaussianNLL(head: head, target: BatchedMatrix(count: E, rows: batch, cols: S, storage: targets),
                                    bounds: parameters.bounds)
        parameters.net.accumulateGradients(loss.gradHead)
        parameters.bounds.accumulateGradients(from: loss)
        optimizer.step(&parameters)
        return loss.value
    }

    /// Input feature width F of the network.
    public var inputSize: Int { inputMean.count }

    /// Where the training data came from, saved with the model (e.g. `env`, `arm.controlMode`), so a planner
    /// can refuse an environment whose actions mean something else. Empty when unknown.
    public var provenance: [String: String] = [:]

    /// The best holdout MSE of each member (normalized units) after the last `fit`.
    public internal(set) var lastHoldoutMSE: [Double] = []

    /// The rule that ended the last `fit` (nil before any fit, and for a model loaded from a file).
    public internal(set) var lastStoppedBy: TrainingStop?

    /// Holdout MSE of each member's mean, normalized targets.
    func holdoutMSE(_ x: [Float], _ y: [Float], count: Int) -> [Double] {
        let E = config.members, S = stateDimension, F = inputMean.count
        var sums = [Double](repeating: 0, count: E)
        let chunk = 2048
        var start = 0
        while start < count {
            let m = min(chunk, count - start)
            let slice = Array(x[(start * F)..<((start + m) * F)])
            let input = BatchedMatrix(repeating: Matrix(rows: m, cols: F, storage: slice), count: E)
            let head = parameters.net(input)
            for e in 0..<E {
                for r in 0..<m {
                    for s in 0..<S {
                        let err = Double(head.storage[(e * m + r) * 2 * S + s] - y[(start + r) * S + s])
                        sums[e] += err * err
                    }
                }
            }
            start += m
        }
        return sums.map { $0 / Double(max(count * S, 1)) }
    }

    // MARK: - prediction

    /// Every member's prediction for every row: next-state means and variances (physical units),
    /// each (members × count × S).
    public func predictMembers(states: [Double], actions: [Double], count: Int, members: [Int]? = nil) -> (mean: [Double], variance: [Double]) {
        let S = stateDimension, F = inputMean.count
        let net = members.map { parameters.net.selecting(members: $0) } ?? parameters.net
        let E = net.members
        let x = normalize(features(states: states, actions: actions, count: count), mean: inputMean, std: inputStd)
        let head = net(BatchedMatrix(repeating: Matrix(rows: count, cols: F, storage: x), count: E))
        let (mu, logVar) = parameters.bounds.meanAndLogVariance(head)
        var mean = [Double](repeating: 0, count: E * count * S), variance = mean
        for e in 0..<E {
            for r in 0..<count {
                for s in 0..<S {
                    let k = (e * count + r) * S + s
                    let std = Double(targetStd[s])
                    mean[k] = states[r * S + s] + Double(mu.storage[k]) * std + Double(targetMean[s])
                    variance[k] = exp(Double(logVar.storage[k])) * std * std
                }
            }
        }
        return (mean, variance)
    }

    /// The elites' combined prediction (Gaussian mixture moments), physical units, (count × S) each.
    public func predict(states: [Double], actions: [Double], count: Int) -> (mean: [Double], variance: [Double]) {
        let S = stateDimension, K = eliteMembers.count
        let (m, v) = predictMembers(states: states, actions: actions, count: count, members: eliteMembers)
        var mean = [Double](repeating: 0, count: count * S), variance = mean
        for k in 0..<(count * S) {
            var mu = 0.0, second = 0.0
            for e in 0..<K { let x = m[e * count * S + k]; mu += x; second += v[e * count * S + k] + x * x }
            mu /= Double(K)
            mean[k] = mu
            variance[k] = max(second / Double(K) - mu * mu, 0)
        }
        finish(&mean, count: count)
        return (mean, variance)
    }

    /// One sampled step for `count` particles: particle i uses elite `memberOf[i]` (TS-∞ keeps the same
    /// assignment over a horizon, TS-1 redraws it every step) and draws s' ~ N(mean, variance) of that member.
    public func sample(states: [Double], actions: [Double], count: Int, memberOf: [Int], rng: inout SeededRNG) -> [Double] {
        let S = stateDimension
        let (m, v) = predictMembers(states: states, actions: actions, count: count, members: eliteMembers)
        var out = [Double](repeating: 0, count: count * S)
        for i in 0..<count {
            let e = memberOf[i] % eliteMembers.count
            for s in 0..<S {
                let k = (e * count + i) * S + s
                out[i * S + s] = m[k] + v[k].squareRoot() * rng.normal()
            }
        }
        finish(&out, count: count)
        return out
    }

    /// Wraps angle states and renormalizes a base quaternion, in place.
    func finish(_ s: inout [Double], count: Int) {
        let S = stateDimension
        for i in 0..<count {
            for d in angleDims { s[i * S + d] = wrapToPi(s[i * S + d]) }
            if let q = quaternionDims {
                let n = q.map { s[i * S + $0] * s[i * S + $0] }.reduce(0, +).squareRoot()
                if n > 0 { for d in q { s[i * S + d] /= n } }
            }
        }
    }
}

/// Why a dynamics model could not be built, trained, loaded or used.
public enum DynamicsError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String)
    case mismatch(String)
    case insufficientData(String)
    case nonFinite(String)
    case file(String)
    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid ensemble config: \(m)"
        case .mismatch(let m): return "data do not match the model: \(m)"
        case .insufficientData(let m): return "not enough data: \(m)"
        case .nonFinite(let m): return "non-finite values: \(m)"
        case .file(let m): return m
        }
    }
}

// MARK: - helpers

func wrapToPi(_ a: Double) -> Double {
    var x = (a + Double.pi).truncatingRemainder(dividingBy: 2 * Double.pi)
    if x < 0 { x += 2 * Double.pi }
    return x - Double.pi
}

/// Per-column mean and standard deviation (std floored at 1e-6 so constant columns stay finite).
func columnStatistics(_ x: [Float], columns: Int) -> ([Float], [Float]) {
    let rows = x.count / max(columns, 1)
    var mean = [Double](repeating: 0, count: columns), sq = mean
    for r in 0..<rows { for c in 0..<columns { mean[c] += Double(x[r * columns + c]) } }
    for c in 0..<columns { mean[c] /= Double(max(rows, 1)) }
    for r in 0..<rows { for c in 0..<columns { let d = Double(x[r * columns + c]) - mean[c]; sq[c] += d * d } }
    let std = sq.map { max(($0 / Double(max(rows, 1))).squareRoot(), 1e-6) }
    return (mean.map(Float.init), std.map(Float.init))
}

func normalize(_ x: [Float], mean: [Float], std: [Float]) -> [Float] {
    let c = mean.count
    var out = x
    for i in out.indices { out[i] = (out[i] - mean[i % c]) / std[i % c] }
    return out
}

func shuffle(_ a: inout [Int], _ rng: inout SeededRNG) {
    guard a.count > 1 else { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
}
