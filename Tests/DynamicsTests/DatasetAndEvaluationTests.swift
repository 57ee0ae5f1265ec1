import ControlCore
import Datasets
import Foundation
import Testing
@testable import Dynamics

/// s' = s + dt·a exactly, reporting a fixed per-dimension variance: a known model for checking the metrics.
final class KnownIntegrator: DynamicsModel {
    let stateDimension = 2, actionDimension = 2
    let dt: Double, variance: Double
    init(dt: Double, variance: Double) { self.dt = dt; self.variance = variance }
    func predict(states: [Double], actions: [Double], count: Int) -> (mean: [Double], variance: [Double]) {
        (zip(states, actions).map { $0 + dt * $1 }, Array(repeating: variance, count: states.count))
    }
}

/// A log of a noisy integrator: s' = s + dt·a + N(0, σ²) per dimension, `episodes` episodes of `length` rows.
func integratorLog(episodes: Int, length: Int, dt: Double, sigma: Double, seed: UInt64) throws -> LogTable {
    var rng = SeededRNG(seed: seed)
    var cols = [[Double]](repeating: [], count: 7)
    for e in 0..<episodes {
        var s = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        for f in 0..<length {
            let a = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
            for (k, v) in [Double(e), Double(f), Double(f) * dt, s[0], s[1], a[0], a[1]].enumerated() { cols[k].append(v) }
            s = (0..<2).map { s[$0] + dt * a[$0] + sigma * rng.normal() }
        }
    }
    return try LogTable(columns: ["episode_index", "frame_index", "timestamp", "joint_state.position.x", "joint_state.position.y",
                                  "action.x", "action.y"], values: cols, source: "integrator.csv")
}

@Suite("Transition datasets and model evaluation")
struct DatasetAndEvaluationTests {
    @Test("transitions pair consecutive rows within an episode; the default spec finds state and action columns")
    func transitions() throws {
        let table = try integratorLog(episodes: 3, length: 10, dt: 0.1, sigma: 0, seed: 1)
        let data = try TransitionDataset(table: table)
        #expect(data.stateNames == ["joint_state.position.x", "joint_state.position.y"])
        #expect(data.actionNames == ["action.x", "action.y"])
        #expect(data.count == 27)
        // s' = s + dt·a holds for every transition of the noise-free log
        for i in 0..<data.count { for d in 0..<2 {
            #expect(abs(data.nextStates[i * 2 + d] - data.states[i * 2 + d] - 0.1 * data.actions[i * 2 + d]) < 1e-12)
        } }
        let (train, hold) = data.splitByEpisode(holdoutFraction: 0.34, seed: 2)
        #expect(train.count + hold.count == 27)
        #expect(Set(train.episodes).isDisjoint(with: Set(hold.episodes)))
    }

    @Test("shuffling the log's columns gives the same dataset")
    func columnOrder() throws {
        let table = try integratorLog(episodes: 2, length: 5, dt: 0.1, sigma: 0.01, seed: 3)
        let order = [6, 2, 4, 0, 5, 3, 1]
        let shuffled = try LogTable(columns: order.map { table.columns[$0] }, values: order.map { table.values[$0] })
        let a = try TransitionDataset(table: table), b = try TransitionDataset(table: shuffled)
        #expect(a.states == b.states && a.actions == b.actions && a.nextStates == b.nextStates)
    }

    @Test("a log without action columns names what is missing")
    func missingActions() throws {
        let table = try LogTable(columns: ["joint_state.position.x"], values: [[0, 1, 2]], source: "noact.csv")
        #expect { try TransitionDataset(table: table) } throws: { "\($0)".contains("action") }
    }

    @Test("metrics of a known model: MSE equals the noise variance, the 1σ/2σ bands hold 68 % and 95 %")
    func metrics() throws {
        let sigma = 0.05
        let table = try integratorLog(episodes: 40, length: 50, dt: 0.1, sigma: sigma, seed: 4)
        let data = try TransitionDataset(table: table)
        let result = evaluateDynamics(KnownIntegrator(dt: 0.1, variance: sigma * sigma), on: data, horizon: 10)
        #expect(abs(result.oneStepMSE - sigma * sigma) / (sigma * sigma) < 0.05)
        #expect(abs(result.calibration1Sigma - 0.683) < 0.02)
        #expect(abs(result.calibration2Sigma - 0.954) < 0.01)
        // open-loop error grows like a random walk: σ√k
        #expect(result.openLoopRMSE.count == 10)
        #expect(abs(result.openLoopRMSE[0] - sigma) / sigma < 0.1)
        #expect(abs(result.openLoopRMSE[9] - sigma * 10.0.squareRoot()) / (sigma * 10.0.squareRoot()) < 0.2)
        // NLL of a correctly specified Gaussian: ½ log(2πσ²) + ½
        #expect(abs(result.oneStepNLL - (0.5 * log(2 * Double.pi * sigma * sigma) + 0.5)) < 0.05)
    }
}
