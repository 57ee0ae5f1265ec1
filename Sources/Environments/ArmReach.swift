import ControlCore
import Foundation
import Physics
import Robots

/// Settings of `ArmReachEnv`, every default written out (see `configs/arm-reach.yaml`).
public struct ArmReachConfig: Codable, Sendable, Hashable {
    public var robot: String = "robots/arm.urdf"
    /// End-effector link whose origin must reach the target.
    public var endEffector: String = "ee"
    /// Physics time step, s. The arm has no contacts in normal use, so the exact solver is used.
    public var physicsTimeStep: Double = 0.002
    public var solver: ConstraintSolver = .exact
    /// Control rate, Hz.
    public var controlFrequency: Double = 50
    /// `torque`: action · effort limit (+ gravity compensation); `position`: PD targets.
    public var controlMode: ControlMode = .torque
    /// Add the gravity-holding torque to every command, as a Franka-class controller does.
    public var gravityCompensation: Bool = true
    /// Position mode: target = current-range centre + action · half range; PD gains.
    public var kp: Double = 400
    public var kd: Double = 40
    /// Torque mode: the action is scaled by this fraction of each joint's effort limit.
    public var torqueScale: Double = 0.5
    /// Reward = −distance − controlCostWeight · Σ a².
    public var controlCostWeight: Double = 0.01
    /// Success radius, m.
    public var successRadius: Double = 0.02
    /// Episode length in control steps.
    public var maxEpisodeSteps: Int = 100
    /// Start configuration (rad) and the noise added to it at reset.
    public var homePose: [Double] = [0, -0.785, 0, -2.356, 0, 1.571, 0.785]
    public var resetNoise: Double = 0.05
    /// Targets are the end-effector positions of random configurations (uniform in this fraction of each
    /// joint's range around home) with height above `minTargetHeight`: reachable by construction.
    public var targetRangeFraction: Double = 0.5
    public var minTargetHeight: Double = 0.15

    public enum ControlMode: String, Codable, Sendable, CaseIterable { case torque, position }
    public init() {}
}

/// Arm reaching (`arm-reach`): bring the end effector to a random target in the workspace.
///
/// Observation (2n + 6 for n joints; 20 for the 7-joint arm): joint positions (n, rad), joint velocities
/// (n, rad/s), end-effector position (3, m, world frame), target position (3, m, world frame).
///
/// Action (n, in [-1, 1], clamped): `torque` mode — τ = torqueScale · effort · a (+ the gravity-holding
/// torque g(q) when `gravityCompensation`); `position` mode — PD targets home + a · half range, clamped to
/// the joint limits (`positionTarget`).
///
/// Terms (`reward(distance:actionSquaredNorm:controlCostWeight:)`, shared with the closed-form model task):
///   − ‖ee − target‖                   distance of the end effector to the target, m
///   − w_c · Σ a²                       control cost on the normalized action as given
/// Safety cost: none (0). Termination: none (Gymnasium's reacher convention); truncated after
/// `maxEpisodeSteps`. Success: an event, `info["success"]` = 1 on a step ending within `successRadius`.
/// Task state: the target (world frame, m).
public final class ArmReachTask: RobotTask, @unchecked Sendable {
    public typealias State = Vec3
    public let config: ArmReachConfig
    public let simulation: RobotSimulation
    public let substeps: Int
    public var observationDimension: Int { 2 * simulation.model.dof + 6 }
    public var actionDimension: Int { simulation.model.dof }
    public var maxEpisodeSteps: Int { config.maxEpisodeSteps }
    /// Effort limit (N·m or N) and position range of each DOF.
    public let efforts: [Double]
    public let ranges: [ClosedRange<Double>]
    /// Target position, world frame, m.
    public private(set) var target = Vec3.zero
    public var state: Vec3 {
        get { target }
        set { target = newValue }
    }

    /// - Throws: `URDFError` for a bad robot file, `SimulationError` if it cannot be built or does not fit the task.
    public init(config: ArmReachConfig = ArmReachConfig()) throws {
        self.config = config
        let model = try RobotModel(contentsOf: resolveResource(config.robot))
        guard model.linkFrames[config.endEffector] != nil else {
            throw SimulationError.invalidDescription("arm-reach: link '\(config.endEffector)' is not in \(config.robot)")
        }
        guard config.homePose.count == model.dof else {
            throw SimulationError.invalidDescription("arm-reach: homePose has \(config.homePose.count) values, the robot has \(model.dof) joints")
        }
        var settings = WorldSettings()
        settings.timeStep = config.physicsTimeStep
        settings.solver = config.solver
        let modes: [ActuatorMode] = config.controlMode == .torque
            ? Array(repeating: .torque, count: model.dof)
            : Array(repeating: .position(kp: config.kp, kd: config.kd), count: model.dof)
        simulation = try RobotSimulation(model: model, settings: settings, base: .fixed, actuators: modes)
        substeps = substepCount(controlFrequency: config.controlFrequency, physicsTimeStep: config.physicsTimeStep)
        efforts = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? 0 }
        ranges = model.actuatedJoints.map { model.joints[$0].range ?? (-Double.pi...Double.pi) }
    }

    // MARK: - terms (shared with the closed-form model task)

    /// Reward of a step: −distance − w_c · Σ a² (the terms above), in any floating-point type.
    @inlinable
    public static func reward<T: BinaryFloatingPoint>(distance: T, actionSquaredNorm: T, controlCostWeight: T) -> T {
        -distance - controlCostWeight * actionSquaredNorm
    }

    /// Position mode: the PD target for a clamped action `a` of a joint with `home` and range [low, high].
    @inlinable
    public static func positionTarget<T: BinaryFloatingPoint>(home: T, action a: T, low: T, high: T) -> T {
        min(max(home + a * 0.5 * (high - low), low), high)
    }

    /// Torque mode: the torque for a clamped action `a` of a joint with effort limit `effort` (before gravity
    /// compensation).
    @inlinable
    public static func torque<T: BinaryFloatingPoint>(action a: T, effort: T, torqueScale: T) -> T {
        torqueScale * a * effort
    }

    // MARK: - RobotTask

    public func reset(rng: inout SeededRNG) {
        let model = simulation.model
        // a reachable target: the end effector of a random configuration near home
        var goal = Vec3.zero
        for _ in 0..<100 {
            let q = (0..<model.dof).map { i -> Double in
                let r = ranges[i], half = 0.5 * (r.upperBound - r.lowerBound) * config.targetRangeFraction
                return min(max(config.homePose[i] + rng.uniform(-half, half), r.lowerBound), r.upperBound)
            }
            goal = model.linkPose(config.endEffector, bodyFrames: model.forwardKinematics(base: simulation.basePoseAtBuild, q: q))!.position
            if goal.z > config.minTargetHeight && Vec3(goal.x, goal.y, 0).norm > 0.25 { break }
        }
        target = goal
        let q0 = (0..<model.dof).map { i in
            min(max(config.homePose[i] + rng.uniform(-config.resetNoise, config.resetNoise), ranges[i].lowerBound), ranges[i].upperBound)
        }
        simulation.setState(q: q0)
    }

    /// The physical commands (torques in N·m, or PD targets in rad) for a normalized action in the current state.
    public func commands(for action: [Double]) -> [Double] {
        let a = action.map { max(-1, min(1, $0)) }
        switch config.controlMode {
        case .torque:
            var tau = zip(a, efforts).map { Self.torque(action: $0, effort: $1, torqueScale: config.torqueScale) }
            if config.gravityCompensation {
                let g = simulation.model.gravityTorques(q: simulation.jointState().q, base: simulation.basePoseAtBuild,
                                                        gravity: simulation.world.settings.gravity)
                tau = zip(tau, g).map { $0 + $1 }
            }
            return tau
        case .position:
            return (0..<a.count).map { i in
                Self.positionTarget(home: config.homePose[i], action: a[i], low: ranges[i].lowerBound, high: ranges[i].upperBound)
            }
        }
    }

    public func evaluate(action: [Double], appliedTorques: [Double]) -> TaskOutcome {
        let distance = (endEffectorPosition - target).norm
        let reward = Self.reward(distance: distance, actionSquaredNorm: action.reduce(0) { $0 + $1 * $1 },
                                 controlCostWeight: config.controlCostWeight)
        return TaskOutcome(reward: reward, info: ["distance": distance, "success": distance < config.successRadius ? 1 : 0])
    }

    /// End-effector position, world frame, m.
    public var endEffectorPosition: Vec3 { simulation.linkPose(config.endEffector)!.position }

    /// joint_state.position.<joint>, joint_state.velocity.<joint>, end_effector.{x,y,z}, target.{x,y,z}.
    public var observationNames: [String] {
        let joints = simulation.model.jointNames
        return joints.map { "joint_state.position.\($0)" } + joints.map { "joint_state.velocity.\($0)" }
            + ["x", "y", "z"].map { "end_effector.\($0)" } + ["x", "y", "z"].map { "target.\($0)" }
    }

    public func observation() -> [Double] {
        let (q, qd) = simulation.jointState()
        return q + qd + endEffectorPosition.array + target.array
    }
}

/// The `arm-reach` environment.
public typealias ArmReachEnv = RobotEnv<ArmReachTask>

extension RobotEnv where Task == ArmReachTask {
    /// Builds the arm-reach task and starts an episode with `seed`.
    public convenience init(config: ArmReachConfig = ArmReachConfig(), seed: UInt64 = 0) throws {
        self.init(task: try ArmReachTask(config: config), seed: seed)
    }
    public var config: ArmReachConfig { task.config }
    /// Target position, world frame, m.
    public var target: Vec3 { task.target }
    /// End-effector position, world frame, m.
    public var endEffectorPosition: Vec3 { task.endEffectorPosition }
}
