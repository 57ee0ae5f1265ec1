import ControlCore
import Foundation
import Physics
import Robots

/// A task on a simulated robot: everything that makes a `RobotSimulation` an environment, defined once.
///
/// A task owns its robot's world (`simulation`, built by the task from its settings) and states its rules:
/// how a normalized action becomes joint commands, what the agent observes, how an episode starts, the
/// reward terms, the safety cost, termination and success. `RobotEnv` drives any task with Gymnasium's
/// reset/step semantics (substeps, divergence, snapshots); the episode loop (`runEpisodes`) serves every
/// command; and the batched closed-form version that a learned-model planner scores predicted states with
/// (`Control.ModelTask`) calls the task's own term functions, so no rule is written twice.
///
/// Each conforming type documents its terms at the top of its file, as MuJoCo MPC documents residuals.
public protocol RobotTask: AnyObject {
    /// What a snapshot keeps of the task besides the physics (target, previous action, …).
    associatedtype State: Sendable

    /// The robot in its world, built by the task.
    var simulation: RobotSimulation { get }
    /// Physics steps per control step.
    var substeps: Int { get }
    /// Observation dimension.
    var observationDimension: Int { get }
    /// Normalized action dimension.
    var actionDimension: Int { get }
    /// Episode length in control steps (truncation).
    var maxEpisodeSteps: Int { get }
    /// Task state (restored by `RobotEnv.restore`).
    var state: State { get set }

    /// Starts an episode: puts the robot in its initial configuration and draws the task's random
    /// elements (target, noise) from `rng`.
    func reset(rng: inout SeededRNG)
    /// The physical command for a normalized action in the current state: torques (N·m, N) for torque
    /// control, targets (rad, m) for position control. This is what the log's `action.<joint>` holds.
    func commands(for action: [Double]) -> [Double]
    /// The observation in the current state.
    func observation() -> [Double]
    /// The reward terms, safety cost, termination and success of the step just simulated (`action` is the
    /// normalized action as given, `appliedTorques` the mean joint torques over the step's substeps), and
    /// the update of the task state that follows it.
    func evaluate(action: [Double], appliedTorques: [Double]) -> TaskOutcome
    /// Whether a finished episode succeeded. The default: some step reported `info["success"] == 1`.
    func isSuccess(_ episode: EpisodeResult) -> Bool
    /// Safety cost of a step on which the simulation diverged (default 0: no safety constraint).
    var divergenceCost: Double { get }
    /// A name per observation component, in order (policy files check them); default `observation.<i>`.
    var observationNames: [String] { get }
    /// A name per action component: by default the actuated joints' names, DOF order.
    var actionNames: [String] { get }
}

extension RobotTask {
    public func isSuccess(_ episode: EpisodeResult) -> Bool { episode.timeToSuccess != nil }
    public var divergenceCost: Double { 0 }
    public var observationNames: [String] { (0..<observationDimension).map { "observation.\($0)" } }
    public var actionNames: [String] { simulation.model.jointNames }
}

/// What a task makes of one simulated control step.
public struct TaskOutcome: Sendable {
    public var reward: Double
    /// Safety cost (≥ 0; 0 when safe).
    public var cost: Double
    /// A true end of the task (a fall).
    public var terminated: Bool
    /// Why it terminated (`"fall"`), nil otherwise.
    public var endReason: String?
    /// Named values: metrics (`forward_velocity`, `distance`, `safety_margin`, …) and `success` (1 or 0)
    /// for tasks whose success is an event of a step.
    public var info: [String: Double]
    public init(reward: Double, cost: Double = 0, terminated: Bool = false, endReason: String? = nil, info: [String: Double] = [:]) {
        self.reward = reward; self.cost = cost; self.terminated = terminated; self.endReason = endReason; self.info = info
    }
}

/// Physics steps per control step for a control rate (Hz) and physics time step (s): at least 1.
func substepCount(controlFrequency: Double, physicsTimeStep: Double) -> Int {
    max(1, Int((1 / (controlFrequency * physicsTimeStep)).rounded()))
}
