import ControlCore
import Physics

/// A robot built into an ODE world: joint-space state in DOF order, base state, contacts per link,
/// actuation, and bit-exact snapshots.
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
        for (b, s) in states.enumerated() where physicsBody[b] != nil { bodies.append(s) }
        var jointQ = [Double](repeating: 0, count: world.jointCount)
        for (i, pj) in physicsJointOfDOF.enumerated() { jointQ[pj] = q[i] }
        world.setState(bodies: bodies, jointPositions: jointQ)
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
        return Pose(position: com.position - com.orientation.rotate(model.bodies[b].centerOfMass), orientation: com.orientation)
    }

    /// Root link origin velocity and angular velocity, world frame.
    public var baseVelocity: (linear: Vec3, angular: Vec3) {
        guard let b = physicsBody[0] else { return (.zero, .zero) }
        let pose = world.bodyPose(b)
        let (v, w) = world.bodyVelocity(b)
        let offset = pose.orientation.rotate(model.bodies[0].centerOfMass)
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

    /// Advances `substeps` physics steps with one command per DOF (torques in N·m/N, or position targets in
    /// rad/m for position-controlled joints). - Returns: mean applied torques per DOF.
    @discardableResult
    public func step(commands: [Double], substeps: Int) throws(SimulationError) -> [Double] {
        try world.step(commands: commands, substeps: substeps)
    }

    /// A bit-exact snapshot of the world.
    public func snapshot() -> PhysicsSnapshot { world.snapshot() }
    /// Restores a snapshot of this simulation.
    public func restore(_ s: PhysicsSnapshot) { world.restore(s) }
}
