import ControlCore

// The URDF document model (ROS URDF spec, http://wiki.ros.org/urdf/XML), as parsed, before any merging of
// fixed joints or building into a physics world. Lengths in metres, angles in radians, masses in kg,
// inertias in kg·m², efforts in N·m (revolute) or N (prismatic), velocities in rad/s or m/s.

/// A parsed URDF robot.
public struct URDFRobot: Sendable {
    /// `<robot name>`.
    public var name: String
    /// Links in document order.
    public var links: [URDFLink]
    /// Joints in document order.
    public var joints: [URDFJoint]
    /// Top-level `<material>` definitions by name (RGBA, 0…1).
    public var materials: [String: [Double]]
    /// Non-fatal remarks made while loading (e.g. "link 'x': mesh collision geometry ignored").
    public var warnings: [String]
    /// Path or name of the file this came from (for messages).
    public var source: String

    public init(name: String, links: [URDFLink], joints: [URDFJoint], materials: [String: [Double]] = [:],
                warnings: [String] = [], source: String = "<memory>") {
        self.name = name; self.links = links; self.joints = joints; self.materials = materials
        self.warnings = warnings; self.source = source
    }

    /// The link with `name`, if any.
    public func link(named name: String) -> URDFLink? { links.first { $0.name == name } }
    /// The joint with `name`, if any.
    public func joint(named name: String) -> URDFJoint? { joints.first { $0.name == name } }
    /// The root link: the only link that is no joint's child (validated by the parser).
    public var rootLink: String {
        let children = Set(joints.map(\.child))
        return links.first { !children.contains($0.name) }?.name ?? links[0].name
    }
}

/// `<link>`.
public struct URDFLink: Sendable {
    public var name: String
    /// `<inertial>`; nil when absent (a massless frame).
    public var inertial: URDFInertial?
    /// `<collision>` elements, in order.
    public var collisions: [URDFShape]
    /// `<visual>` elements, in order.
    public var visuals: [URDFShape]
    /// 1-based line of the `<link>` tag.
    public var line: Int

    public init(name: String, inertial: URDFInertial? = nil, collisions: [URDFShape] = [], visuals: [URDFShape] = [], line: Int = 0) {
        self.name = name; self.inertial = inertial; self.collisions = collisions; self.visuals = visuals; self.line = line
    }
}

/// `<inertial>`: mass and the inertia tensor about the centre of mass, expressed in the frame `origin`
/// (relative to the link frame).
public struct URDFInertial: Sendable {
    /// Pose of the centre-of-mass frame in the link frame.
    public var origin: Pose
    public var mass: Double
    /// Inertia about the COM in the `origin` frame (symmetric).
    public var inertia: Mat3
    public init(origin: Pose = .identity, mass: Double, inertia: Mat3) {
        self.origin = origin; self.mass = mass; self.inertia = inertia
    }
}

/// Collision or visual geometry.
public enum URDFGeometry: Sendable, Equatable {
    /// Full side lengths (x, y, z).
    case box(size: Vec3)
    /// Axis along the local z axis; `length` is the full length.
    case cylinder(radius: Double, length: Double)
    case sphere(radius: Double)
    /// Non-standard but common: a cylinder with hemispherical caps along z (`length` without the caps).
    case capsule(radius: Double, length: Double)
    /// A mesh file reference with its scale; never loaded (collision meshes are ignored with a warning).
    case mesh(filename: String, scale: Vec3)
}

/// A `<collision>` or `<visual>` element: a geometry placed at `origin` in the link frame.
public struct URDFShape: Sendable {
    public var name: String?
    public var origin: Pose
    public var geometry: URDFGeometry
    /// RGBA colour from `<material>` (visuals only; resolved through top-level materials), nil if none.
    public var rgba: [Double]?
    public var line: Int
    public init(name: String? = nil, origin: Pose = .identity, geometry: URDFGeometry, rgba: [Double]? = nil, line: Int = 0) {
        self.name = name; self.origin = origin; self.geometry = geometry; self.rgba = rgba; self.line = line
    }
}

/// URDF joint types.
public enum URDFJointType: String, Sendable, CaseIterable {
    case revolute, continuous, prismatic, fixed, floating, planar
    /// True for the one-degree-of-freedom types the simulator actuates (revolute, continuous, prismatic).
    public var isActuated: Bool { self == .revolute || self == .continuous || self == .prismatic }
}

/// `<limit>`.
public struct URDFLimit: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    /// Maximum |effort| (N·m or N).
    public var effort: Double
    /// Maximum |velocity| (rad/s or m/s).
    public var velocity: Double
    public init(lower: Double = 0, upper: Double = 0, effort: Double, velocity: Double) {
        self.lower = lower; self.upper = upper; self.effort = effort; self.velocity = velocity
    }
}

/// `<joint>`: connects `parent` to `child`; the child link frame sits at `origin` in the parent link frame
/// when the joint position is zero.
public struct URDFJoint: Sendable {
    public var name: String
    public var type: URDFJointType
    public var parent: String
    public var child: String
    /// Child frame in the parent frame at zero joint position.
    public var origin: Pose
    /// Unit axis in the joint (child) frame; default (1, 0, 0).
    public var axis: Vec3
    /// `<limit>`; required by the spec for revolute and prismatic joints.
    public var limit: URDFLimit?
    /// `<dynamics damping>` (N·m·s/rad or N·s/m), default 0.
    public var damping: Double
    /// `<dynamics friction>`: Coulomb friction (N·m or N), default 0.
    public var friction: Double
    public var line: Int

    public init(name: String, type: URDFJointType, parent: String, child: String, origin: Pose = .identity,
                axis: Vec3 = .unitX, limit: URDFLimit? = nil, damping: Double = 0, friction: Double = 0, line: Int = 0) {
        self.name = name; self.type = type; self.parent = parent; self.child = child; self.origin = origin
        self.axis = axis; self.limit = limit; self.damping = damping; self.friction = friction; self.line = line
    }
}

/// A URDF that cannot be used, naming the file, the line and the element at fault.
public struct URDFError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    /// 1-based line, 0 when unknown.
    public var line: Int
    /// The element, e.g. `joint 'FR_hip_joint'` or `<inertia>`.
    public var element: String
    public var message: String
    public init(file: String, line: Int, element: String, message: String) {
        self.file = file; self.line = line; self.element = element; self.message = message
    }
    public var description: String { "\(file):\(line): \(element): \(message)" }
}
