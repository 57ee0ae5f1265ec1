import ControlCore
import Datasets
import Foundation
import Testing
@testable import Dynamics

/// Transitions of a damped, torque-driven pendulum: θ̈ = −(g/l) sin θ − b θ̇ + u, semi-implicit Euler at
/// dt = 0.05 s; `episodes` episodes of `length` steps from random starts with random torques.
func pendulumData(episodes: Int, length: Int, seed: UInt64) -> TransitionDataset {
    var rng = SeededRNG(seed: seed)
    var s: [Double] = [], a: [Double] = [], n: [Double] = [], ep: [Int] = []
    let dt = 0.05
    for e in 0..<episodes {
        var th = rng.uniform(-2, 2), w = rng.uniform(-2, 2)
        for _ in 0..<length {
            let u = rng.uniform(-2, 2)
            let w2 = w + dt * (-9.81 * sin(th) - 0.1 * w + u)
            let th2 = th + dt * w2
            s += [th, w]; a.append(u); n += [th2, w2]; ep.append(e)
            th = th2; w = w2
        }
    }
    return TransitionDataset(stateNames: ["joint_state.position.hinge", "joint_state.velocity.hinge"],
                             actionNames: ["action.hinge"], states: s, actions: a, nextStates: n, episodes: ep)
}

func smallConfig() -> EnsembleConfig {
    var c = EnsembleConfig()
    c.members = 3; c.elites = 2; c.hiddenLayers = [64, 64]; c.weightDecay = [2.5e-5, 5e-5, 1e-4]
    c.batchSize = 64; c.maxEpochs = 40; c.learningRate = 3e-3; c.seed = 7
    return c
}

@Suite("Probabilistic ensemble (PETS/MBPO)")
struct EnsembleTests {
    @Test("fits pendulum dynamics: one-step error far below the change it predicts, calibrated variance")
    func fitsPendulum() throws {
        let data = pendulumData(episodes: 40, length: 50, seed: 1)
        let model = try ProbabilisticEnsemble(config: smallConfig(), stateNames: data.stateNames, actionNames: data.actionNames)
        let reports = try model.fit(data)
        #expect(reports.count >= 2)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss)
        let test = pendulumData(episodes: 10, length: 50, seed: 2)
        let result = evaluateDynamics(model, on: test, horizon: 10)
        // normalized one-step MSE: error relative to the typical one-step change
        #expect(result.oneStepNormalizedMSE < 0.02, "normalized one-step MSE \(result.oneStepNormalizedMSE)")
        #expect(result.calibration2Sigma > 0.8, "2σ coverage \(result.calibration2Sigma)")
        #expect(model.eliteMembers.count == 2)
    }

    @Test("with the default config, training ends by the holdout rule, before any cap, and says so")
    func stopsByHoldoutByDefault() throws {
        var config = smallConfig()
        let defaults = EnsembleConfig()
        config.maxEpochs = defaults.maxEpochs; config.maxSeconds = defaults.maxSeconds
        config.patience = defaults.patience; config.minImprovement = defaults.minImprovement
        #expect(config.maxEpochs == 0 && config.maxSeconds == 0, "no cap and no time budget by default")
        #expect(config.effectiveMaxEpochs == EnsembleConfig.epochSafetyCap)
        let data = pendulumData(episodes: 20, length: 40, seed: 11)
        let model = try ProbabilisticEnsemble(config: config, stateNames: data.stateNames, actionNames: data.actionNames)
        let reports = try model.fit(data)
        #expect(model.lastStoppedBy == .holdout)
        #expect(reports.last?.stoppedBy == .holdout)
        #expect(reports.dropLast().allSatisfy { $0.stoppedBy == nil })
        #expect(reports.count < EnsembleConfig.epochSafetyCap)
        // the rule itself: the last `patience` epochs improved no member's best by more than 1 %, the one before did
        #expect(reports.last?.epochsWithoutImprovement == config.patience)
        #expect(reports.count > config.patience && reports[reports.count - config.patience - 1].epochsWithoutImprovement == 0)
    }

    @Test("an epoch cap or a time budget ends training early and is reported as such")
    func stopsByCapOrBudget() throws {
        let data = pendulumData(episodes: 10, length: 30, seed: 12)
        var capped = smallConfig(); capped.maxEpochs = 3; capped.patience = 50
        let model = try ProbabilisticEnsemble(config: capped, stateNames: data.stateNames, actionNames: data.actionNames)
        let reports = try model.fit(data)
        #expect(reports.count == 3)
        #expect(reports.last?.stoppedBy == .maxEpochs && model.lastStoppedBy == .maxEpochs)

        var budget = smallConfig(); budget.maxEpochs = 0; budget.maxSeconds = 1e-9; budget.patience = 50
        let timed = try ProbabilisticEnsemble(config: budget, stateNames: data.stateNames, actionNames: data.actionNames)
        let one = try timed.fit(data)
        #expect(one.count == 1, "the budget is checked after each epoch")
        #expect(timed.lastStoppedBy == .timeBudget)
        #expect(TrainingStop.allCases.map(\.rawValue) == ["holdout", "max_epochs", "time_budget"])
    }

    @Test("negative caps and a zero patience are refused")
    func refusesBadStoppingSettings() {
        for change in [{ (c: inout EnsembleConfig) in c.maxEpochs = -1 }, { $0.maxSeconds = -1 }, { $0.maxSeconds = .nan }, { $0.patience = 0 }] {
            var config = smallConfig(); change(&config)
            #expect(throws: DynamicsError.self) { try ProbabilisticEnsemble(config: config, stateNames: ["s"], actionNames: ["a"]) }
        }
    }

    @Test("save → load round trip is bit-exact, and a truncated file is a clear error")
    func saveLoad() throws {
        let data = pendulumData(episodes: 8, length: 30, seed: 3)
        var config = smallConfig(); config.maxEpochs = 3
        let model = try ProbabilisticEnsemble(config: config, stateNames: data.stateNames, actionNames: data.actionNames)
        try model.fit(data)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-ens-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try model.save(to: url)
        let loaded = try ProbabilisticEnsemble.load(from: url)
        let a = model.predict(states: data.states, actions: data.actions, count: data.count)
        let b = loaded.predict(states: data.states, actions: data.actions, count: data.count)
        #expect(a.mean == b.mean && a.variance == b.variance)
        #expect(loaded.eliteMembers == model.eliteMembers)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        #expect(throws: (any Error).self) { try ProbabilisticEnsemble.load(from: url) }
    }

    @Test("wrapped angles: a log with θ in (−π, π] learns the change across the wrap")
    func wrappedAngles() throws {
        // constant rotation ω = 2 rad/s: the change is always +0.1 rad, but the logged angle wraps at ±π
        var s: [Double] = [], n: [Double] = [], a: [Double] = [], ep: [Int] = []
        for e in 0..<20 {
            var th = Double(e) * 0.3 - 3
            for _ in 0..<60 {
                let next = wrapToPi(th + 0.1)
                s += [th]; n += [next]; a.append(0); ep.append(e); th = next
            }
        }
        let data = TransitionDataset(stateNames: ["joint_state.position.wheel"], actionNames: ["action.wheel"],
                                     states: s, actions: a, nextStates: n, episodes: ep)
        var config = smallConfig(); config.wrappedAngles = ["joint_state.position.wheel"]
        let model = try ProbabilisticEnsemble(config: config, stateNames: data.stateNames, actionNames: data.actionNames)
        try model.fit(data)
        let p = model.predict(states: [3.1], actions: [0], count: 1).mean[0]
        // 3.1 + 0.1 wraps to 3.2 − 2π ≈ −3.083
        #expect(abs(p - wrapToPi(3.2)) < 0.02, "predicted \(p)")
    }

    @Test("mismatched data columns are refused with both lists named")
    func mismatch() throws {
        let data = pendulumData(episodes: 2, length: 5, seed: 1)
        let model = try ProbabilisticEnsemble(config: smallConfig(), stateNames: ["x", "y"], actionNames: ["u"])
        #expect { try model.fit(data) } throws: { "\($0)".contains("joint_state.position.hinge") }
    }
}
