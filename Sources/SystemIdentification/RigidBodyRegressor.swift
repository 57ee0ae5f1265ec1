// RigidBodyRegressor.swift: the inverse dynamics of a fixed-base robot written linearly in its inertial and
// friction parameters, τ = Y(q, q̇, q̈) π (Atkeson, An and Hollerbach 1986, "Estimation of inertial parameters of
// manipulator loads and links"; the friction columns as in Gautier and Khalil's identification models).

import ControlCore
import Robots

/// The regressor Y(q, q̇, q̈) of a fixed-base robot: joint torques τ = Y π, linear in
///
///     π = [π_1 … π_B, d_1 … d_n, f_1 … f_n]
///     π_b = [m, m·c_x, m·c_y, m·c_z, I_xx, I_xy, I_xz, I_yy, I_yz, I_zz]   (body b)
///
/// with, for each moving body (a link, or links merged by fixed joints, named after its root link), its mass
/// m (kg), its first moment m·c (kg·m, c the centre of mass in the body's reference frame) and its inertia
/// tensor about the reference frame's origin, in that frame (kg·m²: I_o = I_c + m(|c|²𝟙 − c cᵀ)); then each
/// joint's viscous damping d (N·m·s/rad) and Coulomb friction f (N·m), acting as τ_i += d_i q̇_i + f_i sign(q̇_i)
/// (the torque the motor must add to overcome them). Joints in DOF order; a prismatic joint's torque is a force.
///
/// Built by the Newton–Euler recursion in the world frame: body velocities and accelerations outward from the
/// base (accelerating upward at g, which adds gravity), each body's wrench about its origin,
///
///     f = m a + α × (m c) + ω × (ω × m c),   n = I_o α + ω × (I_o ω) + (m c) × a,
///
/// linear in π_b, and each joint torque the projection on its axis of the wrenches of the bodies it carries,
/// taken about its anchor.
public struct RigidBodyRegressor: Sendable {
    public let model: RobotModel
    /// Gravity in the world frame, m/s² (the base frame is the world frame).
    public let gravity: Vec3
    /// The moving bodies (indices into `model.bodies`), in the order of π.
    public let bodies: [Int]
    /// Parameters per body.
    public static let parametersPerBody = 10
    /// Names of π's entries: `<body>.mass`, `<body>.com_x·m` …, `<body>.inertia_xx` …, `<joint>.damping`,
    /// `<joint>.friction`.
    public let parameterNames: [String]
    /// Bodies in an order where every parent comes before its children.
    let order: [Int]
    /// For each actuated joint (DOF order): the bodies it carries (its child body's subtree), as positions in `bodies`.
    let carried: [[Int]]

    /// - Parameters: `base`: how the robot is mounted; the regressor models a root link welded to the world (an
    ///   arm on its table), so `.floating` (or `.automatic` for a URDF without a `world` root) is refused.
    /// - Throws: `SystemIdentificationError.unsupported` for a floating base or a robot without joints.
    public init(model: RobotModel, base: BaseMode = .fixed, gravity: Vec3 = Vec3(0, 0, -9.81)) throws {
        guard model.isFixedBase(base) else {
            throw SystemIdentificationError.unsupported("\(model.name): the inverse-dynamics regressor needs a fixed-base robot (this one floats); identify it by trajectory matching")
        }
        guard model.dof > 0 else { throw SystemIdentificationError.unsupported("\(model.name) has no movable joints") }
        self.model = model
        self.gravity = gravity
        bodies = Array(model.bodies.indices.dropFirst())
        func depth(_ b: Int) -> Int {
            var d = 0, current = b
            while let k = model.bodies[current].parentJoint { d += 1; current = model.joints[k].parentBody }
            return d
        }
        order = bodies.sorted { depth($0) < depth($1) }
        var position = [Int: Int]()
        for (p, b) in bodies.enumerated() { position[b] = p }
        carried = model.actuatedJoints.map { k in
            let root = model.joints[k].childBody
            return model.bodies.indices.filter { b in
                var current = b
                while true {
                    if current == root { return true }
                    guard let j = model.bodies[current].parentJoint else { return false }
                    current = model.joints[j].parentBody
                }
            }.compactMap { position[$0] }
        }
        let suffixes = ["mass", "first_moment_x", "first_moment_y", "first_moment_z",
                        "inertia_xx", "inertia_xy", "inertia_xz", "inertia_yy", "inertia_yz", "inertia_zz"]
        parameterNames = bodies.flatMap { b in suffixes.map { "\(model.bodies[b].name).\($0)" } }
            + model.jointNames.map { "\($0).damping" } + model.jointNames.map { "\($0).friction" }
    }

    public var dof: Int { model.dof }
    public var inertialParameterCount: Int { Self.parametersPerBody * bodies.count }
    public var parameterCount: Int { inertialParameterCount + 2 * dof }

    /// π of physical parameters (their bodies matched by name; joints in DOF order).
    /// - Throws: `SystemIdentificationError.invalidInput` when a body or joint is missing.
    public func parameterVector(_ p: PhysicsParameters) throws -> [Double] {
        var pi: [Double] = []
        for b in bodies {
            let name = model.bodies[b].name
            guard let body = p.bodies.first(where: { $0.name == name }) else {
                throw SystemIdentificationError.invalidInput("the physical parameters have no body '\(name)'")
            }
            let m = body.mass, c = body.centerOfMass
            let io = body.inertia + m * (c.dot(c) * Mat3.identity + (-1) * Self.outer(c, c))
            pi += [m, m * c.x, m * c.y, m * c.z, io.r0.x, io.r0.y, io.r0.z, io.r1.y, io.r1.z, io.r2.z]
        }
        guard p.joints.count == dof else {
            throw SystemIdentificationError.invalidInput("the physical parameters have \(p.joints.count) joints, the robot \(dof)")
        }
        return pi + p.joints.map(\.damping) + p.joints.map(\.friction)
    }

    /// Physical parameters from π: `base` with every body's mass, centre of mass and inertia about the centre
    /// of mass, and every joint's damping and friction, replaced. (π must be physically consistent for the
    /// result to validate: see `InverseDynamicsIdentification`.)
    public func physicsParameters(_ pi: [Double], base: PhysicsParameters) -> PhysicsParameters {
        precondition(pi.count == parameterCount)
        var p = base
        for (k, b) in bodies.enumerated() {
            let v = Array(pi[(10 * k)..<(10 * k + 10)])
            let m = v[0], c = m != 0 ? Vec3(v[1], v[2], v[3]) / m : .zero
            let io = Mat3.symmetric(xx: v[4], xy: v[5], xz: v[6], yy: v[7], yz: v[8], zz: v[9])
            let ic = io + (-m) * (c.dot(c) * Mat3.identity + (-1) * Self.outer(c, c))
            if let i = p.bodies.firstIndex(where: { $0.name == model.bodies[b].name }) {
                p.bodies[i].mass = m; p.bodies[i].centerOfMass = c; p.bodies[i].inertia = ic
            }
        }
        for i in 0..<dof {
            p.joints[i].damping = pi[inertialParameterCount + i]
            p.joints[i].friction = pi[inertialParameterCount + dof + i]
        }
        return p
    }

    /// Y(q, q̇, q̈): `dof` rows of `parameterCount` entries, row-major. q, q̇, q̈ in DOF order (rad, rad/s,
    /// rad/s², or m… for sliders). `frictionMask[i] == false` zeroes joint i's Coulomb column (samples where
    /// the joint is too slow for its friction to be known: it may be sticking).
    public func rows(q: [Double], qd: [Double], qdd: [Double], coulomb frictionMask: [Bool]? = nil) -> [Double] {
        precondition(q.count == dof && qd.count == dof && qdd.count == dof)
        let frames = model.forwardKinematics(base: .identity, q: q)
        let nb = model.bodies.count
        var omega = [Vec3](repeating: .zero, count: nb), alpha = omega, accel = omega
        accel[0] = -1 * gravity
        for b in order {
            let k = model.bodies[b].parentJoint!, j = model.joints[k], parent = j.parentBody
            let axis = frames[b].orientation.rotate(j.axis)
            let r = frames[b].position - frames[parent].position
            let w = omega[parent], al = alpha[parent]
            var a = accel[parent] + al.cross(r) + w.cross(w.cross(r))
            if let i = model.dofOfJoint[k] {
                if j.type == .prismatic {
                    omega[b] = w; alpha[b] = al
                    a += qdd[i] * axis + 2 * qd[i] * w.cross(axis)
                } else {
                    omega[b] = w + qd[i] * axis
                    alpha[b] = al + qdd[i] * axis + qd[i] * w.cross(axis)
                }
            } else {
                omega[b] = w; alpha[b] = al
            }
            accel[b] = a
        }
        // each body's 10 wrench columns (force, moment about its origin), world frame
        var force = [Vec3](repeating: .zero, count: 10 * bodies.count), moment = force
        for (p, b) in bodies.enumerated() {
            let rot = frames[b].orientation.matrix, w = omega[b], al = alpha[b], a = accel[b]
            force[10 * p] = a
            for e in 0..<3 {
                let v = rot * Vec3(e == 0 ? 1 : 0, e == 1 ? 1 : 0, e == 2 ? 1 : 0)
                force[10 * p + 1 + e] = al.cross(v) + w.cross(w.cross(v))
                moment[10 * p + 1 + e] = v.cross(a)
            }
            let wb = rot.transposed * w, ab = rot.transposed * al
            for (e, (r, c)) in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)].enumerated() {
                // E: the symmetric basis matrix of entry (r, c); n̂ = E α̂ + ω̂ × (E ω̂)
                func times(_ v: Vec3) -> Vec3 {
                    var out = [0.0, 0, 0]
                    let x = [v.x, v.y, v.z]
                    out[r] += x[c]
                    if r != c { out[c] += x[r] }
                    return Vec3(out)
                }
                moment[10 * p + 4 + e] = rot * (times(ab) + wb.cross(times(wb)))
            }
        }
        var y = [Double](repeating: 0, count: dof * parameterCount)
        for (i, k) in model.actuatedJoints.enumerated() {
            let j = model.joints[k], child = j.childBody
            let axis = frames[child].orientation.rotate(j.axis), anchor = frames[child].position
            for p in carried[i] {
                let offset = frames[bodies[p]].position - anchor
                for c in (10 * p)..<(10 * p + 10) {
                    y[i * parameterCount + c] = j.type == .prismatic
                        ? axis.dot(force[c]) : axis.dot(moment[c] + offset.cross(force[c]))
                }
            }
            y[i * parameterCount + inertialParameterCount + i] = qd[i]
            if frictionMask?[i] ?? true {
                y[i * parameterCount + inertialParameterCount + dof + i] = qd[i] > 0 ? 1 : (qd[i] < 0 ? -1 : 0)
            }
        }
        return y
    }

    /// τ = Y(q, q̇, q̈) π.
    public func torques(q: [Double], qd: [Double], qdd: [Double], parameters pi: [Double]) -> [Double] {
        let y = rows(q: q, qd: qd, qdd: qdd)
        return (0..<dof).map { i in (0..<parameterCount).reduce(0) { $0 + y[i * parameterCount + $1] * pi[$1] } }
    }

    static func outer(_ a: Vec3, _ b: Vec3) -> Mat3 { Mat3(a.x * b, a.y * b, a.z * b) }
}

/// What identification refuses, with the reason.
public enum SystemIdentificationError: Error, CustomStringConvertible, Equatable {
    case unsupported(String)
    case invalidInput(String)
    case notExcited(String)
    public var description: String {
        switch self {
        case .unsupported(let m): return "system identification: \(m)"
        case .invalidInput(let m): return "system identification: \(m)"
        case .notExcited(let m): return "system identification: \(m)"
        }
    }
}
