import ControlCore
import Foundation
import Physics
import Robots

/// Settings of `PendulumSwingUpEnv` (`pendulum-swingup`), every default written out.
///
/// The defaults follow Gymnasium's `Pendulum-v1` on `robots/pendulum.urdf` (1 kg bob on a 1 m massless rod,
/// I = 1.001 kg·m² about the hinge): 20 Hz control, 200-step episodes, reset angle uniform in [−π, π) and
/// velocity in [−1, 1] rad/s, reward weights 0.1 and 0.001. The torque bound keeps Pendulum-v1's ratio of
/// torque to the largest gravity torque, 0.4 (there a uniform rod: 2 N·m against m g l / 2 = 5 N·m; here the
/// mass is at the tip: 4 N·m against m g l = 9.81 N·m), so the pole still has to be swung up.
public struct PendulumSwingUpConfig: Codable, Sendable, Hashable {
    /// URDF of the pendulum (one revolute or continuous joint, q = 0 hanging down).
    public var robot: String = "robots/pendulum.urdf"
    /// Physics time step, s.
    public var physicsTimeStep: Double = 0.005
    /// Constraint solver. The exact one (ODE's dWorldStep): with QuickStep's 20 iterations the hinge constraint
    /// of a 1 kg bob on a 1 m arm (I_c = 0.001 kg·m²) does not converge, and the joint velocity read back jitters
    /// by up to ±3 rad/s around the true rate (the angle stays right) — an observation SAC could not learn from.
    public var solver: ConstraintSolver = .exact
    /// Control rate, Hz (Gymnasium: dt = 0.05 s).
    public var controlFrequency: Double = 20
    /// Largest hinge torque, N·m (action 1 ↦ this torque).
    public var maxTorque: Double = 4
    /// Episode length in control steps (truncation).
    public var maxEpisodeSteps: Int = 200
    /// Reward weights of θ̇² and τ² (Gymnasium: 0.1 and 0.001).
    public var velocityWeight: Double = 0.1
    public var torqueWeight: Double = 0.001
    /// Reset: |θ̇| bound, rad/s (θ is uniform over the circle).
    public var resetVelocity: Double = 1
    /// Upright tolerance, rad: an episode succeeds when the pole is within it at the last step.
    public var uprightTolerance: Double = 0.2
    public init() {}
}

/// Pendulum swing-up (`pendulum-swingup`): Gymnasium's `Pendulum-v1` on a URDF pendulum in ODE.
///
/// θ = q − π is the angle from upright (wrapped to [−π, π)). Observation (3): cos θ, sin θ, θ̇ (rad/s).
/// Action (1, in [−1, 1], clamped): hinge torque a · `maxTorque`.
/// Reward, from the state after the step: −(θ² + w_v θ̇² + w_τ τ²). No safety cost, no termination;
/// truncated after `maxEpisodeSteps`. Success (episode): |θ| ≤ `uprightTolerance` at the last step
/// (`info["upright"]`). A good policy scores about −150 per 200-step episode (Gymnasium's well-known
/// threshold for solving `Pendulum-v1` is around −200). Task state: none.
public final class PendulumSwingUpTask: RobotTask, @unchecked Sendable {
    public typealias State = Void
    public let config: PendulumSwingUpConfig
    public let simulation: RobotSimulation
    public let substeps: Int
    public let observationDimension = 3
    public let actionDimension = 1
    public var maxEpisodeSteps: Int { config.maxEpisodeSteps }
    public var state: Void = ()

    /// - Throws: `URDFError` for a bad robot file, `SimulationError` if it cannot be built or is not a
    ///   one-joint robot (its root link is welded to the world).
    public init(config: PendulumSwingUpConfig = PendulumSwingUpConfig()) throws {
        self.config = config
        let model = try RobotModel(contentsOf: resolveResource(config.robot))
        guard model.dof == 1 else {
            throw SimulationError.invalidDescription("pendulum-swingup needs a one-joint robot, \(config.robot) has \(model.dof)")
        }
        var settings = WorldSettings()
        settings.timeStep = config.physicsTimeStep
        settings.solver = config.solver
        simulation = try RobotSimulation(model: model, settings: settings, base: .fixed)
        substeps = substepCount(controlFrequency: config.controlFrequency, physicsTimeStep: config.physicsTimeStep)
    }

    /// θ = q − π wrapped to [−π, π).
    public static func angleFromUpright(_ q: Double) -> Double {
        var t = (q - .pi).truncatingRemainder(dividingBy: 2 * .pi)
        if t < -.pi { t += 2 * .pi } else if t >= .pi { t -= 2 * .pi }
        return t
    }

    public func reset(rng: inout SeededRNG) {
        let theta = rng.uniform(-.pi, .pi)
        let velocity = rng.uniform(-config.resetVelocity, config.resetVelocity)
        simulation.setState(q: [theta + .pi], qd: [velocity])
    }

    public func commands(for action: [Double]) -> [Double] { [Self.torque(action: action[0], maxTorque: config.maxTorque)] }

    public var observationNames: [String] { ["cos_angle", "sin_angle", "joint_state.velocity.\(simulation.model.jointNames[0])"] }

    public func observation() -> [Double] {
        let (q, qd) = simulation.jointState()
        return Self.observation(q: q[0], qd: qd[0])
    }

    /// The observation (cos θ, sin θ, θ̇) at hinge angle q (rad, 0 hanging) and rate q̇ (rad/s) — shared with the
    /// closed-form model task.
    public static func observation(q: Double, qd: Double) -> [Double] {
        let theta = angleFromUpright(q)
        return [cos(theta), sin(theta), qd]
    }

    /// The hinge torque (N·m) of a normalized action.
    public static func torque(action: Double, maxTorque: Double) -> Double { max(-1, min(1, action)) * maxTorque }

    /// The reward −(θ² + w_v θ̇² + w_τ τ²) at the state after a step (q, q̇) under torque τ — shared with the
    /// closed-form model task.
    public static func reward(q: Double, qd: Double, torque tau: Double, config: PendulumSwingUpConfig) -> Double {
        let theta = angleFromUpright(q)
        return -(theta * theta + config.velocityWeight * qd * qd + config.torqueWeight * tau * tau)
    }

    public func evaluate(action: [Double], appliedTorques: [Double]) -> TaskOutcome {
        let (q, qd) = simulation.jointState()
        let theta = Self.angleFromUpright(q[0])
        let reward = Self.reward(q: q[0], qd: qd[0], torque: Self.torque(action: action[0], maxTorque: config.maxTorque), config: config)
        return TaskOutcome(reward: reward, info: ["angle": theta, "upright": abs(theta) <= config.uprightTolerance ? 1 : 0])
    }

    /// Upright (within `uprightTolerance`) at the last step.
    public func isSuccess(_ episode: EpisodeResult) -> Bool { episode.finalInfo["upright"] == 1 }
}

/// The `pendulum-swingup` environment.
public typealias PendulumSwingUpEnv = RobotEnv<PendulumSwingUpTask>

extension RobotEnv where Task == PendulumSwingUpTask {
    /// Builds the pendulum swing-up task and starts an episode with `seed`.
    public convenience init(config: PendulumSwingUpConfig = PendulumSwingUpConfig(), seed: UInt64 = 0) throws {
        self.init(task: try PendulumSwingUpTask(config: config), seed: seed)
    }
    public var config: PendulumSwingUpConfig { task.config }
}
