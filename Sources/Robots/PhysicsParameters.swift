import ControlCore
import Physics

/// The physical parameters of a simulated robot, as a value: what system identification estimates and
/// domain randomization varies, kept apart from the structure (`RobotModel`: links, joints, shapes) and
/// from the state (poses, velocities), as MuJoCo separates `mjModel` from `mjData`.
///
/// Read the URDF's values from `RobotSimulation.nominalParameters`, change them, and `apply(_:)` them to the
/// live world without rebuilding it; `RobotSimulation.parameters` reads them back from the world and
/// `RobotSimulation.Snapshot` carries them, so a restore brings them back.
///
/// - `bodies`: one entry per simulated rigid body of the `RobotModel` (links joined by fixed joints are one
///   body, named after its root link; a base welded to the world is static and has none), in model order.
/// - `joints`: one entry per actuated joint, in DOF order (`RobotModel.jointNames`).
///
/// Units: kg, m, kg·m², N·m·s/rad (N·s/m), N·m (N), m/s². Frames: a body's reference frame is its root
/// link's frame. Joint armature (reflected rotor inertia) is not a parameter: ODE has no joint-space
/// inertia term, and adding it to a body's inertia would also couple it into the other joints.
public struct PhysicsParameters: Sendable, Hashable, Codable {
    /// Mass properties of one rigid body.
    public struct Body: Sendable, Hashable, Codable {
        /// The body's name: its root link (`RobotBody.name`).
        public var name: String
        /// Mass, kg (> 0).
        public var mass: Double
        /// Centre of mass in the body's reference (root-link) frame, m.
        public var centerOfMass: Vec3
        /// Inertia about the centre of mass, in the reference frame's axes, kg·m² (symmetric positive definite).
        public var inertia: Mat3

        public init(name: String, mass: Double, centerOfMass: Vec3, inertia: Mat3) {
            self.name = name; self.mass = mass; self.centerOfMass = centerOfMass; self.inertia = inertia
        }

        /// Multiplies mass and inertia by `factor`: the same shape and mass distribution with `factor` times
        /// the density (the centre of mass stays).
        public mutating func scaleMass(by factor: Double) {
            mass *= factor
            inertia = factor * inertia
        }

        /// Multiplies the inertia tensor by `factor` (mass and centre of mass unchanged).
        public mutating func scaleInertia(by factor: Double) { inertia = factor * inertia }
    }

    /// PD gains of a position-controlled actuator: τ = kp·(target − q) − kd·q̇, before `strength`.
    public struct PDGains: Sendable, Hashable, Codable {
        /// N·m/rad (N/m).
        public var kp: Double
        /// N·m·s/rad (N·s/m).
        public var kd: Double
        public init(kp: Double, kd: Double) { self.kp = kp; self.kd = kd }
    }

    /// Dynamics and actuator of one actuated joint.
    public struct Joint: Sendable, Hashable, Codable {
        /// The URDF joint name.
        public var name: String
        /// Viscous damping: τ = −damping·q̇, N·m·s/rad or N·s/m (≥ 0).
        public var damping: Double
        /// Coulomb friction: |τ| ≤ friction, opposing motion, N·m or N (≥ 0).
        public var friction: Double
        /// Actuator strength: the torque (or force) the actuator produces is multiplied by it, after the
        /// effort limit, PD gains included (1 nominal, ≥ 0).
        public var strength: Double
        /// PD gains for a position-controlled actuator; nil for a torque-controlled one.
        public var gains: PDGains?

        public init(name: String, damping: Double, friction: Double, strength: Double = 1, gains: PDGains? = nil) {
            self.name = name; self.damping = damping; self.friction = friction; self.strength = strength; self.gains = gains
        }
    }

    /// The largest accepted latency, control steps.
    public static let maximumLatency = 1000

    /// Per simulated body, in model order.
    public var bodies: [Body]
    /// Per actuated joint, in DOF order.
    public var joints: [Joint]
    /// Actuator latency in control steps (0…`maximumLatency`): a command given to `RobotSimulation.step` at
    /// control step t acts during step t + latency (see `RobotSimulation.step(commands:substeps:)`).
    public var latency: Int
    /// Coulomb friction coefficient μ of robot–ground contacts (≥ 0).
    public var groundFriction: Double
    /// Coefficient of restitution of robot–ground contacts (0…1).
    public var groundRestitution: Double
    /// Gravity, world frame, m/s².
    public var gravity: Vec3

    public init(bodies: [Body], joints: [Joint], latency: Int = 0, groundFriction: Double = 1,
                groundRestitution: Double = 0, gravity: Vec3 = Vec3(0, 0, -9.81)) {
        self.bodies = bodies; self.joints = joints; self.latency = latency
        self.groundFriction = groundFriction; self.groundRestitution = groundRestitution; self.gravity = gravity
    }

    // MARK: - access by name

    /// Index of the body called `name` in `bodies`.
    public func bodyIndex(named name: String) -> Int? { bodies.firstIndex { $0.name == name } }
    /// Index of the joint called `name` in `joints`.
    public func jointIndex(named name: String) -> Int? { joints.firstIndex { $0.name == name } }

    /// Changes the body called `name` in place. - Throws: `PhysicsParametersError` if there is none.
    public mutating func updateBody(_ name: String, _ change: (inout Body) throws -> Void) throws {
        guard let i = bodyIndex(named: name) else {
            throw PhysicsParametersError(element: "link '\(name)'",
                                         message: "no such body (bodies: \(bodies.map(\.name).joined(separator: ", ")))")
        }
        try change(&bodies[i])
    }

    /// Changes the joint called `name` in place. - Throws: `PhysicsParametersError` if there is none.
    public mutating func updateJoint(_ name: String, _ change: (inout Joint) throws -> Void) throws {
        guard let i = jointIndex(named: name) else {
            throw PhysicsParametersError(element: "joint '\(name)'",
                                         message: "no such actuated joint (joints: \(joints.map(\.name).joined(separator: ", ")))")
        }
        try change(&joints[i])
    }

    /// Every body's mass and inertia multiplied by `factor` (see `Body.scaleMass(by:)`).
    public func scalingMasses(by factor: Double) -> PhysicsParameters {
        var p = self
        for i in p.bodies.indices { p.bodies[i].scaleMass(by: factor) }
        return p
    }

    /// Every actuator's strength multiplied by `factor`.
    public func scalingStrengths(by factor: Double) -> PhysicsParameters {
        var p = self
        for i in p.joints.indices { p.joints[i].strength *= factor }
        return p
    }

    // MARK: - validation

    /// Checks every value on its own: masses positive, inertias symmetric positive definite, damping,
    /// friction, strengths and gains non-negative, restitution within 0…1, latency within
    /// 0…`maximumLatency`, everything finite, and no name given twice.
    /// - Throws: `PhysicsParametersError` naming the link or joint and the value.
    public func validate() throws {
        var seen = Set<String>()
        for b in bodies {
            let element = "link '\(b.name)'"
            func fail(_ m: String) -> PhysicsParametersError { PhysicsParametersError(element: element, message: m) }
            guard seen.insert(b.name).inserted else { throw fail("given twice") }
            guard b.mass.isFinite, b.mass > 0 else { throw fail("mass must be positive and finite, got \(b.mass) kg") }
            guard b.centerOfMass.isFinite else { throw fail("centre of mass must be finite, got \(b.centerOfMass)") }
            let i = b.inertia
            guard i.rowMajor.allSatisfy(\.isFinite) else { throw fail("inertia must be finite, got \(i.rowMajor)") }
            let scale = i.rowMajor.map(abs).max() ?? 0
            let asymmetry = max(abs(i.r0.y - i.r1.x), abs(i.r0.z - i.r2.x), abs(i.r1.z - i.r2.y))
            guard asymmetry <= 1e-9 * scale else { throw fail("inertia must be symmetric, got \(i.rowMajor)") }
            // Sylvester's criterion on the symmetric part: every leading principal minor positive
            let xy = 0.5 * (i.r0.y + i.r1.x), xz = 0.5 * (i.r0.z + i.r2.x), yz = 0.5 * (i.r1.z + i.r2.y)
            let s = Mat3.symmetric(xx: i.r0.x, xy: xy, xz: xz, yy: i.r1.y, yz: yz, zz: i.r2.z)
            guard s.r0.x > 0, s.r0.x * s.r1.y - xy * xy > 0, s.determinant > 0 else {
                let eigenvalues = s.symmetricEigenvalues.map { "\($0)" }.joined(separator: ", ")
                throw fail("inertia must be positive definite, got eigenvalues \(eigenvalues) kg·m²")
            }
        }
        seen.removeAll()
        for j in joints {
            let element = "joint '\(j.name)'"
            func fail(_ m: String) -> PhysicsParametersError { PhysicsParametersError(element: element, message: m) }
            guard seen.insert(j.name).inserted else { throw fail("given twice") }
            guard j.damping.isFinite, j.damping >= 0 else { throw fail("damping must be non-negative and finite, got \(j.damping)") }
            guard j.friction.isFinite, j.friction >= 0 else { throw fail("friction must be non-negative and finite, got \(j.friction)") }
            guard j.strength.isFinite, j.strength >= 0 else { throw fail("strength must be non-negative and finite, got \(j.strength)") }
            if let g = j.gains {
                guard g.kp.isFinite, g.kp >= 0 else { throw fail("kp must be non-negative and finite, got \(g.kp)") }
                guard g.kd.isFinite, g.kd >= 0 else { throw fail("kd must be non-negative and finite, got \(g.kd)") }
            }
        }
        func fail(_ element: String, _ m: String) -> PhysicsParametersError { PhysicsParametersError(element: element, message: m) }
        guard (0...Self.maximumLatency).contains(latency) else {
            throw fail("latency", "must be 0…\(Self.maximumLatency) control steps, got \(latency)")
        }
        guard groundFriction.isFinite, groundFriction >= 0 else {
            throw fail("ground friction", "must be non-negative and finite, got \(groundFriction)")
        }
        guard groundRestitution.isFinite, (0...1).contains(groundRestitution) else {
            throw fail("ground restitution", "must be within 0…1, got \(groundRestitution)")
        }
        guard gravity.isFinite else { throw fail("gravity", "must be finite, got \(gravity)") }
    }
}

/// Physical parameters that cannot be applied, naming the link, joint or setting at fault.
public struct PhysicsParametersError: Error, CustomStringConvertible, Sendable, Equatable {
    /// E.g. `link 'FR_thigh'`, `joint 'joint3'`, `latency`.
    public var element: String
    public var message: String
    public init(element: String, message: String) { self.element = element; self.message = message }
    public var description: String { "physical parameters: \(element): \(message)" }
}
