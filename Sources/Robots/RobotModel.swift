import ControlCore
import Foundation
import Physics

/// How the robot's root is attached to the world.
public enum BaseMode: String, Codable, Sendable, CaseIterable {
    /// The root body moves freely (legged and mobile robots).
    case floating
    /// The root body is welded to the world (arms).
    case fixed
    /// Fixed when the root link is called `world` (the ROS convention for a welded robot), else floating.
    case automatic
}

/// A rigid body of the simulation: one URDF link plus every link welded to it by fixed joints
/// (their masses, inertias and collision shapes lumped, as Bullet and MuJoCo do).
public struct RobotBody: Sendable {
    /// The group's root link; the body's reference frame is this link's frame.
    public var name: String
    /// Every URDF link in the group.
    public var links: [String]
    /// Total mass, kg.
    public var mass: Double
    /// Centre of mass in the reference (root-link) frame, m.
    public var centerOfMass: Vec3
    /// Inertia about the COM, axes of the reference frame, kg·m².
    public var inertia: Mat3
    /// Collision shapes with their pose in the reference frame and the link each came from.
    public var shapes: [(shape: CollisionShape, pose: Pose, link: String)]
    /// Index of the joint that moves this body (nil for the root).
    public var parentJoint: Int?
}

/// A joint between two bodies: a URDF revolute, continuous, prismatic or floating joint.
public struct RobotJoint: Sendable {
    public var name: String
    public var type: URDFJointType
    public var parentBody: Int
    public var childBody: Int
    /// Child reference frame in the parent reference frame at joint position 0.
    public var origin: Pose
    /// Unit axis in the child reference frame.
    public var axis: Vec3
    public var limit: URDFLimit?
    /// Viscous damping (N·m·s/rad or N·s/m) and Coulomb friction (N·m or N).
    public var damping: Double
    public var friction: Double
    /// True for the one-degree-of-freedom joints the simulator actuates.
    public var isActuated: Bool { type.isActuated }
    /// Position limits as a range for bounded joints (revolute, prismatic), nil otherwise.
    public var range: ClosedRange<Double>? {
        guard type == .revolute || type == .prismatic, let l = limit, l.lower <= l.upper else { return nil }
        return l.lower...l.upper
    }
}

/// A robot ready to simulate: the URDF's kinematic tree with fixed joints merged, bodies in topological
/// order (body 0 is the root), and forward kinematics. Immutable; physical parameters that change at run
/// time live in the world (`RobotSimulation.apply(_:)`).
public struct RobotModel: Sendable {
    public let urdf: URDFRobot
    public let bodies: [RobotBody]
    /// Movable joints, in URDF document order.
    public let joints: [RobotJoint]
    /// Every link's frame as (body index, pose in the body's reference frame).
    public let linkFrames: [String: (body: Int, pose: Pose)]
    /// Indices into `joints` of the actuated (one-DOF) joints, in URDF order: the robot's DOF order.
    public let actuatedJoints: [Int]
    /// The DOF index of each joint in `joints` (nil for joints that are not actuated).
    public let dofOfJoint: [Int?]
    /// Warnings from loading and building (ignored meshes, unsupported elements).
    public let warnings: [String]

    /// Loads and validates a URDF file. - Throws: `URDFError` naming file, line and element.
    public init(contentsOf url: URL) throws {
        try self.init(urdf: URDFParser.parse(contentsOf: url))
    }

    /// Builds the simulation model from a parsed URDF.
    /// - Throws: `URDFError` for what the simulator cannot represent (planar joints, a hinge range ≥ 2π).
    public init(urdf: URDFRobot) throws {
        self.urdf = urdf
        var warnings = urdf.warnings
        let linkByName = Dictionary(urdf.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var childJoints: [String: [URDFJoint]] = [:]
        for j in urdf.joints { childJoints[j.parent, default: []].append(j) }

        // group links welded by fixed joints, walking the tree breadth-first from the root
        var bodies: [RobotBody] = []
        var joints: [RobotJoint] = []
        var frames: [String: (body: Int, pose: Pose)] = [:]
        var pendingJoints: [(joint: URDFJoint, parentBody: Int, parentPose: Pose)] = []
        var queue: [(link: String, parentJoint: URDFJoint?, parentBody: Int, parentPose: Pose)] =
            [(urdf.rootLink, nil, -1, .identity)]
        var movable: [(urdfIndex: Int, joint: RobotJoint)] = []
        let urdfIndex = Dictionary(urdf.joints.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        while !queue.isEmpty {
            let start = queue.removeFirst()
            let bodyIndex = bodies.count
            var body = RobotBody(name: start.link, links: [], mass: 0, centerOfMass: .zero, inertia: .zero, shapes: [], parentJoint: nil)
            var masses: [(m: Double, com: Vec3, inertia: Mat3)] = []
            // flood the fixed-joint group
            var stack: [(String, Pose)] = [(start.link, .identity)]
            while let (name, pose) = stack.popLast() {
                body.links.append(name)
                frames[name] = (bodyIndex, pose)
                let link = linkByName[name]!
                if let inertial = link.inertial, inertial.mass > 0 {
                    let p = pose.compose(inertial.origin)
                    let r = p.orientation.matrix
                    masses.append((inertial.mass, p.position, r * inertial.inertia * r.transposed))
                }
                for shape in link.collisions {
                    let p = pose.compose(shape.origin)
                    switch shape.geometry {
                    case .box(let s): body.shapes.append((.box(size: s), p, name))
                    case .sphere(let r): body.shapes.append((.sphere(radius: r), p, name))
                    case .cylinder(let r, let l): body.shapes.append((.cylinder(radius: r, length: l), p, name))
                    case .capsule(let r, let l): body.shapes.append((.capsule(radius: r, length: l), p, name))
                    case .mesh: break  // the parser already warned
                    }
                }
                for j in childJoints[name] ?? [] {
                    if j.type == .fixed {
                        stack.append((j.child, pose.compose(j.origin)))
                    } else {
                        pendingJoints.append((j, bodyIndex, pose))
                    }
                }
            }
            // lump masses: total, COM, inertia about the COM (parallel axis theorem)
            let total = masses.reduce(0) { $0 + $1.m }
            if total > 0 {
                let com = masses.reduce(Vec3.zero) { $0 + $1.m * $1.com } / total
                var inertia = Mat3.zero
                for part in masses {
                    let d = part.com - com
                    let shift = part.m * (d.dot(d) * Mat3.identity + (-1) * Mat3(d.x * d, d.y * d, d.z * d))
                    inertia = inertia + part.inertia + shift
                }
                body.mass = total; body.centerOfMass = com; body.inertia = inertia
            }
            if let pj = start.parentJoint {
                if pj.type == .planar {
                    throw URDFError(file: urdf.source, line: pj.line, element: "joint '\(pj.name)'",
                                    message: "planar joints are not supported by the simulator")
                }
                var type = pj.type
                if pj.type == .revolute, let l = pj.limit, l.upper - l.lower >= 2 * Double.pi - 1e-6 {
                    // a revolute range of a full turn or more behaves as continuous
                    warnings.append("joint '\(pj.name)' (line \(pj.line)): range ≥ 2π simulated without stops")
                    type = .continuous
                }
                let rj = RobotJoint(name: pj.name, type: type, parentBody: start.parentBody, childBody: bodyIndex,
                                    origin: start.parentPose.compose(pj.origin), axis: pj.axis.normalized, limit: pj.limit,
                                    damping: pj.damping, friction: pj.friction)
                movable.append((urdfIndex[pj.name] ?? 0, rj))
            }
            bodies.append(body)
            for p in pendingJoints { queue.append((p.joint.child, p.joint, p.parentBody, p.parentPose)) }
            pendingJoints.removeAll()
        }
        // movable joints in URDF order, bodies pointing at them
        movable.sort { $0.urdfIndex < $1.urdfIndex }
        joints = movable.map(\.joint)
        for (k, j) in joints.enumerated() { bodies[j.childBody].parentJoint = k }
        self.bodies = bodies
        self.joints = joints
        self.linkFrames = frames
        self.actuatedJoints = joints.indices.filter { joints[$0].isActuated }
        var dofOfJoint = [Int?](repeating: nil, count: joints.count)
        for (i, k) in actuatedJoints.enumerated() { dofOfJoint[k] = i }
        self.dofOfJoint = dofOfJoint
        self.warnings = warnings
    }

    /// Robot name from the URDF.
    public var name: String { urdf.name }
    /// Number of actuated degrees of freedom.
    public var dof: Int { actuatedJoints.count }
    /// Names of the actuated joints in DOF order.
    public var jointNames: [String] { actuatedJoints.map { joints[$0].name } }
    /// Total mass, kg.
    public var totalMass: Double { bodies.reduce(0) { $0 + $1.mass } }

    /// Whether the base is welded to the world for `mode`.
    public func isFixedBase(_ mode: BaseMode) -> Bool {
        switch mode {
        case .fixed: return true
        case .floating: return false
        case .automatic: return urdf.rootLink == "world"
        }
    }

    // MARK: - kinematics

    /// World poses of every body's reference (root-link) frame for a base pose and joint positions
    /// (`q` in DOF order; non-actuated floating joints sit at their origin).
    public func forwardKinematics(base: Pose, q: [Double]) -> [Pose] {
        var poses: [Pose] = []
        forwardKinematics(base: base, q: q, into: &poses)
        return poses
    }

    /// `forwardKinematics(base:q:)` into `poses` (resized to `count` when shorter, so repeated calls do not
    /// allocate), for the first `count` bodies only (bodies come parents first, so a prefix is a subtree
    /// closed under parents).
    public func forwardKinematics(base: Pose, q: [Double], into poses: inout [Pose], count: Int? = nil) {
        precondition(q.count == dof, "expected \(dof) joint positions")
        let n = min(count ?? bodies.count, bodies.count)
        if poses.count < n { poses = [Pose](repeating: .identity, count: n) }
        poses[0] = base
        for b in 1..<max(n, 1) {
            guard let k = bodies[b].parentJoint else { continue }
            let j = joints[k]
            let qk = dofOfJoint[k].map { q[$0] } ?? 0
            let motion: Pose = switch j.type {
            case .prismatic: Pose(position: qk * j.axis)
            case .revolute, .continuous: Pose(orientation: Quat(axis: j.axis, angle: qk))
            default: .identity
            }
            poses[b] = poses[j.parentBody].compose(j.origin).compose(motion)
        }
    }

    /// World poses and velocities of every body's COM frame (the physics engine's body state) for a base
    /// pose and twist (linear velocity of the base frame origin and angular velocity, world frame) and joint
    /// positions and velocities in DOF order.
    public func bodyStates(base: Pose, baseLinearVelocity: Vec3 = .zero, baseAngularVelocity: Vec3 = .zero,
                           q: [Double], qd: [Double]) -> [(pose: Pose, linear: Vec3, angular: Vec3)] {
        let frames = forwardKinematics(base: base, q: q)
        var dofOf = [Int: Int]()
        for (i, j) in actuatedJoints.enumerated() { dofOf[j] = i }
        var originVelocity = [Vec3](repeating: .zero, count: bodies.count)
        var omega = [Vec3](repeating: .zero, count: bodies.count)
        originVelocity[0] = baseLinearVelocity
        omega[0] = baseAngularVelocity
        for b in 1..<bodies.count {
            guard let k = bodies[b].parentJoint else { continue }
            let j = joints[k], p = j.parentBody
            let rate = dofOf[k].map { qd[$0] } ?? 0
            let axisWorld = frames[b].orientation.rotate(j.axis)
            // the child origin lies on the joint axis: rotation about it does not move the origin
            var v = originVelocity[p] + omega[p].cross(frames[b].position - frames[p].position)
            var w = omega[p]
            if j.type == .prismatic { v += rate * axisWorld } else if j.type != .floating { w += rate * axisWorld }
            originVelocity[b] = v
            omega[b] = w
        }
        return bodies.indices.map { b in
            let comWorld = frames[b].transform(bodies[b].centerOfMass)
            let v = originVelocity[b] + omega[b].cross(comWorld - frames[b].position)
            return (Pose(position: comWorld, orientation: frames[b].orientation), v, omega[b])
        }
    }

    /// World pose of a link frame given the body reference-frame poses from `forwardKinematics`.
    public func linkPose(_ link: String, bodyFrames: [Pose]) -> Pose? {
        guard let f = linkFrames[link] else { return nil }
        return bodyFrames[f.body].compose(f.pose)
    }
}
