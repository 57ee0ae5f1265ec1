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
    /// Success: no fall, and the episode's mean forward speed at least `commandedSpeed − successSpeedTolerance`, m/s.
    public var successSpeedTolerance: Double = 0.2

    public enum CostMode: String, Codable, Sendable, CaseIterable { case indicator, magnitude }
    public init() {}
}

/// Quadruped locomotion (`quadruped-walk`): walk forward at a commanded speed on flat ground.
///
/// Observation (46, body frame = trunk axes): trunk height (1, m); gravity direction in the body frame
/// (3); trunk linear velocity, body frame (3, m/s); trunk angular velocity, body frame (3, rad/s); joint
/// positions minus the standing pose (12, rad); joint velocities (12, rad/s); the action just applied
/// (12, clamped), so the action-rate term of the next step's reward is a function of the observation (the
/// observation is taken after the step's terms; before issue 12 it was taken before and held a_{t−1}, which
/// changed quadruped recordings by that column block only).
/// Joint order FR, FL, RR, RL × (hip, thigh, calf).
///
/// Action (12, in [-1, 1], clamped): joint position targets `standing + actionScale · a` for PD servos
/// running at the physics rate (torque ≤ the URDF effort limit).
///
/// Terms (`terms(...)`, shared with the closed-form model task; v, ω body frame; τ the step's joint torques):
///   w_v · exp(−(v_x − v_cmd)² / σ²)   forward speed tracking
/// − w_lat · v_y² − w_yaw · ω_z²       sideways and turning
/// − w_e · Σ|τ_i q̇_i|                 mechanical power, W
/// − w_τ · Σ τ_i²                      torque
/// − w_a · Σ (a_t − a_{t−1})²          action rate (a_t as given, a_{t−1} clamped)
/// + alive bonus.
///
/// Safety cost (Ha et al. 2020): margin f_s = min(φ̂ − |pitch|, ρ̂ − |roll|); cost = 1 (indicator mode) or
/// max(0, −f_s) (magnitude mode) when f_s < 0, else 0; 1 on a diverged step. `info["safety_margin"]` holds f_s.
/// Termination (a fall): trunk below `fallHeight`, or the trunk, a hip or a thigh touching the ground. The
/// environment takes "touching" from the simulator's contacts (its collision pass at the step's last
/// substep); a model task, which has only states, from `fallLinkTouchesGround` (the links' collision shapes,
/// posed by forward kinematics of the base pose and joints after the step, reaching z = 0). The two agree
/// except when a thigh grazes the ground between collision passes: the state rule then calls the fall a few
/// steps early (a few of ~1,000 random-action steps in the tests, each a thigh box ≤ 3 mm below z = 0: the
/// simulator collides at the start of each 4 ms substep, and a link at ~1 m/s moves 4 mm in one). Truncated after
/// `maxEpisodeSteps`. Success (episode): no fall and mean forward speed ≥ v_cmd − `successSpeedTolerance`.
/// Task state: the previous (clamped) action.
public final class QuadrupedWalkTask: RobotTask, @unchecked Sendable {
    public typealias State = [Double]
    public let config: QuadrupedWalkConfig
    public let simulation: RobotSimulation
    public let substeps: Int
    public let observationDimension = 46
    public let actionDimension = 12
    public var maxEpisodeSteps: Int { config.maxEpisodeSteps }
    /// The standing pose, DOF order (rad).
    public let standing: [Double]
    /// Links whose ground contact is a fall (trunk, hips, thighs), and the feet.
    public let fallLinks: Set<String>
    public let footLinks: [String]
    /// Collision shapes of the fall links: (body index, shape, pose in the body's reference frame).
    let fallShapes: [(body: Int, shape: CollisionShape, pose: Pose)]
    /// Bodies to pose for the fall test: up to the last body with a fall-link shape (parents come first).
    let fallBodyCount: Int
    /// The previous (clamped) action.
    public private(set) var previousAction: [Double]
    public var state: [Double] {
        get { previousAction }
        set { previousAction = newValue }
    }
    public var divergenceCost: Double { 1 }

    /// - Throws: `URDFError` for a bad robot file, `SimulationError` if it cannot be built.
    public init(config: QuadrupedWalkConfig = QuadrupedWalkConfig()) throws {
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
        substeps = substepCount(controlFrequency: config.controlFrequency, physicsTimeStep: config.physicsTimeStep)
        standing = Array((0..<4).map { _ in config.standingPose }.joined())
        fallLinks = Set(model.urdf.links.map(\.name).filter { $0 == model.urdf.rootLink || $0.hasSuffix("_hip") || $0.hasSuffix("_thigh") })
        footLinks = model.urdf.links.map(\.name).filter { $0.hasSuffix("_foot") }
        var shapes: [(body: Int, shape: CollisionShape, pose: Pose)] = []
        for (b, body) in model.bodies.enumerated() {
            for s in body.shapes where fallLinks.contains(s.link) { shapes.append((b, s.shape, s.pose)) }
        }
        fallShapes = shapes
        fallBodyCount = (shapes.map(\.body).max() ?? 0) + 1
        previousAction = Array(repeating: 0, count: 12)
    }

    // MARK: - terms (shared with the closed-form model task)

    /// What `terms` computes for one step.
    public struct Terms: Sendable {
        public var reward: Double
        public var cost: Double
        /// Safety margin f_s, rad.
        public var margin: Double
        public var fell: Bool
        /// Body-frame velocities, m/s and rad/s.
        public var forwardVelocity: Double
        public var roll: Double, pitch: Double
        /// Mechanical power Σ|τ q̇|, W.
        public var power: Double
    }

    /// The reward terms, safety cost and fall of one step, from the state after it: base orientation (body →
    /// world) and height (m), base linear and angular velocity (world frame), and per joint (DOF order) the
    /// step's torque (N·m), velocity after the step (rad/s), the action as given and the previous clamped
    /// action; `fallLinkTouchesGround` says whether the trunk, a hip or a thigh touches the ground.
    public static func terms(config: QuadrupedWalkConfig, orientation: Quat, height: Double, linearVelocity: Vec3, angularVelocity: Vec3,
                             joints n: Int, torque: (Int) -> Double, jointVelocity: (Int) -> Double,
                             action: (Int) -> Double, previousAction: (Int) -> Double, fallLinkTouchesGround: Bool) -> Terms {
        let v = orientation.inverseRotate(linearVelocity), w = orientation.inverseRotate(angularVelocity)
        let rpy = orientation.rollPitchYaw
        var reward = config.speedTrackingWeight * exp(-pow(v.x - config.commandedSpeed, 2) / pow(config.speedTrackingSigma, 2))
        reward -= config.lateralWeight * v.y * v.y + config.yawRateWeight * w.z * w.z
        var power = 0.0, torqueSquared = 0.0, actionRate = 0.0
        for i in 0..<n { power = power + abs(torque(i) * jointVelocity(i)) }
        reward -= config.energyWeight * power
        for i in 0..<n { torqueSquared = torqueSquared + torque(i) * torque(i) }
        reward -= config.torqueWeight * torqueSquared
        for i in 0..<n { actionRate = actionRate + pow(action(i) - previousAction(i), 2) }
        reward -= config.actionRateWeight * actionRate
        reward += config.aliveBonus
        // safety margin (Ha et al. 2020)
        let margin = min(config.pitchLimit - abs(rpy.y), config.rollLimit - abs(rpy.x))
        let cost = margin < 0 ? (config.costMode == .indicator ? 1 : -margin) : 0
        let fell = height < config.fallHeight || fallLinkTouchesGround
        return Terms(reward: reward, cost: cost, margin: margin, fell: fell, forwardVelocity: v.x, roll: rpy.x, pitch: rpy.y, power: power)
    }

    /// Whether a collision shape of the trunk, a hip or a thigh reaches the ground plane z = 0 with the base
    /// at `base` (root link frame, world) and the joints at `q` (DOF order).
    /// `frames` is scratch space (resized as needed), so repeated calls do not allocate.
    public func fallLinkTouchesGround(base: Pose, q: [Double], frames: inout [Pose]) -> Bool {
        simulation.model.forwardKinematics(base: base, q: q, into: &frames, count: fallBodyCount)
        for s in fallShapes where lowestPoint(s.shape, at: frames[s.body].compose(s.pose)) <= 0 { return true }
        return false
    }

    /// `fallLinkTouchesGround(base:q:frames:)` with its own scratch space.
    public func fallLinkTouchesGround(base: Pose, q: [Double]) -> Bool {
        var frames: [Pose] = []
        return fallLinkTouchesGround(base: base, q: q, frames: &frames)
    }

    /// The PD target (rad) of joint `i` for a normalized action component.
    @inlinable
    public static func jointTarget(standing: Double, action: Double, actionScale: Double) -> Double {
        standing + actionScale * max(-1, min(1, action))
    }

    // MARK: - RobotTask

    public func reset(rng: inout SeededRNG) {
        let q = standing.map { $0 + rng.uniform(-config.resetNoise, config.resetNoise) }
        // put the lowest foot 1 mm above the ground
        let model = simulation.model
        let frames = model.forwardKinematics(base: .identity, q: q)
        let lowest = footLinks.compactMap { model.linkPose($0, bodyFrames: frames)?.position.z }.min() ?? -0.3
        let z = -lowest + footRadius(model) + 0.001
        simulation.setState(basePose: Pose(position: Vec3(0, 0, z)), q: q)
        previousAction = Array(repeating: 0, count: 12)
    }

    private func footRadius(_ model: RobotModel) -> Double {
        for body in model.bodies {
            for s in body.shapes where footLinks.contains(s.link) { if case .sphere(let r) = s.shape { return r } }
        }
        return 0
    }

    /// Joint targets (rad) for a normalized action.
    public func commands(for action: [Double]) -> [Double] {
        (0..<12).map { Self.jointTarget(standing: standing[$0], action: action[$0], actionScale: config.actionScale) }
    }

    public func evaluate(action: [Double], appliedTorques: [Double]) -> TaskOutcome {
        let pose = simulation.basePose
        let (v, w) = simulation.baseVelocity
        let qd = simulation.jointState().qd
        let contacts = simulation.linkContacts()
        let t = Self.terms(config: config, orientation: pose.orientation, height: pose.position.z, linearVelocity: v, angularVelocity: w,
                           joints: 12, torque: { appliedTorques[$0] }, jointVelocity: { qd[$0] },
                           action: { action[$0] }, previousAction: { self.previousAction[$0] },
                           fallLinkTouchesGround: contacts.keys.contains { fallLinks.contains($0) })
        previousAction = action.map { max(-1, min(1, $0)) }
        var info: [String: Double] = ["forward_velocity": t.forwardVelocity, "safety_margin": t.margin, "height": pose.position.z,
                                      "roll": t.roll, "pitch": t.pitch, "power": t.power]
        for (k, foot) in footLinks.enumerated() { info["foot_contact.\(k)"] = (contacts[foot] ?? 0) > 0 ? 1 : 0 }
        return TaskOutcome(reward: t.reward, cost: t.cost, terminated: t.fell, endReason: t.fell ? "fall" : nil, info: info)
    }

    /// No fall, and the mean forward speed within `successSpeedTolerance` below the command (or faster).
    public func isSuccess(_ episode: EpisodeResult) -> Bool {
        !episode.fell && !episode.diverged
            && (episode.meanForwardSpeed ?? -.infinity) >= config.commandedSpeed - config.successSpeedTolerance
    }

    /// trunk_height, gravity_body.{x,y,z}, base_linear_velocity_body.{x,y,z}, base_angular_velocity_body.{x,y,z},
    /// joint_state.position_offset.<joint>, joint_state.velocity.<joint>, previous_action.<joint>.
    public var observationNames: [String] {
        let joints = simulation.model.jointNames
        return ["trunk_height"] + ["x", "y", "z"].map { "gravity_body.\($0)" } + ["x", "y", "z"].map { "base_linear_velocity_body.\($0)" }
            + ["x", "y", "z"].map { "base_angular_velocity_body.\($0)" } + joints.map { "joint_state.position_offset.\($0)" }
            + joints.map { "joint_state.velocity.\($0)" } + joints.map { "previous_action.\($0)" }
    }

    /// The observation vector described in the type's documentation.
    public func observation() -> [Double] {
        let pose = simulation.basePose
        let (v, w) = simulation.baseVelocity
        let (q, qd) = simulation.jointState()
        return Self.observation(height: pose.position.z, orientation: pose.orientation, linearVelocity: v, angularVelocity: w,
                                joints: 12, q: { q[$0] }, qd: { qd[$0] }, standing: standing, previousAction: { self.previousAction[$0] })
    }

    /// The observation (`observationNames`) of a state: base height (m), orientation (body → world), linear and
    /// angular velocity (world frame; observed in the body frame), joint positions and velocities (DOF order) and
    /// the previous clamped action — the one rule the environment and the closed-form model task (MBPO's
    /// rollouts) both use.
    public static func observation(height: Double, orientation: Quat, linearVelocity: Vec3, angularVelocity: Vec3, joints n: Int,
                                   q: (Int) -> Double, qd: (Int) -> Double, standing: [Double], previousAction: (Int) -> Double) -> [Double] {
        let v = orientation.inverseRotate(linearVelocity), w = orientation.inverseRotate(angularVelocity)
        let gravity = orientation.inverseRotate(Vec3(0, 0, -1))
        var obs = [height, gravity.x, gravity.y, gravity.z, v.x, v.y, v.z, w.x, w.y, w.z]
        obs.reserveCapacity(10 + 3 * n)
        for i in 0..<n { obs.append(q(i) - standing[i]) }
        for i in 0..<n { obs.append(qd(i)) }
        for i in 0..<n { obs.append(previousAction(i)) }
        return obs
    }
}

/// The `quadruped-walk` environment.
public typealias QuadrupedWalkEnv = RobotEnv<QuadrupedWalkTask>

extension RobotEnv where Task == QuadrupedWalkTask {
    /// Builds the quadruped-walk task and starts an episode with `seed`.
    public convenience init(config: QuadrupedWalkConfig = QuadrupedWalkConfig(), seed: UInt64 = 0) throws {
        self.init(task: try QuadrupedWalkTask(config: config), seed: seed)
    }
    public var config: QuadrupedWalkConfig { task.config }
    /// Joint targets (rad) for a normalized action.
    public func jointTargets(for action: [Double]) -> [Double] { task.commands(for: action) }
}

/// The lowest world z (m) of a collision shape at `pose` (world frame; cylinders and capsules along local z;
/// box sizes are full side lengths).
public func lowestPoint(_ shape: CollisionShape, at pose: Pose) -> Double {
    let c = pose.position.z
    // z components of the shape's local axes in the world
    let ex = pose.orientation.rotate(Vec3(1, 0, 0)).z, ey = pose.orientation.rotate(Vec3(0, 1, 0)).z
    let ez = pose.orientation.rotate(Vec3(0, 0, 1)).z
    switch shape {
    case .sphere(let r): return c - r
    case .box(let size):
        let extent: Double = abs(ex) * size.x + abs(ey) * size.y + abs(ez) * size.z
        return c - 0.5 * extent
    case .capsule(let r, let l): return c - 0.5 * l * abs(ez) - r
    case .cylinder(let r, let l):
        let sine: Double = max(0, 1 - ez * ez).squareRoot()
        return c - 0.5 * l * abs(ez) - r * sine
    }
}

/// Resolves a resource path (a robot file) with `ResourceLocator`: as given when absolute, else relative to
/// the working directory, `$MBC_RESOURCES`, the installed `share/mbc/`, or the checkout the executable was
/// built in. - Throws: `ResourceNotFound` listing where it looked.
public func resolveResource(_ path: String) throws -> URL {
    try ResourceLocator().locate(path)
}
