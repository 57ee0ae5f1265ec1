import ControlCore
import Physics

/// A robot built into an ODE world: joint-space state in DOF order, base state, contacts per link,
/// actuation with an optional latency, physical parameters changed on the live world, and bit-exact
/// snapshots.
///
/// Frames: the base pose is the root link's frame in the world; "body frame" velocities are expressed in
/// the root link's axes. Joint order is the model's DOF order (`model.jointNames`).
public final class RobotSimulation: @unchecked Sendable {
    public let model: RobotModel
    public let world: PhysicsWorld
    /// True when the root is welded to the world.
    public let fixedBase: Bool
    /// Physics body index of each robot body (nil for a root welded to the world: it is static).
    public let physicsBody: [Int?]
    /// Physics joint index of each DOF.
    public let physicsJointOfDOF: [Int]
    /// The link each physics collision geometry came from, in the world's geometry order.
    public let geomLinks: [String]
    /// The pose of the base used when the world was built (the static root's pose for a fixed base).
    public let basePoseAtBuild: Pose
    /// The physical parameters the world was built with: masses, centres of mass and inertias of the URDF
    /// (merged bodies lumped), its joint `<dynamics>`, strength 1, the actuators' PD gains, no latency, and
    /// the settings' ground friction, restitution and gravity.
    public private(set) var nominalParameters: PhysicsParameters

    /// The parameters last applied (`apply(_:)`, `restore(_:)`; at first the nominal ones), in canonical
    /// order (model bodies, DOF order). Snapshots carry this value.
    private var applied: PhysicsParameters
    /// Each model body's centre of mass in its reference frame as simulated (nominal: `model.bodies[b]`).
    private var centersOfMass: [Vec3]
    /// True where `centersOfMass[b]` differs from the model's.
    private var comShifted: [Bool]
    /// Reference-frame poses of the bodies at the build configuration (where ODE measures joints from).
    private let buildFrames: [Pose]
    /// Commands given to `step` and not yet applied, oldest first (`applied.latency` of them).
    private var pending: [[Double]] = []
    /// The command applied in the last step (after a `setState`: the hold command of the reset).
    private var lastCommand: [Double] = []

    /// Builds the world.
    /// - Parameters:
    ///   - settings: world settings (time step, solver, contact model).
    ///   - base: floating or welded root; `.automatic` follows `RobotModel.isFixedBase`.
    ///   - basePose: where the root link frame starts (world frame).
    ///   - actuators: one mode per DOF (default: torque control on every joint); effort limits come from
    ///     the URDF `<limit effort>`.
    ///   - seed: the world's random stream (QuickStep reordering).
    /// - Throws: `SimulationError.invalidDescription` when a body has no mass or a shape is invalid.
    public init(model: RobotModel, settings: WorldSettings = WorldSettings(), base: BaseMode = .automatic,
                basePose: Pose = .identity, actuators: [ActuatorMode]? = nil, seed: UInt32 = 0) throws {
        self.model = model
        let fixed = model.isFixedBase(base)
        fixedBase = fixed
        basePoseAtBuild = basePose
        let modes = actuators ?? Array(repeating: .torque, count: model.dof)
        precondition(modes.count == model.dof, "expected \(model.dof) actuator modes")
        // build at the middle of every joint's range (0 for unbounded joints): ODE measures hinge angles within
        // ±π of the build pose, and no stop may be violated when the world is created
        let buildQ = model.actuatedJoints.map { k -> Double in
            guard let r = model.joints[k].range else { return 0 }
            return 0.5 * (r.lowerBound + r.upperBound)
        }
        var buildPosition = [Int: Double]()
        for (i, k) in model.actuatedJoints.enumerated() { buildPosition[k] = buildQ[i] }
        let frames = model.forwardKinematics(base: basePose, q: buildQ)

        // bodies at their COM frames (oriented like the reference link frame)
        var description = WorldDescription(settings: settings)
        var physicsBody = [Int?](repeating: nil, count: model.bodies.count)
        var geomLinks: [String] = []
        for (b, body) in model.bodies.enumerated() {
            // a welded root is part of the static world: no body, no weld rows; joints attach to the world
            // (its collision shapes are dropped: a welded base never needs ground contact)
            if b == 0 && fixed { continue }
            if body.mass <= 0 {
                throw SimulationError.invalidDescription(
                    "body '\(body.name)' has no mass\(b == 0 ? " (a floating base needs mass; use a fixed base?)" : "")")
            }
            let toCOM = Pose(position: -body.centerOfMass)
            let geoms = body.shapes.map { GeomDescription(shape: $0.shape, pose: toCOM.compose($0.pose)) }
            geomLinks += body.shapes.map(\.link)
            physicsBody[b] = description.bodies.count
            description.bodies.append(BodyDescription(
                name: body.name, pose: frames[b].compose(Pose(position: body.centerOfMass)),
                mass: body.mass, inertia: body.inertia, geoms: geoms))
        }
        // the movable joints
        var physicsJoint = [Int?](repeating: nil, count: model.joints.count)
        for (k, j) in model.joints.enumerated() {
            let kind: JointKind
            switch j.type {
            case .revolute, .continuous: kind = .hinge
            case .prismatic: kind = .slider
            default: continue  // a floating child is a free body
            }
            guard let child = physicsBody[j.childBody] else { continue }
            physicsJoint[k] = description.joints.count
            description.joints.append(JointDescription(
                name: j.name, kind: kind, parent: physicsBody[j.parentBody], child: child,
                anchor: frames[j.childBody].position, axis: frames[j.childBody].orientation.rotate(j.axis),
                position: buildPosition[k] ?? 0, limits: j.range, damping: j.damping, friction: j.friction))
        }
        let dofJoints = model.actuatedJoints.map { physicsJoint[$0]! }
        description.actuators = zip(dofJoints, zip(model.actuatedJoints, modes)).map { pj, km in
            let effort = model.joints[km.0].limit?.effort ?? 0
            let velocity = model.joints[km.0].limit?.velocity ?? 0
            return ActuatorDescription(joint: pj, mode: km.1, effortLimit: effort > 0 ? effort : nil,
                                       velocityLimit: velocity > 0 ? velocity : nil)
        }
        world = try PhysicsWorld(description, seed: seed)
        self.physicsBody = physicsBody
        self.physicsJointOfDOF = dofJoints
        self.geomLinks = geomLinks
        buildFrames = frames
        centersOfMass = model.bodies.map(\.centerOfMass)
        comShifted = Array(repeating: false, count: model.bodies.count)
        // placeholders until the world can be read back
        nominalParameters = PhysicsParameters(bodies: [], joints: [])
        applied = nominalParameters
        nominalParameters = readParameters()
        applied = nominalParameters
        setState(basePose: basePose, q: Array(repeating: 0, count: model.dof).enumerated().map { i, _ in
            // start at zero where that is inside the range, else at the range's middle
            let r = model.joints[model.actuatedJoints[i]].range
            return r.map { $0.contains(0) ? 0 : buildQ[i] } ?? 0
        })
    }

    // MARK: - state

    /// Puts the robot in a configuration: base pose and twist (world frame: linear velocity of the root
    /// link origin, angular velocity) and joint positions/velocities in DOF order. A fixed base keeps its
    /// build pose.
    public func setState(basePose: Pose? = nil, baseLinearVelocity: Vec3 = .zero, baseAngularVelocity: Vec3 = .zero,
                         q: [Double], qd: [Double]? = nil) {
        let base = fixedBase ? basePoseAtBuild : (basePose ?? self.basePose)
        let states = model.bodyStates(base: base, baseLinearVelocity: fixedBase ? .zero : baseLinearVelocity,
                                      baseAngularVelocity: fixedBase ? .zero : baseAngularVelocity,
                                      q: q, qd: qd ?? Array(repeating: 0, count: model.dof))
        var bodies: [(pose: Pose, linear: Vec3, angular: Vec3)] = []
        bodies.reserveCapacity(world.bodyCount)
        for (b, s) in states.enumerated() where physicsBody[b] != nil {
            if comShifted[b] {
                // the model's states are for its own COM: move to the simulated one (same link frame)
                let d = s.pose.orientation.rotate(centersOfMass[b] - model.bodies[b].centerOfMass)
                bodies.append((Pose(position: s.pose.position + d, orientation: s.pose.orientation),
                               s.linear + s.angular.cross(d), s.angular))
            } else {
                bodies.append(s)
            }
        }
        var jointQ = [Double](repeating: 0, count: world.jointCount)
        for (i, pj) in physicsJointOfDOF.enumerated() { jointQ[pj] = q[i] }
        world.setState(bodies: bodies, jointPositions: jointQ)
        resetCommands(q: q)
    }

    /// The command the actuators hold after a reset to joint positions `q`: position targets at `q` for
    /// position-controlled joints (hold still), zero torque for torque-controlled ones. The pending queue
    /// is refilled with it.
    private func resetCommands(q: [Double]) {
        lastCommand = world.description.actuators.enumerated().map { i, a in
            if case .position = a.mode { return q[i] }
            return 0
        }
        pending = Array(repeating: lastCommand, count: applied.latency)
    }

    /// Joint positions (rad or m) and velocities in DOF order.
    public func jointState() -> (q: [Double], qd: [Double]) {
        let (p, v) = world.jointStates()
        return (physicsJointOfDOF.map { p[$0] }, physicsJointOfDOF.map { v[$0] })
    }

    /// Root link frame in the world.
    public var basePose: Pose { referenceFrame(of: 0) }

    /// World pose of robot body `b`'s reference (root-link) frame, from its COM frame in the physics world;
    /// a static (welded) root keeps its build pose.
    func referenceFrame(of b: Int) -> Pose {
        guard let pb = physicsBody[b] else { return basePoseAtBuild }
        let com = world.bodyPose(pb)
        return Pose(position: com.position - com.orientation.rotate(centersOfMass[b]), orientation: com.orientation)
    }

    /// Root link origin velocity and angular velocity, world frame.
    public var baseVelocity: (linear: Vec3, angular: Vec3) {
        guard let b = physicsBody[0] else { return (.zero, .zero) }
        let pose = world.bodyPose(b)
        let (v, w) = world.bodyVelocity(b)
        let offset = pose.orientation.rotate(centersOfMass[0])
        return (v - w.cross(offset), w)
    }

    /// Root link velocities in the root link's own axes (body frame).
    public var baseVelocityInBaseFrame: (linear: Vec3, angular: Vec3) {
        let q = basePose.orientation
        let (v, w) = baseVelocity
        return (q.inverseRotate(v), q.inverseRotate(w))
    }

    /// World pose of any link frame.
    public func linkPose(_ link: String) -> Pose? {
        guard let f = model.linkFrames[link] else { return nil }
        return referenceFrame(of: f.body).compose(f.pose)
    }

    /// Ground contact points per link at the last physics substep (links without contacts are absent).
    public func linkContacts() -> [String: Int] {
        var result: [String: Int] = [:]
        for (g, n) in world.geomContacts().enumerated() where n > 0 { result[geomLinks[g], default: 0] += n }
        return result
    }

    // MARK: - stepping

    /// Advances one control step of `substeps` physics steps with one command per DOF (torques in N·m/N, or
    /// position targets in rad/m for position-controlled joints), held over the step.
    ///
    /// Latency (`parameters.latency` = k control steps): the command given at control step t acts during
    /// step t + k; the commands in between wait in a queue that snapshots carry. Until the first command
    /// arrives — the first k steps after `setState` — the actuators hold the reset command, as a real
    /// servo holds its last setpoint: position targets at the joint positions given to `setState`, zero
    /// torque for torque-controlled joints. With k = 0 the command acts at once (no queue).
    /// - Returns: mean applied torques per DOF over the step.
    /// - Throws: `SimulationError.nonFiniteCommand` (nothing simulated, nothing queued) or when the
    ///   simulation diverges.
    @discardableResult
    public func step(commands: [Double], substeps: Int) throws(SimulationError) -> [Double] {
        if pending.isEmpty {
            let torques = try world.step(commands: commands, substeps: substeps)
            lastCommand = commands
            return torques
        }
        precondition(commands.count == world.actuatorCount, "expected \(world.actuatorCount) commands, got \(commands.count)")
        if let bad = commands.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteCommand("actuator \(bad): non-finite command \(commands[bad])")
        }
        pending.append(commands)
        let due = pending.removeFirst()
        lastCommand = due
        return try world.step(commands: due, substeps: substeps)
    }

    /// Commands given to `step` that have not acted yet, oldest first (one per latency step).
    public var pendingCommands: [[Double]] { pending }

    // MARK: - snapshots

    /// Everything that determines how a `RobotSimulation` continues: the physics state, the physical
    /// parameters and the actuators' pending commands. Restoring it continues bit for bit.
    public struct Snapshot: Sendable, Hashable {
        /// Bodies, joints, time and the world's random stream.
        public var physics: PhysicsSnapshot
        /// The parameters in effect (as last applied).
        public var parameters: PhysicsParameters
        /// Commands waiting for the latency, oldest first.
        public var pendingCommands: [[Double]]
        /// The command applied in the last step (what a later latency change fills the queue with).
        public var lastCommand: [Double]
    }

    /// A bit-exact snapshot: physics state, parameters, pending commands.
    public func snapshot() -> Snapshot {
        Snapshot(physics: world.snapshot(), parameters: applied, pendingCommands: pending, lastCommand: lastCommand)
    }

    /// Restores a snapshot of this simulation (or of one built from the same model and settings). Parameters
    /// are re-applied only where they differ from the ones in effect, so restoring under unchanged
    /// parameters costs a comparison (usually of shared storage) on top of the physics restore.
    public func restore(_ s: Snapshot) {
        if s.parameters != applied {
            do { try apply(s.parameters) } catch { preconditionFailure("snapshot from a different robot: \(error)") }
        }
        // share the snapshot's storage so later comparisons hit the identity fast path of Array ==
        applied = s.parameters
        world.restore(s.physics)
        pending = s.pendingCommands
        lastCommand = s.lastCommand
    }
}

// MARK: - physical parameters

extension RobotSimulation {
    /// The physical parameters in effect, read back from the live world: masses and inertias from the ODE
    /// bodies, damping and friction from the joints, strengths and gains from the actuators, gravity and the
    /// ground contact from the world settings; centres of mass and latency as this simulation keeps them.
    /// Change them with `apply(_:)` (changes made directly on `world` are read here but not tracked by
    /// snapshots).
    public var parameters: PhysicsParameters { readParameters() }

    fileprivate func readParameters() -> PhysicsParameters {
        var bodies: [PhysicsParameters.Body] = []
        for (b, body) in model.bodies.enumerated() {
            guard let pb = physicsBody[b] else { continue }
            let m = world.mass(body: pb)
            bodies.append(PhysicsParameters.Body(name: body.name, mass: m.mass, centerOfMass: centersOfMass[b], inertia: m.inertia))
        }
        let names = model.jointNames
        let joints = physicsJointOfDOF.enumerated().map { i, pj -> PhysicsParameters.Joint in
            let d = world.jointDynamics(joint: pj)
            let a = world.actuator(i)
            var gains: PhysicsParameters.PDGains?
            if case .position(let kp, let kd) = a.mode { gains = PhysicsParameters.PDGains(kp: kp, kd: kd) }
            return PhysicsParameters.Joint(name: names[i], damping: d.damping, friction: d.friction, strength: a.strength, gains: gains)
        }
        let live = world.liveContactAndGravity
        return PhysicsParameters(bodies: bodies, joints: joints, latency: applied.latency, groundFriction: live.friction,
                                 groundRestitution: live.restitution, gravity: live.gravity)
    }

    /// Applies physical parameters to the live world without rebuilding it; only values that differ from the
    /// ones in effect are touched, so applying the parameters in effect (e.g. the nominal ones on a fresh
    /// world) changes nothing, bit for bit. Bodies and joints may be listed in any order; every simulated
    /// body and every actuated joint must be present.
    ///
    /// - Mass and inertia: the ODE body's mass (about its COM, as ODE requires).
    /// - Centre of mass: bodies sit at their COM in ODE, so moving the COM within the link frame moves the
    ///   ODE body (link frames, joint positions and velocities stay), its collision shapes' offsets, and the
    ///   anchors of the joints at its ends — redone at the build configuration, exactly as building the world
    ///   with that COM would have placed them.
    /// - Damping, friction, strength, PD gains, ground friction, restitution, gravity: act from the next step.
    /// - Latency: when it changes, the pending commands are dropped and the queue is filled with the last
    ///   applied command (the actuators hold it for the new latency).
    /// - Throws: `PhysicsParametersError` naming the link, joint or setting (bad values, unknown or missing
    ///   names, PD gains on a torque-controlled joint or none on a position-controlled one); nothing is
    ///   changed then.
    public func apply(_ p: PhysicsParameters) throws {
        let p = try canonical(p)
        let old = applied
        do {
            if p.gravity != old.gravity || p.groundFriction != old.groundFriction || p.groundRestitution != old.groundRestitution {
                var s = world.settings
                s.gravity = p.gravity
                s.contact.friction = p.groundFriction
                s.contact.restitution = p.groundRestitution
                world.apply(settings: s)
            }
            var newCOM = centersOfMass
            var moved: [Int] = []
            var k = 0
            for b in model.bodies.indices {
                guard let pb = physicsBody[b] else { continue }
                let new = p.bodies[k], was = old.bodies[k]
                k += 1
                if new.mass != was.mass || new.inertia != was.inertia {
                    try world.setMass(body: pb, mass: new.mass, inertia: new.inertia)
                }
                if new.centerOfMass != was.centerOfMass { newCOM[b] = new.centerOfMass; moved.append(b) }
            }
            if !moved.isEmpty { moveCentersOfMass(to: newCOM, moved: moved) }
            for i in p.joints.indices {
                let new = p.joints[i], was = old.joints[i]
                if new.damping != was.damping || new.friction != was.friction {
                    world.setJointDynamics(joint: physicsJointOfDOF[i], damping: new.damping, friction: new.friction)
                }
                if new.strength != was.strength || new.gains != was.gains {
                    let mode: ActuatorMode = new.gains.map { .position(kp: $0.kp, kd: $0.kd) } ?? .torque
                    world.setActuator(i, mode: mode, strength: new.strength)
                }
            }
        } catch {
            // ODE refused a value that passed validation (cannot happen for validated masses): keep the
            // record true to the world
            var live = readParameters()
            live.latency = old.latency
            applied = live
            throw PhysicsParametersError(element: "world", message: "\(error)")
        }
        if p.latency != old.latency { pending = Array(repeating: lastCommand, count: p.latency) }
        applied = p
    }

    /// Validates `p` and puts its bodies and joints in this simulation's order.
    private func canonical(_ p: PhysicsParameters) throws -> PhysicsParameters {
        try p.validate()
        var out = p
        let bodyNames = nominalParameters.bodies.map(\.name)
        if p.bodies.count != bodyNames.count || zip(p.bodies, bodyNames).contains(where: { $0.name != $1 }) {
            let given = Dictionary(p.bodies.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for b in p.bodies where !bodyNames.contains(b.name) {
                let element = "link '\(b.name)'"
                if let f = model.linkFrames[b.name] {
                    if physicsBody[f.body] == nil {
                        throw PhysicsParametersError(element: element, message: "is welded to the world (a static body has no physical parameters)")
                    }
                    throw PhysicsParametersError(element: element,
                        message: "is merged by fixed joints into body '\(model.bodies[f.body].name)'; give the body's parameters under that name")
                }
                throw PhysicsParametersError(element: element, message: "no such link in robot '\(model.name)'")
            }
            if let missing = bodyNames.first(where: { given[$0] == nil }) {
                throw PhysicsParametersError(element: "link '\(missing)'", message: "missing (every simulated body needs its parameters)")
            }
            out.bodies = bodyNames.map { given[$0]! }
        }
        let jointNames = nominalParameters.joints.map(\.name)
        if p.joints.count != jointNames.count || zip(p.joints, jointNames).contains(where: { $0.name != $1 }) {
            let given = Dictionary(p.joints.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for j in p.joints where !jointNames.contains(j.name) {
                let isJoint = model.urdf.joint(named: j.name) != nil
                throw PhysicsParametersError(element: "joint '\(j.name)'",
                    message: isJoint ? "is not an actuated joint (only revolute, continuous and prismatic joints have parameters)"
                                     : "no such joint in robot '\(model.name)'")
            }
            if let missing = jointNames.first(where: { given[$0] == nil }) {
                throw PhysicsParametersError(element: "joint '\(missing)'", message: "missing (every actuated joint needs its parameters)")
            }
            out.joints = jointNames.map { given[$0]! }
        }
        for (i, j) in out.joints.enumerated() {
            let positionControlled = nominalParameters.joints[i].gains != nil
            if positionControlled && j.gains == nil {
                throw PhysicsParametersError(element: "joint '\(j.name)'", message: "is position-controlled: give its PD gains (kp, kd)")
            }
            if !positionControlled && j.gains != nil {
                throw PhysicsParametersError(element: "joint '\(j.name)'",
                                             message: "is torque-controlled: PD gains apply only to position-controlled actuators")
            }
        }
        return out
    }

    /// Moves the centres of mass of the model bodies `moved` to `newCOM` (reference frames), keeping every
    /// link frame where it is and its velocity.
    private func moveCentersOfMass(to newCOM: [Vec3], moved: [Int]) {
        let saved = world.snapshot()
        var values = saved.values
        var movedPhysics = Set<Int>()
        // 1. the current state for the new COMs: x' = x + R (c' − c), v' = v + ω × R (c' − c)
        for b in moved {
            guard let pb = physicsBody[b] else { continue }
            movedPhysics.insert(pb)
            let o = 13 * pb
            let q = Quat(w: values[o + 3], x: values[o + 4], y: values[o + 5], z: values[o + 6])
            let d = q.rotate(newCOM[b] - centersOfMass[b])
            let w = Vec3(values[o + 10], values[o + 11], values[o + 12])
            let dv = w.cross(d)
            values[o] += d.x; values[o + 1] += d.y; values[o + 2] += d.z
            values[o + 7] += dv.x; values[o + 8] += dv.y; values[o + 9] += dv.z
        }
        // 2. every body at the build configuration, as it was placed when the world was built
        var bodies: [(pose: Pose, linear: Vec3, angular: Vec3)] = []
        for b in model.bodies.indices where physicsBody[b] != nil {
            bodies.append((buildFrames[b].compose(Pose(position: newCOM[b])), .zero, .zero))
        }
        world.setState(bodies: bodies, jointPositions: world.description.joints.map(\.position))
        // 3. collision shapes in the moved bodies' new COM frames, joint anchors in both bodies' frames
        for b in moved {
            guard let pb = physicsBody[b] else { continue }
            let toCOM = Pose(position: -newCOM[b])
            for (g, shape) in model.bodies[b].shapes.enumerated() {
                world.setGeomPose(body: pb, index: g, pose: toCOM.compose(shape.pose))
            }
        }
        for (k, joint) in world.description.joints.enumerated()
        where movedPhysics.contains(joint.child) || joint.parent.map(movedPhysics.contains) == true {
            world.resetJointFrame(joint: k, anchor: joint.anchor, axis: joint.axis)
        }
        // 4. back to the (converted) state
        world.restore(PhysicsSnapshot(values: values, seed: saved.seed))
        for b in moved {
            centersOfMass[b] = newCOM[b]
            comShifted[b] = newCOM[b] != model.bodies[b].centerOfMass
        }
    }
}
