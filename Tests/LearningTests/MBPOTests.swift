import Control
import ControlCore
import Dynamics
import Environments
import Foundation
import NeuralNets
import Testing
@testable import Learning

/// MBPO's pieces (Janner et al. 2019): the rollout-length schedule, the model buffer, the mixed minibatch,
/// branched rollouts that stop at predicted terminal states, and MBPO against SAC on the pendulum.
@Suite struct MBPOTests {
    /// k(e): k₀ up to e₀, linear (rounded down) to k₁ at e₁, then k₁ — Ant's [20, 100, 1, 25].
    @Test func rolloutLengthFollowsTheLinearSchedule() {
        let m = MBPOSettings()
        #expect([0, 20, 21, 24, 60, 99, 100, 500].map(m.rolloutLength(epoch:)) == [1, 1, 1, 2, 13, 24, 25, 25])
        #expect(m.modelBufferCapacity(rolloutLength: 1) == 400_000 && m.modelBufferCapacity(rolloutLength: 25) == 10_000_000)
        var flat = m; flat.rolloutSchedule = [5, 5, 3, 7]
        #expect(flat.rolloutLength(epoch: 5) == 3 && flat.rolloutLength(epoch: 6) == 7)
    }

    /// A ring buffer resized keeps the newest transitions, oldest first, and keeps working as a ring.
    @Test func modelBufferKeepsTheNewestWhenResized() {
        var b = ReplayBuffer(capacity: 5, observationDimension: 1, actionDimension: 1)
        func add(_ buffer: inout ReplayBuffer, _ values: [Float]) {
            let n = values.count, zeros = [Float](repeating: 0, count: n)
            buffer.append(rows: n, observations: values, actions: values, rewards: values, costs: zeros, nextObservations: values, terminals: zeros)
        }
        add(&b, [0, 1, 2, 3, 4, 5, 6])  // 5 and 6 overwrite 0 and 1
        #expect(b.count == 5 && b.rewards == [5, 6, 2, 3, 4])
        let small = b.resized(capacity: 3)
        #expect(small.rewards == [4, 5, 6] && small.observations == [4, 5, 6] && small.count == 3 && small.position == 0)
        var large = b.resized(capacity: 10)
        #expect(large.rewards == [2, 3, 4, 5, 6] && large.position == 5)
        add(&large, [7, 8, 9, 10, 11, 12])  // fills to 10, then overwrites the oldest (2)
        #expect(large.rewards == [12, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        #expect(large.resized(capacity: 4).rewards == [9, 10, 11, 12])
    }

    /// ⌊256 · 0.05⌋ = 12 rows of each minibatch come from the real buffer, the rest from the model buffer;
    /// all from the real one while the model buffer is empty.
    @Test func minibatchesMixRealAndModelTransitions() {
        var real = ReplayBuffer(capacity: 100, observationDimension: 2, actionDimension: 1)
        var model = ReplayBuffer(capacity: 100, observationDimension: 2, actionDimension: 1)
        var rng = SeededRNG(seed: 1)
        for i in 0..<50 {
            real.append(observation: [1, Double(i)], action: [0], reward: 1, cost: 0, nextObservation: [1, 0], terminated: false)
            model.append(observation: [2, Double(i)], action: [0], reward: 2, cost: 0, nextObservation: [2, 0], terminated: false)
        }
        var settings = MBPOSettings(); settings.realRatio = 0.05
        let batch = real.sample(256, real: Int(256 * settings.realRatio), other: model, rng: &rng, normalizer: nil)
        #expect(batch.rewards.count == 256 && batch.observations.rows == 256)
        #expect(batch.rewards.prefix(12).allSatisfy { $0 == 1 } && batch.rewards.dropFirst(12).allSatisfy { $0 == 2 })
        #expect((0..<256).allSatisfy { batch.observations.storage[2 * $0] == batch.rewards[$0] })  // rows stay whole
        let realOnly = real.sample(64, real: 3, other: ReplayBuffer(capacity: 1, observationDimension: 2, actionDimension: 1), rng: &rng, normalizer: nil)
        #expect(realOnly.rewards.allSatisfy { $0 == 1 })
    }

    /// The pendulum's closed form with a fall: a predicted state spinning faster than 2 rad/s ends the rollout.
    final class SpinningPendulumTask: ObservingModelTask {
        let base: PendulumSwingUpModelTask
        let qdIndex: Int
        init(_ base: PendulumSwingUpModelTask) { self.base = base; qdIndex = base.stateNames.firstIndex { $0.hasPrefix("joint_state.velocity") }! }
        var stateNames: [String] { base.stateNames }
        var actionNames: [String] { base.actionNames }
        var actionDimension: Int { 1 }
        var observationDimension: Int { 3 }
        func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
            base.modelActions(states: states, actions: actions, rows: rows, into: out)
        }
        func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>, next: UnsafePointer<Float>,
                      rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>, terminated: UnsafeMutablePointer<UInt8>) {
            base.evaluate(states: states, actions: actions, previousActions: previousActions, next: next, rows: rows, reward: reward, cost: cost, terminated: terminated)
            for r in 0..<rows { terminated[r] = abs(next[r * stateNames.count + qdIndex]) > 2 ? 1 : 0 }
        }
        func observations(states: UnsafePointer<Float>, previousActions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
            base.observations(states: states, previousActions: previousActions, rows: rows, into: out)
        }
    }

    /// Branched rollouts from real states (all slower than 1.5 rad/s) on a fitted ensemble: a row stops at its
    /// first predicted terminal state — no stored transition starts from a state spinning faster than 2 rad/s,
    /// every terminal one ends in such a state —, so fewer than starts × k transitions are stored; the
    /// observations stored are the closed form's of the predicted states.
    @Test func branchedRolloutsStopAtPredictedTerminalStates() throws {
        let env = try PendulumSwingUpEnv(seed: 0)
        var settings = tinyMBPOSettings()
        settings.rolloutsPerEnvStep = 2; settings.modelTrainInterval = 200; settings.rolloutSchedule = [0, 0, 8, 8]; settings.ensemble.maxEpochs = 30
        let plain = try MBPOModel.make(settings: settings, env: env)
        let model = try MBPOModel(settings: settings, task: SpinningPendulumTask(plain.task as! PendulumSwingUpModelTask),
                                  stateNames: plain.stateNames, actionNames: plain.actionNames)
        var rng = SeededRNG(seed: 4)
        var obs = env.reset(seed: 1)
        for episode in 0..<6 {
            for _ in 0..<200 {
                let before = try env.modelState(names: model.stateNames, observation: obs)
                let action = [rng.uniform(-1, 1)]
                let r = env.step(action)
                let after = try env.modelState(names: model.stateNames, observation: r.observation)
                if abs(before[1]) < 1.5 { model.record(state: before, previousAction: [0], action: action, next: after, episode: episode) }
                obs = r.observation
            }
            obs = env.reset(seed: UInt64(episode + 2))
        }
        #expect(model.stateNames == ["joint_state.position.hinge", "joint_state.velocity.hinge"])
        _ = try model.retrain()
        let actor = SquashedGaussianActor(observationDimension: 3, actionDimension: 1, hidden: [8], rng: &rng)
        let report = model.rollout(epoch: 0, actor: actor, normalizer: RunningNormalizer(dimension: 3), rng: &rng)
        #expect(report.startStates == 400 && report.rolloutLength == 8 && report.nonFinite == 0)
        #expect(report.terminated > 0 && report.transitions < 400 * 8, "\(report.terminated) terminated, \(report.transitions) transitions")
        let b = model.buffer
        #expect(b.count == report.transitions)
        for i in 0..<b.count {
            #expect(abs(b.observations[3 * i + 2]) <= 2, "transition \(i) starts from a state the model called terminal")
            #expect((b.terminals[i] == 1) == (abs(b.nextObservations[3 * i + 2]) > 2))
            let c = b.observations[3 * i], s = b.observations[3 * i + 1]
            #expect(abs(c * c + s * s - 1) < 1e-4)
        }
    }

    /// MBPO learns the swing-up in far fewer env steps than SAC: after 1,200 env steps (6 episodes) with the same
    /// networks (2 × 128), MBPO's best evaluation is a solved swing-up while SAC's is still far from it.
    /// Measured here: MBPO −110, SAC −1,266 (133 s on a debug build).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MBC_LONG_TESTS"] == "1"))
    func mbpoLearnsThePendulumInFewerStepsThanSAC() throws {
        func run(_ algorithm: TrainAlgorithm) throws -> Double {
            var config = tinyPendulumConfig(steps: 1200)
            config.algorithm = algorithm
            config.sac.hidden = [128, 128]; config.sac.batchSize = 128; config.sac.learningRate = 1e-3
            config.randomSteps = 400; config.replayCapacity = 10_000; config.updatesPerStep = algorithm == .mbpo ? 10 : 1
            config.evaluationInterval = 200; config.evaluationEpisodes = 5; config.logInterval = 200; config.checkpointInterval = 1200
            config.mbpo = tinyMBPOSettings()
            config.mbpo.rolloutsPerEnvStep = 20; config.mbpo.rolloutSchedule = [1, 5, 1, 5]; config.mbpo.ensemble.hiddenLayers = [64, 64]
            config.mbpo.ensemble.members = 3
            config.mbpo.ensemble.maxEpochs = 0
            let dir = temporaryDirectory("mbpo-vs-sac")
            defer { try? FileManager.default.removeItem(at: dir) }
            return try #require(try pendulumTrainer(config, dir).run(resume: false).bestEvaluationReturn)
        }
        let mbpo = try run(.mbpo), sac = try run(.sac)
        #expect(mbpo > -300 && mbpo > sac + 300, "best evaluation after 1,200 env steps: MBPO \(mbpo), SAC \(sac)")
    }
}
