import ControlCore
import Datasets
import Foundation
import Physics
import Robots

/// Writes a robot environment's rollout in the log format (`docs/LOG_FORMAT.md`): row i holds the state at
/// the start of control step i, the effort applied during it (mean over its physics substeps), the command
/// sent (`action.<joint>`: torque or position target), the observation, and the step's reward/cost/done.
public final class RolloutRecorder {
    public let writer: LogWriter
    let joints: [String]
    let floating: Bool
    let observationDimension: Int

    /// Opens `url` for writing (atomically: the file appears on `close()`).
    public init<E: RobotEnvironment>(url: URL, env: E) throws {
        joints = env.simulation.model.jointNames
        floating = !env.simulation.fixedBase
        observationDimension = env.observationSpace.dimension
        writer = try LogWriter(url: url, columns: LogColumns.standard(joints: joints, floatingBase: floating,
                                                                      observationDimension: observationDimension))
    }

    /// The simulator state at the start of a step, captured before stepping.
    public struct Frame {
        public var q: [Double], qd: [Double]
        public var base: Pose, linear: Vec3, angular: Vec3
        public var time: Double
        public var observation: [Double]
    }

    /// Captures the state before `env.step`.
    public static func capture<E: RobotEnvironment>(_ env: E, observation: [Double]) -> Frame {
        let (q, qd) = env.simulation.jointState()
        let (v, w) = env.simulation.baseVelocity
        return Frame(q: q, qd: qd, base: env.simulation.basePose, linear: v, angular: w,
                     time: env.simulation.world.time, observation: observation)
    }

    /// Appends one row.
    public func append(episode: Int, frame: Int, state: Frame, effort: [Double], command: [Double], result: StepResult) throws {
        var row: [Double] = [Double(episode), Double(frame), state.time]
        row += state.q; row += state.qd; row += effort
        if floating {
            row += state.base.position.array + state.base.orientation.array + state.linear.array + state.angular.array
        }
        row += command
        row += state.observation
        row += [result.reward, result.cost, result.done ? 1 : 0]
        try writer.append(row)
    }

    /// Finishes the file (temporary file renamed over the destination).
    public func close() throws { try writer.close() }
}

/// What a rollout did.
public struct RolloutSummary: Codable, Sendable {
    public var episodes: Int = 0
    public var steps: Int = 0
    public var returns: [Double] = []
    public var costs: [Double] = []
    public var falls: Int = 0
    public var diverged: Int = 0
    public var successes: Int = 0
    public var meanForwardSpeed: Double?
    public var simulatedSeconds: Double = 0
    public var wallSeconds: Double = 0
    public var meanReturn: Double { returns.isEmpty ? 0 : returns.reduce(0, +) / Double(returns.count) }
    public var meanCost: Double { costs.isEmpty ? 0 : costs.reduce(0, +) / Double(costs.count) }
    public init() {}
}

/// Runs a policy in a robot environment for a number of episodes or steps (whichever ends first),
/// optionally recording every step. `progress` is called after every step with (steps done, total steps).
public func runRollout<E: RobotEnvironment>(env: E, policy: any Policy, episodes: Int? = nil, steps: Int? = nil,
                                             seed: UInt64, recorder: RolloutRecorder? = nil,
                                             progress: ((Int, Int) -> Void)? = nil) throws -> RolloutSummary {
    var summary = RolloutSummary()
    let start = Date()
    let maxSteps = steps ?? Int.max
    let maxEpisodes = episodes ?? Int.max
    var speedSum = 0.0, speedCount = 0
    var episode = 0
    while episode < maxEpisodes && summary.steps < maxSteps {
        var obs = env.reset(seed: seed &+ UInt64(episode))
        policy.reset(seed: seed &+ UInt64(episode))
        var ret = 0.0, cost = 0.0, frame = 0, success = false
        while summary.steps < maxSteps {
            let action = policy.act(obs, deterministic: false)
            let state = RolloutRecorder.capture(env, observation: obs)
            let command = env.commands(for: action)
            let result = env.step(action)
            try recorder?.append(episode: episode, frame: frame, state: state, effort: env.appliedTorques,
                                 command: command, result: result)
            ret += result.reward; cost += result.cost
            if let v = result.info["forward_velocity"] { speedSum += v; speedCount += 1 }
            if result.info["success"] == 1 { success = true }
            summary.steps += 1; frame += 1
            summary.simulatedSeconds += env.controlTimeStep
            progress?(summary.steps, steps ?? (episodes.map { $0 * 1000 } ?? 0))
            obs = result.observation
            if result.done {
                if result.endReason == "fall" { summary.falls += 1 }
                if result.endReason?.hasPrefix("diverged") == true { summary.diverged += 1 }
                break
            }
        }
        summary.returns.append(ret); summary.costs.append(cost)
        if success { summary.successes += 1 }
        episode += 1
    }
    summary.episodes = episode
    summary.meanForwardSpeed = speedCount > 0 ? speedSum / Double(speedCount) : nil
    summary.wallSeconds = Date().timeIntervalSince(start)
    return summary
}
