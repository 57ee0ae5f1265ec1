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
/// Observation (20): joint positions (7, rad), joint velocities (7, rad/s), end-effector position (3, m,
/// world frame), target position (3, m, world frame).
/// Action (7, in [-1, 1]): torque mode — τ = torqueScale · effort · a (+ gravity compensation); position
/// mode — PD targets home + a · half range, clamped to the limits.
/// Reward: −‖ee − target‖ − w_c · Σ a². `info["success"]` = 1 within `successRadius`; the episode is not
/// terminated on success (Gymnasium's reacher convention), only truncated after `maxEpisodeSteps`.
public final class ArmReachEnv: Env, @unchecked Sendable {
    public typealias Snapshot = RobotEnvSnapshot
    public let config: ArmReachConfig
    public let simulation: RobotSimulation
    public let observationSpace: BoxSpace
    public let actionSpace: BoxSpace
    public let controlTimeStep: Double
    let substeps: Int
    let efforts: [Double]
    let ranges: [ClosedRange<Double>]
    private var rng: SeededRNG
    public private(set) var target = Vec3.zero
    private var stepCount = 0
    private var done = false
    private var lastTorques: [Double]

    public init(config: ArmReachConfig = ArmReachConfig(), seed: UInt64 = 0) throws {
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
        substeps = max(1, Int((1 / (config.controlFrequency * config.physicsTimeStep)).rounded()))
        controlTimeStep = Double(substeps) * config.physicsTimeStep
        efforts = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? 0 }
        ranges = model.actuatedJoints.map { model.joints[$0].range ?? (-Double.pi...Double.pi) }
        observationSpace = BoxSpace(dimension: 2 * model.dof + 6, bound: .infinity)
        actionSpace = BoxSpace(dimension: model.dof, bound: 1)
        rng = SeededRNG(seed: seed)
        lastTorques = Array(repeating: 0, count: model.dof)
        _ = reset(seed: seed)
    }

    public func reset(seed: UInt64?) -> [Double] {
        if let seed { rng = SeededRNG(seed: seed) }
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
        stepCount = 0
        done = false
        lastTorques = Array(repeating: 0, count: model.dof)
        return observation()
    }

    /// The physical commands (torques in N·m, or PD targets in rad) for a normalized action in the current state.
    public func commands(for action: [Double]) -> [Double] {
        let a = action.map { max(-1, min(1, $0)) }
        switch config.controlMode {
        case .torque:
            var tau = zip(a, efforts).map { config.torqueScale * $0 * $1 }
            if config.gravityCompensation {
                let g = simulation.model.gravityTorques(q: simulation.jointState().q, base: simulation.basePoseAtBuild,
                                                        gravity: simulation.world.settings.gravity)
                tau = zip(tau, g).map { $0 + $1 }
            }
            return tau
        case .position:
            return (0..<a.count).map { i in
                let r = ranges[i]
                return min(max(config.homePose[i] + a[i] * 0.5 * (r.upperBound - r.lowerBound), r.lowerBound), r.upperBound)
            }
        }
    }

    public func step(_ action: [Double]) -> StepResult {
        precondition(action.count == actionSpace.dimension, "arm-reach takes \(actionSpace.dimension) actions")
        if action.contains(where: { !$0.isFinite }) {
            done = true
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false, endReason: "non-finite action")
        }
        do {
            lastTorques = try simulation.step(commands: commands(for: action), substeps: substeps)
        } catch {
            done = true
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false, endReason: "diverged: \(error)")
        }
        stepCount += 1
        let obs = observation()
        let distance = (endEffectorPosition - target).norm
        let reward = -distance - config.controlCostWeight * action.reduce(0) { $0 + $1 * $1 }
        let truncated = stepCount >= config.maxEpisodeSteps
        done = truncated
        return StepResult(observation: obs, reward: reward, cost: 0, terminated: false, truncated: truncated,
                          info: ["distance": distance, "success": distance < config.successRadius ? 1 : 0],
                          endReason: truncated ? "time_limit" : nil)
    }

    /// End-effector position, world frame, m.
    public var endEffectorPosition: Vec3 { simulation.linkPose(config.endEffector)!.position }

    public func observation() -> [Double] {
        let (q, qd) = simulation.jointState()
        return q + qd + endEffectorPosition.array + target.array
    }

    /// Torques applied during the last step (mean over its physics substeps), N·m.
    public var appliedTorques: [Double] { lastTorques }

    public func snapshot() -> RobotEnvSnapshot {
        RobotEnvSnapshot(physics: simulation.snapshot(), rng: rng, previousAction: [], stepCount: stepCount, target: target, done: done)
    }

    public func restore(_ s: RobotEnvSnapshot) {
        simulation.restore(s.physics)
        rng = s.rng; stepCount = s.stepCount; target = s.target; done = s.done
    }
}
