import ControlCore
import Datasets
import Foundation

/// Accuracy of a dynamics model on held-out transitions.
public struct DynamicsEvaluation: Codable, Sendable {
    /// One-step mean squared error of the next-state mean, physical units, mean over state dimensions.
    public var oneStepMSE: Double
    /// The same per state dimension.
    public var oneStepMSEPerDimension: [Double]
    /// One-step MSE of errors divided by the standard deviation of each dimension's true change (s' − s),
    /// mean over dimensions (1.0 ≈ predicting "no change … on average wrong by one typical change").
    public var oneStepNormalizedMSE: Double
    /// Mean Gaussian negative log-likelihood per dimension of the true next state under (mean, variance).
    public var oneStepNLL: Double
    /// Fraction of true next-state values within the predicted 1σ and 2σ bands (ideal 0.683 and 0.954).
    public var calibration1Sigma: Double
    public var calibration2Sigma: Double
    /// Open-loop error: RMSE over state dimensions at each step 1…H of rolling the model's mean forward with
    /// the logged actions from logged start states (physical units and normalized as above).
    public var openLoopRMSE: [Double]
    public var openLoopNormalizedRMSE: [Double]
    /// Transitions and open-loop windows evaluated.
    public var transitions: Int
    public var windows: Int
}

/// Evaluates `model` on `data`: one-step metrics on every transition, open-loop metrics on windows of
/// `horizon` consecutive transitions of the same episode, starting every `horizon` transitions.
public func evaluateDynamics(_ model: any DynamicsModel, on data: TransitionDataset, horizon: Int) -> DynamicsEvaluation {
    let S = data.stateDimension, A = data.actionDimension, n = data.count
    precondition(model.stateDimension == S && model.actionDimension == A, "model and data dimensions differ")
    let (mean, variance) = model.predict(states: data.states, actions: data.actions, count: n)
    // scale of each dimension's change, for normalized errors
    var deltaMean = [Double](repeating: 0, count: S), deltaVar = [Double](repeating: 0, count: S)
    for i in 0..<n { for d in 0..<S { deltaMean[d] += data.nextStates[i * S + d] - data.states[i * S + d] } }
    for d in 0..<S { deltaMean[d] /= Double(max(n, 1)) }
    for i in 0..<n { for d in 0..<S { let x = data.nextStates[i * S + d] - data.states[i * S + d] - deltaMean[d]; deltaVar[d] += x * x } }
    let scale = deltaVar.map { max(($0 / Double(max(n - 1, 1))).squareRoot(), 1e-8) }

    var mse = [Double](repeating: 0, count: S)
    var nmse = 0.0, nll = 0.0, in1 = 0, in2 = 0
    for i in 0..<n {
        for d in 0..<S {
            let k = i * S + d
            let e = mean[k] - data.nextStates[k]
            mse[d] += e * e
            nmse += (e / scale[d]) * (e / scale[d])
            let v = max(variance[k], 1e-12)
            nll += 0.5 * (log(2 * Double.pi * v) + e * e / v)
            let sd = v.squareRoot()
            if abs(e) <= sd { in1 += 1 }
            if abs(e) <= 2 * sd { in2 += 1 }
        }
    }
    let total = Double(max(n * S, 1))
    mse = mse.map { $0 / Double(max(n, 1)) }

    // open loop: windows of `horizon` consecutive transitions within one episode
    var starts: [Int] = []
    var i = 0
    while i + horizon <= n {
        let ep = data.episodes[i]
        if (i..<(i + horizon)).allSatisfy({ data.episodes[$0] == ep && ($0 == i || data.rows[$0] == data.rows[$0 - 1] + 1) }) {
            starts.append(i); i += horizon
        } else { i += 1 }
    }
    var olSq = [Double](repeating: 0, count: horizon), olNSq = [Double](repeating: 0, count: horizon)
    if !starts.isEmpty {
        var current = starts.flatMap { data.states[($0 * S)..<(($0 + 1) * S)] }
        for k in 0..<horizon {
            let acts = starts.flatMap { data.actions[(($0 + k) * A)..<(($0 + k + 1) * A)] }
            current = model.predict(states: current, actions: acts, count: starts.count).mean
            for (w, s0) in starts.enumerated() {
                for d in 0..<S {
                    let e = current[w * S + d] - data.nextStates[(s0 + k) * S + d]
                    olSq[k] += e * e; olNSq[k] += (e / scale[d]) * (e / scale[d])
                }
            }
        }
    }
    let m = Double(max(starts.count * S, 1))
    return DynamicsEvaluation(
        oneStepMSE: mse.reduce(0, +) / Double(S), oneStepMSEPerDimension: mse, oneStepNormalizedMSE: nmse / total,
        oneStepNLL: nll / total, calibration1Sigma: Double(in1) / total, calibration2Sigma: Double(in2) / total,
        openLoopRMSE: olSq.map { ($0 / m).squareRoot() }, openLoopNormalizedRMSE: olNSq.map { ($0 / m).squareRoot() },
        transitions: n, windows: starts.count)
}
