import ControlCore
import Foundation
import Physics
import Robots

// The one episode loop: `simulate`, `mpc`, `pets` and the trainers run episodes through `runEpisode`.

/// The simulator state at the start of a step, as a log records it (captured before `step`).
public struct StepFrame: Sendable {
    /// Joint positions (rad, m) and velocities (rad/s, m/s), DOF order.
    public var q: [Double], qd: [Double]
    /// Root link pose and its origin's linear and angular velocity, world frame.
    public var base: Pose, linear: Vec3, angular: Vec3
    /// Simulated time, s.
    public var time: Double
    public var observation: [Double]
}

extension RobotEnvironment {
    /// The current simulator state with `observation`.
    public func captureFrame(observation: [Double]) -> StepFrame {
        let (q, qd) = simulation.jointState()
        let (v, w) = simulation.baseVelocity
        return StepFrame(q: q, qd: qd, base: simulation.basePose, linear: v, angular: w,
                         time: simulation.world.time, observation: observation)
    }
}

/// Receives every step the episode loop runs (a log writer, a viewer's recorder, …).
public protocol StepRecorder: AnyObject {
    /// One step: the state before it, the mean torques applied during it (N·m, N), the physical command
    /// sent (`RobotEnvironment.commands(for:)`) and what the step returned.
    func record(episode: Int, frame: Int, state: StepFrame, effort: [Double], command: [Double], result: StepResult) throws
}

/// What one episode did. Metrics come from the steps' `info`: `forward_velocity` (mean forward speed),
/// `distance` (the last one), `success` (the first step reporting 1); `success` itself is the task's verdict
/// on the whole episode (`RobotEnvironment.isSuccess`).
public struct EpisodeResult: Sendable, Codable {
    public var seed: UInt64
    public var steps: Int = 0
    public var totalReturn: Double = 0
    /// Σ safety cost.
    public var totalCost: Double = 0
    public var success = false
    /// Simulated seconds until the first step reporting `info["success"] == 1` (nil when none did).
    public var timeToSuccess: Double?
    /// Ended by a fall (`endReason == "fall"`), or by simulator divergence.
    public var fell = false
    public var diverged = false
    /// Steps with a positive safety cost.
    public var safetyViolations = 0
    /// Mean of `info["forward_velocity"]` over the steps (locomotion), m/s.
    public var meanForwardSpeed: Double?
    /// `info["distance"]` at the last step that reported one (reach tasks), m.
    public var finalDistance: Double?
    /// The last step's `info` (the task's named values at the end of the episode).
    public var finalInfo: [String: Double] = [:]
    /// Why the episode ended (`fall`, `diverged: …`, `time_limit`, `success`, `max_steps`).
    public var endReason: String?
    /// Seconds the policy took to act, per step (for MPC: the planning time).
    public var actSeconds: [Double] = []
    /// −Σ of a planning model's own step cost on the real transitions (learned-model MPC), else nil.
    public var taskReturn: Double?
    public init(seed: UInt64) { self.seed = seed }
}

/// One step as the loop's observer sees it.
public struct EpisodeStep {
    public var episode: Int
    /// 1-based count of steps taken in this episode.
    public var step: Int
    /// Observation before the step and the normalized action taken.
    public var observation: [Double]
    public var action: [Double]
    public var result: StepResult
    /// Seconds the policy took to choose `action`.
    public var actSeconds: Double
}

/// Runs one episode of `policy` in `env` (reset with `seed`, the policy too) until it terminates or is
/// truncated, `maxSteps` steps were taken, or — with `stopOnSuccess` — a step reports success.
/// - Parameters:
///   - index: the episode index recorded with each step.
///   - beforeAct: called with the environment and the observation before every action (an MPC model
///     snapshots the environment here).
///   - onStep: called after every step; it may return a value that is subtracted from `taskReturn`
///     (a planning model's own cost of the real transition) or nil.
/// - Throws: what the recorder throws.
public func runEpisode<E: RobotEnvironment>(env: E, policy: any Policy, seed: UInt64, index: Int = 0, maxSteps: Int = .max,
                                            stopOnSuccess: Bool = false, deterministic: Bool = false,
                                            recorder: (any StepRecorder)? = nil,
                                            beforeAct: ((E, [Double]) -> Void)? = nil,
                                            onStep: ((EpisodeStep) -> Double?)? = nil) throws -> EpisodeResult {
    var episode = EpisodeResult(seed: seed)
    var obs = env.reset(seed: seed)
    policy.reset(seed: seed)
    var speed = 0.0, speedSteps = 0
    while episode.steps < maxSteps {
        beforeAct?(env, obs)
        let start = Date()
        let action = policy.act(obs, deterministic: deterministic)
        let acting = Date().timeIntervalSince(start)
        episode.actSeconds.append(acting)
        let r: StepResult
        if let recorder {
            let frame = env.captureFrame(observation: obs), command = env.commands(for: action)
            r = env.step(action)
            try recorder.record(episode: index, frame: episode.steps, state: frame, effort: env.appliedTorques, command: command, result: r)
        } else {
            r = env.step(action)
        }
        episode.steps += 1
        episode.totalReturn += r.reward
        episode.totalCost += r.cost
        if r.cost > 0 { episode.safetyViolations += 1 }
        if let v = r.info["forward_velocity"] { speed += v; speedSteps += 1 }
        if let d = r.info["distance"] { episode.finalDistance = d }
        episode.finalInfo = r.info
        if r.info["success"] == 1 && episode.timeToSuccess == nil {
            episode.timeToSuccess = Double(episode.steps) * env.controlTimeStep
        }
        if let c = onStep?(EpisodeStep(episode: index, step: episode.steps, observation: obs, action: action, result: r, actSeconds: acting)) {
            episode.taskReturn = (episode.taskReturn ?? 0) - c
        }
        obs = r.observation
        if r.done {
            episode.endReason = r.endReason
            episode.fell = r.endReason == "fall"
            episode.diverged = r.endReason?.hasPrefix("diverged") == true
            break
        }
        if stopOnSuccess && episode.timeToSuccess != nil { episode.endReason = "success"; break }
    }
    if episode.endReason == nil { episode.endReason = "max_steps" }
    if speedSteps > 0 { episode.meanForwardSpeed = speed / Double(episode.steps) }
    episode.success = env.isSuccess(episode)
    return episode
}

/// What a run of several episodes did.
public struct RolloutSummary: Codable, Sendable {
    public var episodes: [EpisodeResult] = []
    public var steps: Int { episodes.reduce(0) { $0 + $1.steps } }
    public var returns: [Double] { episodes.map(\.totalReturn) }
    public var costs: [Double] { episodes.map(\.totalCost) }
    public var falls: Int { episodes.filter(\.fell).count }
    public var diverged: Int { episodes.filter(\.diverged).count }
    public var successes: Int { episodes.filter(\.success).count }
    public var safetyViolations: Int { episodes.reduce(0) { $0 + $1.safetyViolations } }
    /// Mean forward speed over every step of every episode that reports one (locomotion), m/s.
    public var meanForwardSpeed: Double?
    public var simulatedSeconds: Double = 0
    public var wallSeconds: Double = 0
    public var meanReturn: Double { episodes.isEmpty ? 0 : returns.reduce(0, +) / Double(episodes.count) }
    public var meanCost: Double { episodes.isEmpty ? 0 : costs.reduce(0, +) / Double(episodes.count) }
    public var successRate: Double { episodes.isEmpty ? 0 : Double(successes) / Double(episodes.count) }
    public init() {}
}

/// Runs `policy` for `episodes` episodes (episode i with seed `seed + i`) or `steps` control steps in all,
/// whichever ends first, each episode also limited to `maxStepsPerEpisode`. `onStep` and `recorder` see
/// every step (`progress` is called after every step with (steps done, total steps expected)).
public func runEpisodes<E: RobotEnvironment>(env: E, policy: any Policy, episodes: Int? = nil, steps: Int? = nil, seed: UInt64,
                                             maxStepsPerEpisode: Int = .max, stopOnSuccess: Bool = false,
                                             deterministic: Bool = false, indexOffset: Int = 0,
                                             recorder: (any StepRecorder)? = nil,
                                             beforeAct: ((E, [Double]) -> Void)? = nil,
                                             onStep: ((EpisodeStep) -> Double?)? = nil,
                                             progress: ((Int, Int) -> Void)? = nil) throws -> RolloutSummary {
    var summary = RolloutSummary()
    let start = Date()
    let maxSteps = steps ?? Int.max
    let maxEpisodes = episodes ?? Int.max
    let expected = steps ?? (episodes.map { $0 * 1000 } ?? 0)
    var done = 0, speedSum = 0.0, speedCount = 0
    while summary.episodes.count < maxEpisodes && done < maxSteps {
        let i = summary.episodes.count
        let e = try runEpisode(env: env, policy: policy, seed: seed &+ UInt64(i), index: indexOffset + i,
                               maxSteps: min(maxStepsPerEpisode, maxSteps - done), stopOnSuccess: stopOnSuccess,
                               deterministic: deterministic, recorder: recorder, beforeAct: beforeAct) { step in
            if let v = step.result.info["forward_velocity"] { speedSum += v; speedCount += 1 }
            progress?(done + step.step, expected)
            return onStep?(step)
        }
        done += e.steps
        summary.episodes.append(e)
    }
    summary.simulatedSeconds = Double(done) * env.controlTimeStep
    summary.meanForwardSpeed = speedCount > 0 ? speedSum / Double(speedCount) : nil
    summary.wallSeconds = Date().timeIntervalSince(start)
    return summary
}
