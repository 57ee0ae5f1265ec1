import ControlCore
import Datasets
import Environments
import Foundation
import Physics
import Testing
@testable import Control

/// The quadruped's closed-form task against the environment on the same states.
@Suite("quadruped-walk model task")
struct QuadrupedModelTaskTests {
    /// The model columns PETS and fit-dynamics use for this environment's logs.
    static func columns(_ env: QuadrupedWalkEnv) -> (state: [String], action: [String]) {
        let joints = env.simulation.model.jointNames
        return (joints.map(LogColumns.jointPosition).sorted() + joints.map(LogColumns.jointVelocity).sorted()
                    + LogColumns.basePosition + LogColumns.baseOrientation + LogColumns.baseLinearVelocity + LogColumns.baseAngularVelocity,
                joints.map(LogColumns.action).sorted())
    }

    /// A quadruped environment and its model task on the default columns.
    static func make(seed: UInt64, config: QuadrupedWalkConfig = QuadrupedWalkConfig()) throws -> (QuadrupedWalkEnv, QuadrupedWalkModelTask) {
        let env = try QuadrupedWalkEnv(config: config, seed: seed)
        let (s, a) = columns(env)
        return (env, try QuadrupedWalkModelTask(task: env.task, stateNames: s, actionNames: a))
    }

    /// One real step and the model task's verdict on it (with the environment's measured torques, or the PD estimate).
    struct Compared { var env: StepResult; var reward: Float; var cost: Float; var terminated: Bool; var estimatedReward: Float }

    static func compare(_ env: QuadrupedWalkEnv, _ task: QuadrupedWalkModelTask, action: [Double]) throws -> Compared {
        let names = task.stateNames
        let before = try env.modelState(names: names, observation: env.observation()).map(Float.init)
        let previous = env.task.previousAction.map(Float.init)
        let r = env.step(action)
        let after = try env.modelState(names: names, observation: r.observation).map(Float.init)
        let a = action.map(Float.init), torques = env.appliedTorques.map(Float.init)
        var reward: Float = 0, cost: Float = 0, estimated: Float = 0, unused: Float = 0
        var terminated: UInt8 = 0, t2: UInt8 = 0
        torques.withUnsafeBufferPointer { tp in
            task.measuredTorques = tp.baseAddress
            task.evaluate(states: before, actions: a, previousActions: previous, next: after, rows: 1,
                          reward: &reward, cost: &cost, terminated: &terminated)
            task.measuredTorques = nil
        }
        task.evaluate(states: before, actions: a, previousActions: previous, next: after, rows: 1, reward: &estimated, cost: &unused, terminated: &t2)
        return Compared(env: r, reward: reward, cost: cost, terminated: terminated != 0, estimatedReward: estimated)
    }

    @Test("reward and safety cost equal the environment's on the states it visits (float precision); every fall is seen, early ones only within 4 mm of the ground (one substep of motion)")
    func matchesEnvironment() throws {
        var config = QuadrupedWalkConfig()
        config.pitchLimit = 0.12; config.rollLimit = 0.12; config.costMode = .magnitude  // violations happen under random actions
        let (env, task) = try Self.make(seed: 7, config: config)
        var rng = SeededRNG(seed: 3)
        var steps = 0, unsafe = 0, terminations = 0, earlyFalls = 0, estimateError = 0.0
        for episode in 0..<4 {
            _ = env.reset(seed: UInt64(episode))
            for _ in 0..<400 {
                let action = (0..<12).map { _ in (episode < 2 ? 0.6 : 1.0) * rng.uniform(-1, 1) }
                let c = try Self.compare(env, task, action: action)
                steps += 1
                #expect(abs(Double(c.reward) - c.env.reward) <= 1e-5 * max(1, abs(c.env.reward)), "reward \(c.reward) vs \(c.env.reward)")
                #expect(abs(Double(c.cost) - c.env.cost) <= 1e-5, "cost \(c.cost) vs \(c.env.cost)")
                if c.env.cost > 0 { unsafe += 1 }
                if c.env.terminated { terminations += 1 }
                if c.env.terminated { #expect(c.terminated, "a fall of the environment at step \(steps) is a fall of the model task") }
                if c.terminated && !c.env.terminated {
                    // the state rule saw a fall link reach the ground between the simulator's collision passes
                    earlyFalls += 1
                    let q = env.simulation.jointState().q
                    #expect(env.task.fallLinkTouchesGround(base: env.simulation.basePose, q: q))
                    var depth = 0.0
                    while env.task.fallLinkTouchesGround(base: env.simulation.basePose.compose(Pose(position: Vec3(0, 0, depth))), q: q) { depth += 0.0005 }
                    // the simulator collides at the start of each 4 ms substep: a link moving at ~1 m/s is up to 4 mm
                    // deep before its contact is seen
                    #expect(depth <= 0.004, "a fall link \(depth * 1000) mm below the ground at step \(steps) without a simulator contact")
                }
                estimateError += abs(Double(c.estimatedReward) - c.env.reward)
                if c.env.done { break }
            }
        }
        #expect(unsafe > 5 && terminations >= 2, "the comparison should include unsafe steps (\(unsafe)) and falls (\(terminations))")
        #expect(earlyFalls <= steps / 100, "state-rule falls without a simulator contact: \(earlyFalls) of \(steps) steps")
        // the PD torque estimate (used when no torques are measured) stays close to the measured torques' reward
        #expect(estimateError / Double(steps) < 0.1, "mean |Δreward| with estimated torques \(estimateError / Double(steps))")
    }

    @Test("a quadruped on its back is a fall for both the environment and the model task")
    func fallAgrees() throws {
        let (env, task) = try Self.make(seed: 1)
        _ = env.reset(seed: 1)
        let stand = Array((0..<4).map { _ in env.config.standingPose }.joined())
        env.simulation.setState(basePose: Pose(position: Vec3(0, 0, 0.3), orientation: Quat(roll: Double.pi, pitch: 0, yaw: 0)), q: stand)
        var last: Compared?
        for _ in 0..<100 {
            let c = try Self.compare(env, task, action: Array(repeating: 0, count: 12))
            #expect(c.terminated == c.env.terminated)
            last = c
            if c.env.done { break }
        }
        #expect(last?.env.endReason == "fall" && last?.terminated == true)
    }

    @Test("success: no fall and mean forward speed within the tolerance of the command")
    func success() throws {
        let env = try QuadrupedWalkEnv(seed: 1)
        var e = EpisodeResult(seed: 0)
        e.meanForwardSpeed = 0.34
        #expect(env.isSuccess(e))            // 0.34 ≥ 0.5 − 0.2
        e.meanForwardSpeed = 0.25
        #expect(!env.isSuccess(e))
        e.meanForwardSpeed = 0.5; e.fell = true
        #expect(!env.isSuccess(e))
    }

    @Test("the learned-model planner scores a fall and the safety cost as the simulator planner does")
    func rolloutCostAddsSafety() throws {
        let (env, task) = try Self.make(seed: 2)
        let s = task.stateNames
        // a state tilted beyond the limits: unsafe, and (upside down and low) a fall
        _ = env.reset(seed: 2)
        var state = try env.modelState(names: s, observation: env.observation())
        let tilted = Quat(roll: 0.6, pitch: 0, yaw: 0)
        for (k, v) in [tilted.w, tilted.x, tilted.y, tilted.z].enumerated() { state[s.firstIndex(of: LogColumns.baseOrientation[k])!] = v }
        let zero = [Double](repeating: 0, count: 12)
        let safe = task.cost(state: state, action: zero, next: state, previousAction: zero, safetyWeight: 0)
        let weighted = task.cost(state: state, action: zero, next: state, previousAction: zero, safetyWeight: 5)
        #expect(abs((weighted - safe) - 5) < 1e-5)  // indicator cost 1, weight 5
    }
}

/// The policy observation of a model state (what MBPO's rollouts feed the policy) against the environment's.
@Suite("closed-form observations")
struct ModelObservationTests {
    @Test("the quadruped's observation from its model state and previous action equals the environment's (float precision)")
    func quadruped() throws {
        let (env, task) = try QuadrupedModelTaskTests.make(seed: 2)
        var rng = SeededRNG(seed: 5)
        var obs = env.observation()
        var worst: Float = 0
        for _ in 0..<150 {
            let r = env.step((0..<12).map { _ in rng.uniform(-1, 1) })
            obs = r.observation
            let state = try env.modelState(names: task.stateNames, observation: obs).map(Float.init)
            let previous = env.task.previousAction.map(Float.init)
            var out = [Float](repeating: .nan, count: task.observationDimension)
            task.observations(states: state, previousActions: previous, rows: 1, into: &out)
            for k in 0..<obs.count { worst = max(worst, abs(out[k] - Float(obs[k])) / max(1, abs(Float(obs[k])))) }
            if r.done { obs = env.reset(seed: 9) }
        }
        #expect(task.observationDimension == env.observationSpace.dimension)
        #expect(worst < 1e-5, "largest relative difference \(worst)")
    }

    @Test("the pendulum's closed form: observation and reward equal the environment's on its own states")
    func pendulum() throws {
        let env = try PendulumSwingUpEnv(seed: 3)
        let joint = env.simulation.model.jointNames[0]
        let names = [LogColumns.jointPosition(joint), LogColumns.jointVelocity(joint)]
        let task = try PendulumSwingUpModelTask(task: env.task, stateNames: names, actionNames: [LogColumns.action(joint)])
        var rng = SeededRNG(seed: 1)
        var obs = env.observation()
        for _ in 0..<100 {
            let before = try env.modelState(names: names, observation: obs).map(Float.init)
            let a = [rng.uniform(-1.2, 1.2)]
            let r = env.step(a)
            let after = try env.modelState(names: names, observation: r.observation).map(Float.init)
            var reward: Float = 0, cost: Float = 0, t: UInt8 = 0
            task.evaluate(states: before, actions: a.map(Float.init), previousActions: [0], next: after, rows: 1, reward: &reward, cost: &cost, terminated: &t)
            #expect(abs(Double(reward) - r.reward) < 1e-4 * max(1, abs(r.reward)) && cost == 0 && t == 0)
            var o = [Float](repeating: .nan, count: 3)
            task.observations(states: after, previousActions: [0], rows: 1, into: &o)
            #expect(zip(o, r.observation).allSatisfy { abs(Double($0) - $1) < 1e-5 * max(1, abs($1)) })
            var torque: Float = 0
            task.modelActions(states: before, actions: a.map(Float.init), rows: 1, into: &torque)
            #expect(abs(Double(torque) - env.task.commands(for: a)[0]) < 1e-6)
            obs = r.observation
        }
    }
}
