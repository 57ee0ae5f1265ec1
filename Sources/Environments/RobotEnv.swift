import ControlCore
import Foundation
import Physics
import Robots

/// An `Env` backed by a robot simulation: what recording, replay, the episode loop and the planners need
/// besides Gymnasium's reset/step.
public protocol RobotEnvironment: Env {
    var simulation: RobotSimulation { get }
    /// Mean torques applied during the last step, N·m or N, DOF order.
    var appliedTorques: [Double] { get }
    /// The physical command sent to the joints for a normalized action: torques (N·m, N) for torque
    /// control, targets (rad, m) for position control. This is what the log's `action.<joint>` holds.
    func commands(for action: [Double]) -> [Double]
    /// Whether a finished episode succeeded, by the task's definition.
    func isSuccess(_ episode: EpisodeResult) -> Bool
    /// A name per observation and per action component (policy files are checked against them).
    var observationNames: [String] { get }
    var actionNames: [String] { get }
}

/// A full snapshot of a robot environment: physics, the environment's random stream and episode counters,
/// and the task's own state.
public struct RobotEnvSnapshot<TaskState: Sendable>: Sendable {
    public var physics: RobotSimulation.Snapshot
    public var rng: SeededRNG
    public var stepCount: Int
    public var done: Bool
    public var task: TaskState
}

/// Any `RobotTask` as a Gymnasium-style environment: `step` clamps nothing itself (the task maps the
/// normalized action), refuses a non-finite action, runs the task's substeps with its commands, and ends the
/// episode on divergence (`endReason` "diverged: …", an all-zero observation: the state is not usable) or
/// when the task terminates; it truncates after the task's `maxEpisodeSteps`. Deterministic for a seed;
/// `snapshot()`/`restore(_:)` are bit-exact.
public final class RobotEnv<Task: RobotTask>: RobotEnvironment, @unchecked Sendable {
    public typealias Snapshot = RobotEnvSnapshot<Task.State>
    public let task: Task
    public var simulation: RobotSimulation { task.simulation }
    public let observationSpace: BoxSpace
    public let actionSpace: BoxSpace
    /// Seconds of simulated time per step: substeps × the physics time step.
    public let controlTimeStep: Double
    private var rng: SeededRNG
    private var stepCount = 0
    private var done = false
    private var lastTorques: [Double]

    /// Wraps `task` and starts the first episode with `seed`.
    public init(task: Task, seed: UInt64 = 0) {
        self.task = task
        observationSpace = BoxSpace(dimension: task.observationDimension, bound: .infinity)
        actionSpace = BoxSpace(dimension: task.actionDimension, bound: 1)
        controlTimeStep = Double(task.substeps) * task.simulation.world.settings.timeStep
        rng = SeededRNG(seed: seed)
        lastTorques = Array(repeating: 0, count: task.simulation.model.dof)
        _ = reset(seed: seed)
    }

    /// Domain randomization: at every seeded reset, the parameters `randomization.sample(nominal:seed:)` draws from
    /// the episode seed are applied to the simulation before the task resets. The nominal parameters are the ones
    /// the simulation had when it was first set; setting nil puts them back.
    public var randomization: DomainRandomization? {
        didSet {
            if randomization == nil, let nominal = randomizationNominal {
                try? simulation.apply(nominal)  // the parameters the simulation had before: valid
                randomizationNominal = nil
                episodeParameters = nil
            } else if randomization != nil, randomizationNominal == nil {
                randomizationNominal = simulation.parameters
            }
        }
    }
    private var randomizationNominal: PhysicsParameters?
    /// The parameters drawn for the current episode (nil without randomization).
    public private(set) var episodeParameters: PhysicsParameters?

    public func reset(seed: UInt64?) -> [Double] {
        if let seed, let randomization, let nominal = randomizationNominal {
            let drawn = randomization.sample(nominal: nominal, seed: seed)
            do {
                try simulation.apply(drawn)
                episodeParameters = drawn
            } catch {
                FileHandle.standardError.write(Data("warning: randomized parameters for seed \(seed) refused (\(error)); the episode keeps the previous ones\n".utf8))
            }
        }
        if let seed {
            rng = SeededRNG(seed: seed)
            // QuickStep's constraint reordering draws from the world's own stream: restart it too, so an episode
            // depends only on its seed, not on the episodes stepped before it
            simulation.world.randomSeed = simulation.world.initialSeed
        }
        task.reset(rng: &rng)
        lastTorques = Array(repeating: 0, count: simulation.model.dof)
        stepCount = 0
        done = false
        return task.observation()
    }

    public func commands(for action: [Double]) -> [Double] { task.commands(for: action) }

    public func step(_ action: [Double]) -> StepResult {
        precondition(action.count == actionSpace.dimension, "this environment takes \(actionSpace.dimension) actions, got \(action.count)")
        if action.contains(where: { !$0.isFinite }) {
            done = true
            return StepResult(observation: task.observation(), reward: 0, terminated: true, truncated: false, endReason: "non-finite action")
        }
        do {
            lastTorques = try simulation.step(commands: task.commands(for: action), substeps: task.substeps)
        } catch {
            done = true
            return StepResult(observation: Array(repeating: 0, count: observationSpace.dimension), reward: 0, cost: task.divergenceCost,
                              terminated: true, truncated: false, endReason: "diverged: \(error)")
        }
        stepCount += 1
        let outcome = task.evaluate(action: action, appliedTorques: lastTorques)
        let observation = task.observation()
        let truncated = !outcome.terminated && stepCount >= task.maxEpisodeSteps
        done = outcome.terminated || truncated
        return StepResult(observation: observation, reward: outcome.reward, cost: outcome.cost, terminated: outcome.terminated,
                          truncated: truncated, info: outcome.info,
                          endReason: outcome.terminated ? (outcome.endReason ?? "terminated") : (truncated ? "time_limit" : nil))
    }

    /// A name per observation component (the task's).
    public var observationNames: [String] { task.observationNames }
    /// A name per action component (the task's).
    public var actionNames: [String] { task.actionNames }

    /// The observation in the current state.
    public func observation() -> [Double] { task.observation() }

    /// Torques applied during the last step (mean over its physics substeps), N·m or N, DOF order.
    public var appliedTorques: [Double] { lastTorques }

    public func isSuccess(_ episode: EpisodeResult) -> Bool { task.isSuccess(episode) }

    public func snapshot() -> Snapshot {
        RobotEnvSnapshot(physics: simulation.snapshot(), rng: rng, stepCount: stepCount, done: done, task: task.state)
    }

    public func restore(_ s: Snapshot) {
        simulation.restore(s.physics)
        rng = s.rng; stepCount = s.stepCount; done = s.done; task.state = s.task
    }
}

/// The built-in environments, by their command-line names.
public enum EnvironmentKind: String, CaseIterable, Codable, Sendable {
    case quadrupedWalk = "quadruped-walk"
    case armReach = "arm-reach"
    case pendulumSwingUp = "pendulum-swingup"

    /// Builds the environment with its default configuration.
    public func make(seed: UInt64 = 0) throws -> any RobotEnvironment {
        switch self {
        case .quadrupedWalk: return try QuadrupedWalkEnv(seed: seed)
        case .armReach: return try ArmReachEnv(seed: seed)
        case .pendulumSwingUp: return try PendulumSwingUpEnv(seed: seed)
        }
    }
}

/// N environments stepped in parallel with Dispatch, one ODE world per environment (ODE's threading rule).
/// Results are identical to stepping the environments one by one (each world has its own random stream).
public final class VectorEnv<E: Env>: @unchecked Sendable {
    public let envs: [E]
    /// Worker threads (≤ envs.count); 1 steps sequentially.
    public let workers: Int

    public init(_ envs: [E], workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(!envs.isEmpty)
        self.envs = envs
        self.workers = max(1, min(workers, envs.count))
    }

    public var count: Int { envs.count }

    /// Resets every environment, environment i with seed `seed + i`.
    public func reset(seed: UInt64) -> [[Double]] {
        var out = [[Double]](repeating: [], count: envs.count)
        out.withUnsafeMutableBufferPointer { buf in run { i in buf[i] = self.envs[i].reset(seed: seed &+ UInt64(i)) } }
        return out
    }

    /// Steps environment i with `actions[i]`. Environments that are done are not reset here.
    public func step(_ actions: [[Double]]) -> [StepResult] {
        precondition(actions.count == envs.count)
        var out = [StepResult?](repeating: nil, count: envs.count)
        out.withUnsafeMutableBufferPointer { buf in run { i in buf[i] = self.envs[i].step(actions[i]) } }
        return out.map { $0! }
    }

    private func run(_ body: (Int) -> Void) {
        if workers == 1 { for i in envs.indices { body(i) }; return }
        let n = envs.count, w = workers
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                var i = worker
                while i < n { box.value(i); i += w }
            }
        }
    }
}

/// Carries a non-Sendable value into a concurrent closure whose accesses are partitioned by index.
struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// An environment whose physical parameters can be randomized per episode or set (`RobotEnv`).
public protocol DomainRandomizable: AnyObject {
    var randomization: DomainRandomization? { get set }
    /// Applies parameters to the live simulation (no rebuild). - Throws: `PhysicsParametersError`.
    func applyParameters(_ p: PhysicsParameters) throws
}

extension RobotEnv: DomainRandomizable {
    public func applyParameters(_ p: PhysicsParameters) throws { try simulation.apply(p) }
}
