import ControlCore
import Datasets
import Dynamics
import Environments
import Foundation
import Planning
import Robots
import Testing
@testable import Control

/// A small ensemble fitted to a noisy 2-D linear system (s' = A s + B a + noise), so normalizers and
/// weights are non-trivial.
private func fittedToyEnsemble(members: Int = 3, epochs: Int = 5, seed: UInt64 = 0) throws -> ProbabilisticEnsemble {
    var rng = SeededRNG(seed: seed)
    var states: [Double] = [], actions: [Double] = [], next: [Double] = [], episodes: [Int] = []
    for e in 0..<10 {
        var s = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        for _ in 0..<40 {
            let a = rng.uniform(-1, 1)
            let n = [s[0] + 0.1 * s[1], 0.95 * s[1] + 0.2 * a + 0.01 * rng.normal()]
            states += s; actions.append(a); next += n; episodes.append(e)
            s = n
        }
    }
    let data = TransitionDataset(stateNames: ["joint_state.position.j", "joint_state.velocity.j"], actionNames: ["action.j"],
                                 states: states, actions: actions, nextStates: next, episodes: episodes)
    var config = EnsembleConfig()
    config.members = members; config.elites = members; config.hiddenLayers = [32, 32]
    config.weightDecay = [0, 0, 0]; config.maxEpochs = epochs; config.batchSize = 64; config.seed = seed
    let model = try ProbabilisticEnsemble(config: config, stateNames: data.stateNames, actionNames: data.actionNames)
    try model.fit(data)
    return model
}

/// Cost = s₀² (drive the first state to zero) + 0.01 a², actions enter the model unchanged.
private final class ToyTask: ModelTask {
    let stateNames = ["joint_state.position.j", "joint_state.velocity.j"]
    let actionNames = ["action.j"]
    let actionDimension = 1
    func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(from: actions, count: rows)
    }
    func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                  next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                  terminated: UnsafeMutablePointer<UInt8>) {
        for r in 0..<rows { reward[r] = -(next[2 * r] * next[2 * r] + 0.01 * actions[r] * actions[r]); cost[r] = 0; terminated[r] = 0 }
    }
}

@Suite("Planning on a learned ensemble (PETS)")
struct EnsemblePlanningTests {
    @Test("the planning propagator's member means equal the ensemble's own predictions")
    func propagatorMatchesPredictMembers() throws {
        let model = try fittedToyEnsemble()
        let K = model.eliteMembers.count, R = 4
        var rng = SeededRNG(seed: 9)
        let states = (0..<(K * R * 2)).map { _ in rng.uniform(-1, 1) }, actions = (0..<(K * R)).map { _ in rng.uniform(-1, 1) }
        let propagator = EnsemblePropagator(model: model, maxRowsPerMember: R)
        var next = [Float](repeating: 0, count: K * R * 2)
        let s = states.map(Float.init), a = actions.map(Float.init)
        propagator.step(states: s, actions: a, rowsPerMember: R, next: &next, noise: nil)
        for k in 0..<K {
            let block = Array(states[(k * R * 2)..<((k + 1) * R * 2)]), act = Array(actions[(k * R)..<((k + 1) * R)])
            let (mean, _) = model.predictMembers(states: block, actions: act, count: R, members: [model.eliteMembers[k]])
            for i in 0..<(R * 2) {
                #expect(abs(Double(next[k * R * 2 + i]) - mean[i]) < 1e-4 * max(1, abs(mean[i])), "member \(k) value \(i)")
            }
        }
    }

    @Test("NormalStream.fill gives the samples of repeated next(), spare and odd counts included")
    func normalStreamFillMatchesNext() {
        var scalar = NormalStream(seed: 9), batched = NormalStream(seed: 9)
        for count in [1, 2, 7, 600, 513] {  // odd counts leave a spare for the next call
            let want = (0..<count).map { _ in scalar.next() }
            var got = [Float](repeating: .nan, count: count)
            got.withUnsafeMutableBufferPointer { batched.fill($0.baseAddress!, count: count) }
            let worst = zip(got, want).map { abs($0 - $1) }.max()!
            #expect(worst < 2e-5, "count \(count): largest difference \(worst)")
        }
    }

    @Test("sampled steps have the member's predicted mean and variance")
    func propagatorSamplesTheGaussian() throws {
        let model = try fittedToyEnsemble()
        let K = model.eliteMembers.count, R = 4000
        let propagator = EnsemblePropagator(model: model, maxRowsPerMember: R)
        let s0: [Double] = [0.3, -0.2], a0 = 0.5
        let s = [Float]((0..<(K * R)).flatMap { _ in s0.map(Float.init) }), a = [Float](repeating: Float(a0), count: K * R)
        var next = [Float](repeating: 0, count: K * R * 2)
        var noise = NormalStream(seed: 3)
        propagator.step(states: s, actions: a, rowsPerMember: R, next: &next, noise: &noise)
        let (mean, variance) = model.predictMembers(states: s0, actions: [a0], count: 1, members: model.eliteMembers)
        for k in 0..<K {
            for d in 0..<2 {
                let values = (0..<R).map { Double(next[(k * R + $0) * 2 + d]) }
                let m = values.reduce(0, +) / Double(R)
                let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(R - 1)
                let sd = variance[k * 2 + d].squareRoot()
                #expect(abs(m - mean[k * 2 + d]) < 5 * sd / Double(R).squareRoot(), "member \(k) dim \(d) mean")
                #expect(abs(v / variance[k * 2 + d] - 1) < 0.1, "member \(k) dim \(d) variance ratio \(v / variance[k * 2 + d])")
            }
        }
    }

    @Test("expectation rollouts cost exactly what iterating the ensemble's mean prediction costs")
    func expectationRolloutMatchesManual() throws {
        let model = try fittedToyEnsemble()
        let task = ToyTask()
        let rollouts = try EnsembleRollouts(model: model, task: task, propagation: .expectation, maxCandidates: 3)
        var rng = SeededRNG(seed: 2)
        let H = 6, count = 3
        let population = (0..<(count * H)).map { _ in rng.uniform(-1, 1) }
        let s0: [Double] = [0.5, 0.1]
        let costs = rollouts.costs(from: s0, population: population, count: count, horizon: H)
        for c in 0..<count {
            var s = s0, total = 0.0
            for t in 0..<H {
                let a = population[c * H + t]
                let n = model.predict(states: s, actions: [a], count: 1).mean
                total += task.cost(state: s, action: [a], next: n)
                s = n
            }
            #expect(abs(costs[c] - total) < 1e-3 * max(1, abs(total)), "candidate \(c): \(costs[c]) vs \(total)")
        }
    }

    @Test("TS-∞ and TS-1 rollouts rank a good sequence above a bad one; a NaN state is infeasible")
    func particleRolloutsRank() throws {
        let model = try fittedToyEnsemble(epochs: 60)
        for mode in [PropagationMode.tsInfinity, .tsOne] {
            let rollouts = try EnsembleRollouts(model: model, task: ToyTask(), particles: 6, propagation: mode, maxCandidates: 3, seed: 1)
            // from s = (0.5, 0.4), pushing the velocity negative brings s₀ to 0; pushing it positive does not
            let H = 10
            let good = [Double](repeating: -1, count: H), bad = [Double](repeating: 1, count: H)
            let costs = rollouts.costs(from: [0.5, 0.4], population: good + bad, count: 2, horizon: H)
            #expect(costs[0] < costs[1], "\(mode): \(costs)")
            let nan = rollouts.costs(from: [.nan, 0], population: good, count: 1, horizon: H)
            #expect(nan[0] == .infinity)
        }
    }

    @Test("a task on a model without the arm's columns is a clear error")
    func taskNeedsColumns() throws {
        let env = try ArmReachEnv(seed: 0)
        #expect(throws: ModelTaskError.self) {
            _ = try ArmReachModelTask(env: env, stateNames: ["joint_state.position.j"], actionNames: ["action.j"])
        }
    }

    @Test("the arm task's model actions reproduce the environment's torque commands (gravity compensation included)")
    func armCommandsMatch() throws {
        let env = try ArmReachEnv(seed: 4)
        _ = env.reset(seed: 4)
        let joints = env.simulation.model.jointNames
        let stateNames = joints.map(LogColumns.jointPosition).sorted() + joints.map(LogColumns.jointVelocity).sorted()
        let actionNames = joints.map(LogColumns.action).sorted()
        let task = try ArmReachModelTask(env: env, stateNames: stateNames, actionNames: actionNames)
        task.update()
        var rng = SeededRNG(seed: 5)
        let action = (0..<7).map { _ in rng.uniform(-1, 1) }
        let state = try env.modelState(names: stateNames, observation: env.observation())
        var out = [Float](repeating: 0, count: 7)
        task.modelActions(states: state.map(Float.init), actions: action.map(Float.init), rows: 1, into: &out)
        let commands = env.commands(for: action)
        for (i, j) in joints.enumerated() {
            let column = actionNames.firstIndex(of: LogColumns.action(j))!
            #expect(abs(Double(out[column]) - commands[i]) < 1e-3 * max(1, abs(commands[i])), "joint \(j)")
        }
        // the task's cost of the real step equals minus the environment's reward
        let r = env.step(action)
        let next = try env.modelState(names: stateNames, observation: r.observation)
        #expect(abs(task.cost(state: state, action: action, next: next) + r.reward) < 1e-4)
    }
}

@Suite("PETS loop")
struct PETSTests {
    /// The pendulum of robots/pendulum.urdf with a 15 N·m effort limit (more than m·g·l = 9.81 N·m, so it can
    /// be lifted straight up).
    static func pendulumModel(in dir: URL) throws -> RobotModel {
        let text = try String(contentsOf: resolveResource("robots/pendulum.urdf"), encoding: .utf8)
            .replacingOccurrences(of: "<dynamics damping=\"0\" friction=\"0\"/>",
                                  with: "<limit effort=\"15\" velocity=\"30\"/>\n    <dynamics damping=\"0.05\" friction=\"0\"/>")
        let url = dir.appendingPathComponent("pendulum15.urdf")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return try RobotModel(contentsOf: url)
    }

    static func config(output: URL, iterations: Int) -> PETSConfig {
        var c = PETSConfig()
        c.output = output.path
        c.randomEpisodes = 1; c.iterations = iterations; c.maxSteps = 60
        c.particles = 4
        c.dynamics.members = 3; c.dynamics.elites = 3; c.dynamics.hiddenLayers = [64, 64]
        c.dynamics.weightDecay = [2.5e-5, 5e-5, 1e-4]; c.dynamics.maxEpochs = 60; c.dynamics.batchSize = 32
        c.dynamics.wrappedAngles = ["joint_state.position.hinge"]
        c.planner = PlannerConfiguration(kind: .cem, horizon: 10, replanInterval: 1, warmStart: true,
                                         cem: CEMConfiguration(populationSize: 48, eliteCount: 6, iterations: 3))
        c.evaluationEpisodes = 0
        return c
    }

    @Test("PETS on the pendulum (lift it upright): the task return rises over the iterations; a killed run resumes")
    func pendulumImproves() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Self.pendulumModel(in: dir)
        let out = dir.appendingPathComponent("run")
        func runner(iterations: Int) throws -> PETSRunner<GenericRobotEnv> {
            let env = try GenericRobotEnv(model: model, maxEpisodeSteps: 60)
            return PETSRunner(config: Self.config(output: out, iterations: iterations), env: env) { s, a in
                try JointRegulationTask(model: model, stateNames: s, actionNames: a, targets: [Double.pi])
            }
        }
        // first 2 iterations, then "resume" the same run to 3
        let first = try runner(iterations: 2).run(resume: false)
        #expect(first.count == 3)
        #expect(throws: PETSError.self) { try runner(iterations: 3).run(resume: false) }
        let history = try runner(iterations: 3).run(resume: true)
        #expect(history.count == 4)
        #expect(history.prefix(3).map(\.taskReturn) == first.map(\.taskReturn))
        let random = history[0].taskReturn!, best = history.dropFirst().compactMap(\.taskReturn).max()!
        // hanging still costs π² ≈ 9.9 per step (−592 over 60 steps); upright within ~1 s costs far less
        #expect(best > random + 150, "random \(random), MPC \(history.dropFirst().map { $0.taskReturn ?? .nan })")
        let csv = try String(contentsOf: out.appendingPathComponent("metrics/metrics.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 5)  // header + iterations 0…3
        let files = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("data").path)
        #expect(files.filter { $0.hasSuffix(".csv") }.count == 4)
    }
}
