import ControlCore
import ODEBridge

/// Why a simulation step failed. After `.diverged` or `.engineError` the world must be restored from a
/// snapshot (or rebuilt) before stepping again; after `.nonFiniteCommand` it was not stepped at all.
public enum SimulationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A command was NaN or infinite; nothing was simulated.
    case nonFiniteCommand(String)
    /// The state became NaN/Inf or a body exceeded the speed limits.
    case diverged(String)
    /// ODE reported an internal error.
    case engineError(String)
    /// The world could not be built.
    case invalidDescription(String)

    public var description: String {
        switch self {
        case .nonFiniteCommand(let m): return "non-finite command: \(m)"
        case .diverged(let m): return "simulation diverged: \(m)"
        case .engineError(let m): return "ODE error: \(m)"
        case .invalidDescription(let m): return "invalid world: \(m)"
        }
    }
}

/// A full, bit-exact snapshot of a `PhysicsWorld`: every body's pose and velocity, unwrapped joint
/// coordinates, simulated time and the world's random stream (QuickStep reorders constraints randomly).
public struct PhysicsSnapshot: Sendable, Hashable {
    /// Layout of `odeb_world_get_state`: 13 per body, 1 per joint, then time.
    public var values: [Double]
    public var seed: UInt32
    public init(values: [Double], seed: UInt32) { self.values = values; self.seed = seed }
}

/// An ODE world holding one robot (or any bodies), with ground contacts and actuators.
///
/// Owns the C world (freed in `deinit`). Not thread-safe: use one world per thread (ODE's rule); distinct
/// worlds may step concurrently on different threads and stay deterministic (each world carries its own
/// random stream).
public final class PhysicsWorld: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The description the world was built from (settings are kept up to date by `apply(settings:)`).
    public private(set) var description: WorldDescription
    public let bodyCount: Int
    public let jointCount: Int
    public let actuatorCount: Int
    /// Scratch buffers reused by every call (no allocation per step).
    private var stateBuffer: [Double]
    private var appliedBuffer: [Double]
    private var jointQ: [Double]
    private var jointQd: [Double]

    /// Builds the world. - Throws: `SimulationError.invalidDescription` naming the bad element.
    /// The random seed the world was created with.
    public private(set) var initialSeed: UInt32 = 0

    public init(_ description: WorldDescription, seed: UInt32 = 0) throws {
        self.description = description
        var params = odeb_world_params()
        Self.fill(&params, from: description.settings)
        guard let h = odeb_world_create(&params, seed) else { throw SimulationError.invalidDescription("out of memory") }
        handle = h
        initialSeed = seed
        func fail(_ what: String) -> SimulationError {
            let detail = String(cString: odeb_world_last_error(h))
            odeb_world_destroy(h)
            return .invalidDescription("\(what): \(detail)")
        }
        for body in description.bodies {
            let p = body.pose.position.array, q = body.pose.orientation.normalized.array
            let idx = odeb_world_add_body(h, p, q, body.mass, body.inertia.rowMajor)
            if idx < 0 { throw fail("body '\(body.name)' (mass \(body.mass) kg)") }
            for geom in body.geoms {
                let (type, size) = Self.shapeCode(geom.shape)
                let g = odeb_world_add_geom(h, idx, type, size, geom.pose.position.array,
                                            geom.pose.orientation.normalized.array, geom.friction ?? -1)
                if g < 0 { throw fail("geometry of body '\(body.name)'") }
            }
        }
        for joint in description.joints {
            let kind: Int32 = switch joint.kind {
            case .hinge: Int32(ODEB_JOINT_HINGE.rawValue)
            case .slider: Int32(ODEB_JOINT_SLIDER.rawValue)
            case .fixed: Int32(ODEB_JOINT_FIXED.rawValue)
            }
            let lo = joint.limits?.lowerBound ?? 1, hi = joint.limits?.upperBound ?? -1
            let j = odeb_world_add_joint(h, kind, Int32(joint.parent ?? -1), Int32(joint.child), joint.anchor.array,
                                         joint.axis.normalized.array, joint.position, lo, hi, joint.damping, joint.friction)
            if j < 0 { throw fail("joint '\(joint.name)'") }
        }
        bodyCount = description.bodies.count
        jointCount = description.joints.count
        actuatorCount = description.actuators.count
        stateBuffer = Array(repeating: 0, count: Int(odeb_world_state_size(h)))
        appliedBuffer = Array(repeating: 0, count: description.actuators.count)
        jointQ = Array(repeating: 0, count: description.joints.count)
        jointQd = Array(repeating: 0, count: description.joints.count)
        do { try setActuators(description.actuators) } catch { odeb_world_destroy(h); throw error }
    }

    deinit { odeb_world_destroy(handle) }

    // MARK: - configuration

    private static func fill(_ p: inout odeb_world_params, from s: WorldSettings) {
        odeb_world_params_default(&p)
        p.gravity = (s.gravity.x, s.gravity.y, s.gravity.z)
        p.dt = s.timeStep
        p.iterations = Int32(s.solverIterations)
        p.exact_solver = s.solver == .exact ? 1 : 0
        p.sor_w = s.overRelaxation
        p.erp = s.erp
        p.cfm = s.cfm
        p.ground = s.ground ? 1 : 0
        p.mu = s.contact.friction
        p.contact_erp = s.contact.softERP
        p.contact_cfm = s.contact.softCFM
        p.bounce = s.contact.restitution
        p.bounce_velocity = s.contact.restitutionVelocity
        p.rolling_friction = s.contact.rollingFriction
        p.max_contacts = Int32(s.contact.maxContactsPerGeom)
        p.max_linear_speed = s.maxLinearSpeed
        p.max_angular_speed = s.maxAngularSpeed
    }

    private static func shapeCode(_ shape: CollisionShape) -> (Int32, [Double]) {
        switch shape {
        case .box(let s): return (Int32(ODEB_GEOM_BOX.rawValue), [s.x, s.y, s.z])
        case .sphere(let r): return (Int32(ODEB_GEOM_SPHERE.rawValue), [r, 0, 0])
        case .cylinder(let r, let l): return (Int32(ODEB_GEOM_CYLINDER.rawValue), [r, l, 0])
        case .capsule(let r, let l): return (Int32(ODEB_GEOM_CAPSULE.rawValue), [r, l, 0])
        }
    }

    /// The current settings.
    public var settings: WorldSettings { description.settings }

    /// Changes world settings on the live world (time step, solver, contact model, gravity, …).
    public func apply(settings: WorldSettings) {
        var p = odeb_world_params()
        Self.fill(&p, from: settings)
        odeb_world_set_params(handle, &p)
        description.settings = settings
    }

    /// Replaces the actuators. - Throws: `.invalidDescription` if one names a fixed joint.
    public func setActuators(_ actuators: [ActuatorDescription]) throws {
        precondition(actuators.count == actuatorCount, "actuator count cannot change on a live world")
        let joints = actuators.map { Int32($0.joint) }
        var modes = [Int32](), kp = [Double](), kd = [Double]()
        for a in actuators {
            switch a.mode {
            case .torque: modes.append(Int32(ODEB_ACT_TORQUE.rawValue)); kp.append(0); kd.append(0)
            case .position(let p, let d): modes.append(Int32(ODEB_ACT_POSITION.rawValue)); kp.append(p); kd.append(d)
            }
        }
        let limits = actuators.map { $0.effortLimit ?? 0 }
        let velocities = actuators.map { $0.velocityLimit ?? 0 }
        let strength = actuators.map(\.strength)
        if odeb_world_set_actuators(handle, Int32(actuators.count), joints, modes, kp, kd, limits, velocities, strength) != 0 {
            throw SimulationError.invalidDescription(String(cString: odeb_world_last_error(handle)))
        }
        description.actuators = actuators
    }

    /// Changes a body's mass (kg) and inertia about its COM (body frame, kg·m²) on the live world.
    public func setMass(body: Int, mass: Double, inertia: Mat3) throws {
        if odeb_body_set_mass(handle, Int32(body), mass, inertia.rowMajor) != 0 {
            throw SimulationError.invalidDescription(String(cString: odeb_world_last_error(handle)))
        }
        description.bodies[body].mass = mass
        description.bodies[body].inertia = inertia
    }

    /// A body's mass (kg) and inertia about its COM (body frame, kg·m²), read from the ODE body.
    public func mass(body: Int) -> (mass: Double, inertia: Mat3) {
        precondition(body >= 0 && body < bodyCount, "no body \(body)")
        var m = 0.0
        var inertia = [Double](repeating: 0, count: 9)
        odeb_body_get_mass(handle, Int32(body), &m, &inertia)
        return (m, Mat3(rowMajor: inertia))
    }

    /// Changes a joint's viscous damping and Coulomb friction on the live world.
    public func setJointDynamics(joint: Int, damping: Double, friction: Double) {
        odeb_joint_set_dynamics(handle, Int32(joint), damping, friction)
        description.joints[joint].damping = damping
        description.joints[joint].friction = friction
    }

    /// A joint's viscous damping (N·m·s/rad or N·s/m) and Coulomb friction (N·m or N), read from the bridge.
    public func jointDynamics(joint: Int) -> (damping: Double, friction: Double) {
        precondition(joint >= 0 && joint < jointCount, "no joint \(joint)")
        var d = 0.0, f = 0.0
        odeb_joint_get_dynamics(handle, Int32(joint), &d, &f)
        return (d, f)
    }

    /// Re-declares joint `joint`'s anchor and axis (world frame). The bodies must be at the joint's build
    /// position (`description.joints[joint].position`): hinge angles and slider offsets are measured from the
    /// current poses again, as when the joint was created. Used after a body's COM moved within its link
    /// frame (ODE keeps anchors relative to each body's COM).
    public func resetJointFrame(joint: Int, anchor: Vec3, axis: Vec3) {
        precondition(joint >= 0 && joint < jointCount, "no joint \(joint)")
        odeb_joint_reset_frame(handle, Int32(joint), anchor.array, axis.normalized.array)
        description.joints[joint].anchor = anchor
        description.joints[joint].axis = axis
    }

    /// Changes the friction coefficient of geometry `geom` (global geometry index, in body order; nil: the world's).
    public func setGeomFriction(geom: Int, friction: Double?) {
        odeb_geom_set_friction(handle, Int32(geom), friction ?? -1)
    }

    /// Moves geometry `index` of body `body` to `pose` in the body's COM frame.
    public func setGeomPose(body: Int, index: Int, pose: Pose) {
        precondition(body >= 0 && body < bodyCount && index >= 0 && index < description.bodies[body].geoms.count,
                     "no geometry \(index) on body \(body)")
        let global = description.bodies[..<body].reduce(0) { $0 + $1.geoms.count } + index
        odeb_geom_set_offset(handle, Int32(global), pose.position.array, pose.orientation.normalized.array)
        description.bodies[body].geoms[index].pose = pose
    }

    /// Changes actuator `index`'s mode (PD gains) and strength on the live world; joint, effort and velocity
    /// limits stay. Cheaper than `setActuators` (no re-declaration of the other actuators).
    public func setActuator(_ index: Int, mode: ActuatorMode, strength: Double) {
        precondition(index >= 0 && index < actuatorCount, "no actuator \(index)")
        let (code, kp, kd): (UInt32, Double, Double) = switch mode {
        case .torque: (ODEB_ACT_TORQUE.rawValue, 0, 0)
        case .position(let p, let d): (ODEB_ACT_POSITION.rawValue, p, d)
        }
        odeb_world_set_actuator(handle, Int32(index), Int32(code), kp, kd, strength)
        description.actuators[index].mode = mode
        description.actuators[index].strength = strength
    }

    /// Actuator `index`'s mode (with its PD gains) and strength, read from the bridge.
    public func actuator(_ index: Int) -> (mode: ActuatorMode, strength: Double) {
        precondition(index >= 0 && index < actuatorCount, "no actuator \(index)")
        var code: Int32 = 0
        var kp = 0.0, kd = 0.0, strength = 0.0
        odeb_world_get_actuator(handle, Int32(index), &code, &kp, &kd, &strength)
        return (UInt32(code) == ODEB_ACT_POSITION.rawValue ? .position(kp: kp, kd: kd) : .torque, strength)
    }

    /// Gravity (m/s², world frame) and the ground contact's friction coefficient and restitution, as the
    /// bridge holds them.
    public var liveContactAndGravity: (gravity: Vec3, friction: Double, restitution: Double) {
        var p = odeb_world_params()
        odeb_world_get_params(handle, &p)
        return (Vec3(p.gravity.0, p.gravity.1, p.gravity.2), p.mu, p.bounce)
    }

    // MARK: - stepping

    /// Advances `substeps` physics steps with `commands` (one per actuator) held constant.
    /// - Returns: the mean applied actuator torque over the substeps, shape (actuators).
    /// - Throws: `SimulationError` when a command is non-finite or the simulation diverges.
    @discardableResult
    public func step(commands: [Double], substeps: Int = 1) throws(SimulationError) -> [Double] {
        precondition(commands.count == actuatorCount, "expected \(actuatorCount) commands, got \(commands.count)")
        let status = commands.withUnsafeBufferPointer { c in
            appliedBuffer.withUnsafeMutableBufferPointer { a in
                odeb_world_step(handle, Int32(substeps), c.baseAddress, a.baseAddress)
            }
        }
        if status != 0 { throw error(status: status) }
        return appliedBuffer
    }

    private func error(status: Int32) -> SimulationError {
        let msg = String(cString: odeb_world_last_error(handle))
        switch UInt32(status) {
        case ODEB_STATUS_NONFINITE_COMMAND.rawValue: return .nonFiniteCommand(msg)
        case ODEB_STATUS_ODE_ERROR.rawValue: return .engineError(msg)
        default: return .diverged(msg)
        }
    }

    // MARK: - state

    /// Simulated time, s.
    public var time: Double { odeb_world_time(handle) }

    /// Takes a bit-exact snapshot.
    public func snapshot() -> PhysicsSnapshot {
        stateBuffer.withUnsafeMutableBufferPointer { odeb_world_get_state(handle, $0.baseAddress) }
        return PhysicsSnapshot(values: stateBuffer, seed: odeb_world_get_seed(handle))
    }

    /// The world's random stream (QuickStep's constraint reordering): set it to replay stepping exactly, e.g.
    /// back to its value at creation when an episode restarts.
    public var randomSeed: UInt32 {
        get { odeb_world_get_seed(handle) }
        set { odeb_world_set_seed(handle, newValue) }
    }

    /// Restores a snapshot taken from this world (or a world built from the same description).
    public func restore(_ snapshot: PhysicsSnapshot) {
        precondition(snapshot.values.count == stateBuffer.count, "snapshot from a different world")
        snapshot.values.withUnsafeBufferPointer { odeb_world_set_state(handle, $0.baseAddress) }
        odeb_world_set_seed(handle, snapshot.seed)
    }

    /// Pose of body `i`'s COM frame in the world.
    public func bodyPose(_ i: Int) -> Pose {
        refreshState()
        let o = 13 * i
        let s = stateBuffer
        return Pose(position: Vec3(s[o], s[o + 1], s[o + 2]),
                    orientation: Quat(w: s[o + 3], x: s[o + 4], y: s[o + 5], z: s[o + 6]))
    }

    /// Linear velocity of body `i`'s COM and its angular velocity, world frame.
    public func bodyVelocity(_ i: Int) -> (linear: Vec3, angular: Vec3) {
        refreshState()
        let o = 13 * i
        let s = stateBuffer
        return (Vec3(s[o + 7], s[o + 8], s[o + 9]), Vec3(s[o + 10], s[o + 11], s[o + 12]))
    }

    /// All body poses and velocities in one call (world frame; COM frames).
    public func bodyStates() -> [(pose: Pose, linear: Vec3, angular: Vec3)] {
        refreshState()
        let s = stateBuffer
        return (0..<bodyCount).map { i in
            let o = 13 * i
            return (Pose(position: Vec3(s[o], s[o + 1], s[o + 2]),
                         orientation: Quat(w: s[o + 3], x: s[o + 4], y: s[o + 5], z: s[o + 6])),
                    Vec3(s[o + 7], s[o + 8], s[o + 9]), Vec3(s[o + 10], s[o + 11], s[o + 12]))
        }
    }

    private func refreshState() {
        stateBuffer.withUnsafeMutableBufferPointer { odeb_world_get_state(handle, $0.baseAddress) }
    }

    /// Sets every body's COM pose and velocities (world frame) and every joint's coordinate; time unchanged.
    /// `jointPositions` must agree with the poses (it carries whole turns of continuous joints).
    public func setState(bodies: [(pose: Pose, linear: Vec3, angular: Vec3)], jointPositions: [Double]) {
        precondition(bodies.count == bodyCount && jointPositions.count == jointCount)
        var v = [Double](repeating: 0, count: stateBuffer.count)
        for (i, b) in bodies.enumerated() {
            let o = 13 * i, q = b.pose.orientation.normalized
            v[o] = b.pose.position.x; v[o + 1] = b.pose.position.y; v[o + 2] = b.pose.position.z
            v[o + 3] = q.w; v[o + 4] = q.x; v[o + 5] = q.y; v[o + 6] = q.z
            v[o + 7] = b.linear.x; v[o + 8] = b.linear.y; v[o + 9] = b.linear.z
            v[o + 10] = b.angular.x; v[o + 11] = b.angular.y; v[o + 12] = b.angular.z
        }
        for k in 0..<jointCount { v[13 * bodyCount + k] = jointPositions[k] }
        v[13 * bodyCount + jointCount] = time
        v.withUnsafeBufferPointer { odeb_world_set_state(handle, $0.baseAddress) }
    }

    /// Joint coordinates (rad or m; unwrapped) and velocities for every joint (fixed joints read 0).
    public func jointStates() -> (positions: [Double], velocities: [Double]) {
        jointQ.withUnsafeMutableBufferPointer { q in
            jointQd.withUnsafeMutableBufferPointer { qd in odeb_world_get_joints(handle, q.baseAddress, qd.baseAddress) }
        }
        return (jointQ, jointQd)
    }

    /// Ground contacts at the last substep: number of contact points per body and the total contact force
    /// on each body (world frame, N).
    public func contacts() -> (counts: [Int], forces: [Vec3]) {
        var counts = [Int32](repeating: 0, count: bodyCount)
        var forces = [Double](repeating: 0, count: 3 * bodyCount)
        odeb_world_get_contacts(handle, &counts, &forces)
        return (counts.map(Int.init), (0..<bodyCount).map { Vec3(forces[3 * $0], forces[3 * $0 + 1], forces[3 * $0 + 2]) })
    }

    /// Ground contact points per geometry at the last substep, shape (geoms) in the order bodies list them.
    public func geomContacts() -> [Int] {
        var counts = [Int32](repeating: 0, count: Int(odeb_world_geom_count(handle)))
        odeb_world_get_geom_contacts(handle, &counts)
        return counts.map(Int.init)
    }

    /// True when ODE's random stream is kept per world (see `odeb_rng_is_per_thread`).
    public static var hasPerWorldRandomStream: Bool { odeb_rng_is_per_thread() != 0 }
}
