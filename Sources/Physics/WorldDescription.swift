import ControlCore

/// Contact model settings: ODE's soft contacts with a Coulomb friction pyramid (`dContactApprox1`).
/// Stiffness and damping follow from ERP/CFM and the time step h: k = ERP / (h·CFM), c = (1 − ERP) / CFM
/// (ODE manual §3.8).
public struct ContactSettings: Codable, Sendable, Hashable {
    /// Coulomb friction coefficient μ (tangential force ≤ μ·normal force, per pyramid direction).
    public var friction: Double = 1.0
    /// Contact error reduction parameter (0…1).
    public var softERP: Double = 0.2
    /// Contact constraint force mixing (softness).
    public var softCFM: Double = 1e-5
    /// Coefficient of restitution (0 = no bounce).
    public var restitution: Double = 0
    /// Minimum approach speed for restitution, m/s.
    public var restitutionVelocity: Double = 0.1
    /// Rolling friction coefficient (ODE `dContactRolling` ρ); 0 turns it off.
    public var rollingFriction: Double = 0
    /// Contact points kept per geometry–ground pair (1…8).
    public var maxContactsPerGeom: Int = 4
    public init() {}
}

/// ODE's two constraint solvers.
public enum ConstraintSolver: String, Codable, Sendable, CaseIterable {
    /// `dWorldQuickStep`: iterative projected Gauss–Seidel with `solverIterations` sweeps.
    case iterative
    /// `dWorldStep`: exact Dantzig LCP solve.
    case exact
}

/// World-wide simulation settings.
public struct WorldSettings: Codable, Sendable, Hashable {
    /// Gravity in the world frame, m/s².
    public var gravity: Vec3 = Vec3(0, 0, -9.81)
    /// Physics time step, s.
    public var timeStep: Double = 0.002
    /// Constraint solver: `.iterative` is ODE's QuickStep (projected Gauss–Seidel, O(rows) per iteration,
    /// the usual choice with contacts); `.exact` is ODE's dWorldStep (Dantzig LCP, O(rows³), converged
    /// joint forces — smooth velocities for articulated arms with stiff servos).
    public var solver: ConstraintSolver = .iterative
    /// QuickStep (projected Gauss–Seidel) iterations per step.
    public var solverIterations: Int = 20
    /// Successive over-relaxation factor of QuickStep.
    public var overRelaxation: Double = 1.3
    /// Global error reduction parameter for joints.
    public var erp: Double = 0.2
    /// Global constraint force mixing for joints.
    public var cfm: Double = 1e-10
    /// A static ground plane z = 0.
    public var ground: Bool = true
    public var contact = ContactSettings()
    /// A body faster than this (m/s) counts as a diverged simulation.
    public var maxLinearSpeed: Double = 100
    /// A body spinning faster than this (rad/s) counts as a diverged simulation.
    public var maxAngularSpeed: Double = 500
    public init() {}
}

/// Collision shapes ODE can collide with the ground.
public enum CollisionShape: Sendable, Hashable {
    /// Full side lengths, m.
    case box(size: Vec3)
    case sphere(radius: Double)
    /// Axis along local z; `length` is the full length of the flat-ended cylinder.
    case cylinder(radius: Double, length: Double)
    /// Axis along local z; `length` excludes the hemispherical caps.
    case capsule(radius: Double, length: Double)
}

/// A collision geometry rigidly attached to a body, placed in the body's COM frame.
public struct GeomDescription: Sendable, Hashable {
    public var shape: CollisionShape
    /// Pose in the body (COM) frame.
    public var pose: Pose
    /// Friction coefficient override (nil: the world's).
    public var friction: Double?
    public init(shape: CollisionShape, pose: Pose = .identity, friction: Double? = nil) {
        self.shape = shape; self.pose = pose; self.friction = friction
    }
}

/// A rigid body. Its frame is at the centre of mass, oriented like the link frame it came from.
public struct BodyDescription: Sendable {
    public var name: String
    /// Pose of the COM frame in the world at build time.
    public var pose: Pose
    /// kg.
    public var mass: Double
    /// Inertia about the COM in the body frame, kg·m².
    public var inertia: Mat3
    public var geoms: [GeomDescription]
    public init(name: String, pose: Pose, mass: Double, inertia: Mat3, geoms: [GeomDescription] = []) {
        self.name = name; self.pose = pose; self.mass = mass; self.inertia = inertia; self.geoms = geoms
    }
}

/// Joint kinds the bridge supports.
public enum JointKind: String, Sendable, Codable {
    /// One rotational degree of freedom (URDF revolute/continuous).
    case hinge
    /// One translational degree of freedom (URDF prismatic).
    case slider
    /// A weld (used to fix a base to the world).
    case fixed
}

/// A joint between `parent` (nil: the static world) and `child`. The bodies' build-time poses are joint
/// position `position` (build limited hinges at the middle of their range: ODE measures hinge angles within
/// ±π of the build pose).
public struct JointDescription: Sendable {
    public var name: String
    public var kind: JointKind
    public var parent: Int?
    public var child: Int
    /// Anchor point in the world frame at build time, m.
    public var anchor: Vec3
    /// Unit axis in the world frame at build time.
    public var axis: Vec3
    /// Joint coordinate of the build-time poses (rad or m).
    public var position: Double
    /// Position limits (rad or m); nil for none (continuous joints).
    public var limits: ClosedRange<Double>?
    /// Viscous damping, N·m·s/rad or N·s/m.
    public var damping: Double
    /// Coulomb friction, N·m or N.
    public var friction: Double
    public init(name: String, kind: JointKind, parent: Int?, child: Int, anchor: Vec3 = .zero, axis: Vec3 = .unitZ,
                position: Double = 0, limits: ClosedRange<Double>? = nil, damping: Double = 0, friction: Double = 0) {
        self.name = name; self.kind = kind; self.parent = parent; self.child = child; self.anchor = anchor
        self.axis = axis; self.position = position; self.limits = limits; self.damping = damping; self.friction = friction
    }
}

/// How an actuator turns its command into a joint torque (or force, for sliders).
public enum ActuatorMode: Sendable, Hashable, Codable {
    /// The command is the torque (N·m) or force (N).
    case torque
    /// The command is a position target; torque = kp·(target − q) − kd·q̇, recomputed at the physics rate.
    case position(kp: Double, kd: Double)
}

/// One actuator on a hinge or slider joint.
public struct ActuatorDescription: Sendable, Hashable {
    /// Index into the world's joints.
    public var joint: Int
    public var mode: ActuatorMode
    /// |torque| limit (N·m or N), applied before `strength`; nil for unlimited.
    public var effortLimit: Double?
    /// |velocity| limit (rad/s or m/s): at the limit the motor does not push further in the direction of
    /// motion, and a PD servo's velocity target is clamped to it; nil for none.
    public var velocityLimit: Double?
    /// Motor strength multiplier (1 nominal; domain randomization varies it).
    public var strength: Double
    public init(joint: Int, mode: ActuatorMode, effortLimit: Double? = nil, velocityLimit: Double? = nil, strength: Double = 1) {
        self.joint = joint; self.mode = mode; self.effortLimit = effortLimit; self.velocityLimit = velocityLimit
        self.strength = strength
    }
}

/// Everything needed to build a world: settings, bodies, joints, actuators.
public struct WorldDescription: Sendable {
    public var settings: WorldSettings
    public var bodies: [BodyDescription]
    public var joints: [JointDescription]
    public var actuators: [ActuatorDescription]
    public init(settings: WorldSettings = WorldSettings(), bodies: [BodyDescription] = [],
                joints: [JointDescription] = [], actuators: [ActuatorDescription] = []) {
        self.settings = settings; self.bodies = bodies; self.joints = joints; self.actuators = actuators
    }
}
