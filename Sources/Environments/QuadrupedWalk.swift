import ControlCore
import Foundation
import Physics
import Robots

/// Settings of `QuadrupedWalkEnv`, every default written out (see `configs/quadruped-walk.yaml`).
public struct QuadrupedWalkConfig: Codable, Sendable, Hashable {
    /// URDF of the robot (a relative path is looked up as `ResourceLocator` describes: next to the config file,
    /// the working directory, `$MBC_RESOURCES`, the installed resources).
    public var robot: String = "robots/quadruped.urdf"
    /// Physics time step, s. 4 ms: the largest step tried at which the robot stands as at 2 ms (trunk
    /// height within 1 mm, no divergence under random actions); at 10 ms the stance collapses
    /// (docs/BENCHMARKS.md, "time step").
    public var physicsTimeStep: Double = 0.004
    /// Control rate, Hz (one `step` = physicsTimeStep⁻¹ / controlFrequency physics steps).
    public var controlFrequency: Double = 50
    /// QuickStep iterations.
    public var solverIterations: Int = 20
    /// Ground friction coefficient.
    public var friction: Double = 1.0
    /// PD gains of the joint servos (N·m/rad, N·m·s/rad).
    public var kp: Double = 40
    public var kd: Double = 1.0
    /// Action → joint target: target = standing pose + actionScale · action (rad).
    public var actionScale: Double = 0.4
    /// Standing pose per leg (hip, thigh, calf), rad, applied to FR, FL, RR, RL.
    public var standingPose: [Double] = [0.0, 0.8, -1.5]
    /// Commanded forward speed, m/s (body x axis).
    public var commandedSpeed: Double = 0.5
    /// Reward weights (see `QuadrupedWalkEnv`).
    public var speedTrackingWeight: Double = 1.0
    public var speedTrackingSigma: Double = 0.25
    public var lateralWeight: Double = 0.5
    public var yawRateWeight: Double = 0.1
    public var energyWeight: Double = 0.002
    public var torqueWeight: Double = 1e-4
    public var actionRateWeight: Double = 0.05
    public var aliveBonus: Double = 0.25
    /// Largest safe |pitch| φ̂ and |roll| ρ̂, rad (Ha et al. 2020 safety margin).
    public var pitchLimit: Double = 0.35
    public var rollLimit: Double = 0.35
    /// Cost per unsafe step: `indicator` (1 when f_s < 0) or `magnitude` (max(0, −f_s)).
    public var costMode: CostMode = .indicator
    /// Trunk height below which the robot has fallen, m.
    public var fallHeight: Double = 0.15
    /// Episode length in control steps (truncation).
    public var maxEpisodeSteps: Int = 1000
    /// Uniform joint-position noise at reset, rad.
    public var resetNoise: Double = 0.05

    public enum CostMode: String, Codable, Sendable, CaseIterable { case indicator, magnitude }
    public init() {}
}

/// A full snapshot of a robot environment: physics plus task state.
public struct RobotEnvSnapshot: Sendable {
    public var physics: PhysicsSnapshot
    public var rng: SeededRNG
    public var previousAction: [Double]
    public var stepCount: Int
    public var target: Vec3
    public var done: Bool
}

/// Quadruped locomotion (`quadruped-walk`): walk forward at a commanded speed on flat ground.
///
/// Observation (46, body frame = trunk axes): trunk height (1, m); gravity direction in the body frame
/// (3); trunk linear velocity, body frame (3, m/s); trunk angular velocity, body frame (3, rad/s); joint
/// positions minus the standing pose (12, rad); joint velocities (12, rad/s); previous action (12).
/// Joint order FR, FL, RR, RL × (hip, thigh, calf).
///
/// Action (12, in [-1, 1]): joint position targets `standing + actionScale · a` for PD servos running at
/// the physics rate (torque ≤ the URDF effort limit).
///
/// Reward per step:
///   w_v · exp(−(v_x − v_cmd)² / σ²)   forward speed tracking (v_x in the body frame)
/// − w_lat · v_y² − w_yaw · ω_z²       sideways and turning
/// − w_e · Σ|τ_i q̇_i|                 mechanical power, W
/// − w_τ · Σ τ_i²                      torque
/// − w_a · Σ (a_t − a_{t−1})²          action rate
/// + alive bonus.
///
/// Safety cost (Ha et al. 2020): margin f_s = min(φ̂ − |pitch|, ρ̂ − |roll|); cost = 1 (indicator mode) or
/// max(0, −f_s) (magnitude mode) when f_s < 0, else 0. `info["safety_margin"]` holds f_s.
/// Terminated on a fall (trunk below `fallHeight`, or the trunk, a hip or a thigh touching the ground) or
/// on simulator divergence; truncated after `maxEpisodeSteps`.
public final class QuadrupedWalkEnv: Env, @unchecked Sendable {
    public typealias Snapshot = RobotEnvSnapshot
    public let config: QuadrupedWalkConfig
    public let simulation: RobotSimulation
    public let observationSpace: BoxSpace
    public let actionSpace: BoxSpace
    public let controlTimeStep: Double
    let substeps: Int
    let standing: [Double]
    let fallLinks: Set<String>
    let footLinks: [String]
    private var rng: SeededRNG
    private var previousAction: [Double]
    private var stepCount = 0
    private var done = false
    private var lastTorques: [Double]

    /// - Throws: `URDFError` for a bad robot file, `SimulationError` if it cannot be built.
    public init(config: QuadrupedWalkConfig = QuadrupedWalkConfig(), seed: UInt64 = 0) throws {
        self.config = config
        let model = try RobotModel(contentsOf: resolveResource(config.robot))
        guard model.dof == 12 else {
            throw SimulationError.invalidDescription("quadruped-walk needs a 12-DOF robot, \(config.robot) has \(model.dof)")
        }
        var settings = WorldSettings()
        settings.timeStep = config.physicsTimeStep
        settings.solverIterations = config.solverIterations
        settings.contact.friction = config.friction
        simulation = try RobotSimulation(model: model, settings: settings, base: .floating,
                                         basePose: Pose(position: Vec3(0, 0, 0.5)),
                                         actuators: Array(repeating: .position(kp: config.kp, kd: config.kd), count: 12))
        substeps = max(1, Int((1 / (config.controlFrequency * config.physicsTimeStep)).rounded()))
        controlTimeStep = Double(substeps) * config.physicsTimeStep
        standing = Array((0..<4).map { _ in config.standingPose }.joined())
        fallLinks = Set(model.urdf.links.map(\.name).filter { $0 == model.urdf.rootLink || $0.hasSuffix("_hip") || $0.hasSuffix("_thigh") })
        footLinks = model.urdf.links.map(\.name).filter { $0.hasSuffix("_foot") }
        observationSpace = BoxSpace(dimension: 46, bound: .infinity)
        actionSpace = BoxSpace(dimension: 12, bound: 1)
        rng = SeededRNG(seed: seed)
        previousAction = Array(repeating: 0, count: 12)
        lastTorques = Array(repeating: 0, count: 12)
        _ = reset(seed: seed)
    }

    public func reset(seed: UInt64?) -> [Double] {
        if let seed { rng = SeededRNG(seed: seed) }
        let q = standing.map { $0 + rng.uniform(-config.resetNoise, config.resetNoise) }
        // put the lowest foot 1 mm above the ground
        let model = simulation.model
        let frames = model.forwardKinematics(base: .identity, q: q)
        let lowest = footLinks.compactMap { model.linkPose($0, bodyFrames: frames)?.position.z }.min() ?? -0.3
        let z = -lowest + footRadius(model) + 0.001
        simulation.setState(basePose: Pose(position: Vec3(0, 0, z)), q: q)
        previousAction = Array(repeating: 0, count: 12)
        lastTorques = Array(repeating: 0, count: 12)
        stepCount = 0
        done = false
        return observation()
    }

    private func footRadius(_ model: RobotModel) -> Double {
        for body in model.bodies {
            for s in body.shapes where footLinks.contains(s.link) { if case .sphere(let r) = s.shape { return r } }
        }
        return 0
    }

    /// Joint targets (rad) for a normalized action.
    public func jointTargets(for action: [Double]) -> [Double] {
        (0..<12).map { standing[$0] + config.actionScale * max(-1, min(1, action[$0])) }
    }

    public func step(_ action: [Double]) -> StepResult {
        precondition(action.count == 12, "quadruped-walk takes 12 actions")
        if action.contains(where: { !$0.isFinite }) {
            done = true
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false,
                              endReason: "non-finite action")
        }
        let targets = jointTargets(for: action)
        do {
            lastTorques = try simulation.step(commands: targets, substeps: substeps)
        } catch {
            done = true
            return StepResult(observation: Array(repeating: 0, count: 46), reward: 0, cost: 1, terminated: true,
                              truncated: false, endReason: "diverged: \(error)")
        }
        stepCount += 1
        let obs = observation()
        let (v, w) = simulation.baseVelocityInBaseFrame
        let rpy = simulation.basePose.orientation.rollPitchYaw
        let qd = simulation.jointState().qd
        var reward = config.speedTrackingWeight * exp(-pow(v.x - config.commandedSpeed, 2) / pow(config.speedTrackingSigma, 2))
        reward -= config.lateralWeight * v.y * v.y + config.yawRateWeight * w.z * w.z
        let power = zip(lastTorques, qd).reduce(0) { $0 + abs($1.0 * $1.1) }
        reward -= config.energyWeight * power
        reward -= config.torqueWeight * lastTorques.reduce(0) { $0 + $1 * $1 }
        reward -= config.actionRateWeight * zip(action, previousAction).reduce(0) { $0 + pow($1.0 - $1.1, 2) }
        reward += config.aliveBonus
        previousAction = action.map { max(-1, min(1, $0)) }
        // safety margin (Ha et al. 2020)
        let margin = min(config.pitchLimit - abs(rpy.y), config.rollLimit - abs(rpy.x))
        let cost = margin < 0 ? (config.costMode == .indicator ? 1 : -margin) : 0
        // falls
        let contacts = simulation.linkContacts()
        let height = simulation.basePose.position.z
        let fell = height < config.fallHeight || contacts.keys.contains { fallLinks.contains($0) }
        let truncated = !fell && stepCount >= config.maxEpisodeSteps
        done = fell || truncated
        var info: [String: Double] = ["forward_velocity": v.x, "safety_margin": margin, "height": height,
                                      "roll": rpy.x, "pitch": rpy.y, "power": power]
        for (k, foot) in footLinks.enumerated() { info["foot_contact.\(k)"] = (contacts[foot] ?? 0) > 0 ? 1 : 0 }
        return StepResult(observation: obs, reward: reward, cost: cost, terminated: fell, truncated: truncated,
                          info: info, endReason: fell ? "fall" : (truncated ? "time_limit" : nil))
    }

    /// The observation vector described in the type's documentation.
    public func observation() -> [Double] {
        let pose = simulation.basePose
        let (v, w) = simulation.baseVelocityInBaseFrame
        let gravity = pose.orientation.inverseRotate(Vec3(0, 0, -1))
        let (q, qd) = simulation.jointState()
        var obs = [pose.position.z, gravity.x, gravity.y, gravity.z, v.x, v.y, v.z, w.x, w.y, w.z]
        obs += zip(q, standing).map { $0 - $1 }
        obs += qd
        obs += previousAction
        return obs
    }

    /// Torques applied during the last step (mean over its physics substeps), N·m.
    public var appliedTorques: [Double] { lastTorques }

    public func snapshot() -> RobotEnvSnapshot {
        RobotEnvSnapshot(physics: simulation.snapshot(), rng: rng, previousAction: previousAction,
                         stepCount: stepCount, target: .zero, done: done)
    }

    public func restore(_ s: RobotEnvSnapshot) {
        simulation.restore(s.physics)
        rng = s.rng; previousAction = s.previousAction; stepCount = s.stepCount; done = s.done
    }
}

/// Resolves a resource path (a robot file) with `ResourceLocator`: as given when absolute, else relative to
/// the working directory, `$MBC_RESOURCES`, the installed `share/mbc/`, or the checkout the executable was
/// built in. - Throws: `ResourceNotFound` listing where it looked.
public func resolveResource(_ path: String) throws -> URL {
    try ResourceLocator().locate(path)
}
