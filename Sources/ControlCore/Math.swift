import Foundation

// MARK: - Vec3

/// A 3-vector of `Double` (metres, m/s, rad/s or N·m depending on use; the frame is stated where used).
public struct Vec3: Sendable, Hashable, Codable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var z: Double

    @inlinable public init(_ x: Double, _ y: Double, _ z: Double) { self.x = x; self.y = y; self.z = z }
    @inlinable public init(x: Double, y: Double, z: Double) { self.x = x; self.y = y; self.z = z }
    /// Builds a vector from the first three elements of `array` (precondition: count ≥ 3).
    @inlinable public init(_ array: [Double]) { self.init(array[0], array[1], array[2]) }

    public static let zero = Vec3(0, 0, 0)
    public static let unitX = Vec3(1, 0, 0)
    public static let unitY = Vec3(0, 1, 0)
    public static let unitZ = Vec3(0, 0, 1)

    /// The components as an array `[x, y, z]`.
    @inlinable public var array: [Double] { [x, y, z] }
    @inlinable public static func + (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x + b.x, a.y + b.y, a.z + b.z) }
    @inlinable public static func - (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x - b.x, a.y - b.y, a.z - b.z) }
    @inlinable public static prefix func - (a: Vec3) -> Vec3 { Vec3(-a.x, -a.y, -a.z) }
    @inlinable public static func * (s: Double, a: Vec3) -> Vec3 { Vec3(s * a.x, s * a.y, s * a.z) }
    @inlinable public static func * (a: Vec3, s: Double) -> Vec3 { Vec3(s * a.x, s * a.y, s * a.z) }
    @inlinable public static func / (a: Vec3, s: Double) -> Vec3 { Vec3(a.x / s, a.y / s, a.z / s) }
    @inlinable public static func += (a: inout Vec3, b: Vec3) { a = a + b }
    @inlinable public static func -= (a: inout Vec3, b: Vec3) { a = a - b }
    /// Dot product.
    @inlinable public func dot(_ b: Vec3) -> Double { x * b.x + y * b.y + z * b.z }
    /// Cross product `self × b`.
    @inlinable public func cross(_ b: Vec3) -> Vec3 {
        Vec3(y * b.z - z * b.y, z * b.x - x * b.z, x * b.y - y * b.x)
    }
    /// Euclidean norm.
    @inlinable public var norm: Double { (x * x + y * y + z * z).squareRoot() }
    /// The unit vector in this direction (the zero vector stays zero).
    @inlinable public var normalized: Vec3 { let n = norm; return n > 0 ? self / n : self }
    /// True when every component is finite.
    @inlinable public var isFinite: Bool { x.isFinite && y.isFinite && z.isFinite }
    public var description: String { "(\(x), \(y), \(z))" }
}

// MARK: - Mat3

/// A row-major 3×3 matrix (rotations, inertia tensors in kg·m²).
public struct Mat3: Sendable, Hashable, Codable {
    /// Rows `r0`, `r1`, `r2`.
    public var r0: Vec3, r1: Vec3, r2: Vec3

    @inlinable public init(_ r0: Vec3, _ r1: Vec3, _ r2: Vec3) { self.r0 = r0; self.r1 = r1; self.r2 = r2 }
    /// Builds from 9 row-major values.
    @inlinable public init(rowMajor m: [Double]) {
        self.init(Vec3(m[0], m[1], m[2]), Vec3(m[3], m[4], m[5]), Vec3(m[6], m[7], m[8]))
    }
    public static let identity = Mat3(.unitX, .unitY, .unitZ)
    public static let zero = Mat3(.zero, .zero, .zero)
    /// A diagonal matrix.
    @inlinable public static func diagonal(_ d: Vec3) -> Mat3 { Mat3(Vec3(d.x, 0, 0), Vec3(0, d.y, 0), Vec3(0, 0, d.z)) }
    /// A symmetric matrix from the six URDF inertia entries.
    @inlinable public static func symmetric(xx: Double, xy: Double, xz: Double, yy: Double, yz: Double, zz: Double) -> Mat3 {
        Mat3(Vec3(xx, xy, xz), Vec3(xy, yy, yz), Vec3(xz, yz, zz))
    }
    /// Columns.
    @inlinable public var c0: Vec3 { Vec3(r0.x, r1.x, r2.x) }
    @inlinable public var c1: Vec3 { Vec3(r0.y, r1.y, r2.y) }
    @inlinable public var c2: Vec3 { Vec3(r0.z, r1.z, r2.z) }
    @inlinable public var transposed: Mat3 { Mat3(c0, c1, c2) }
    /// The 9 entries, row-major.
    @inlinable public var rowMajor: [Double] { [r0.x, r0.y, r0.z, r1.x, r1.y, r1.z, r2.x, r2.y, r2.z] }
    @inlinable public static func * (m: Mat3, v: Vec3) -> Vec3 { Vec3(m.r0.dot(v), m.r1.dot(v), m.r2.dot(v)) }
    @inlinable public static func * (a: Mat3, b: Mat3) -> Mat3 {
        Mat3(Vec3(a.r0.dot(b.c0), a.r0.dot(b.c1), a.r0.dot(b.c2)),
             Vec3(a.r1.dot(b.c0), a.r1.dot(b.c1), a.r1.dot(b.c2)),
             Vec3(a.r2.dot(b.c0), a.r2.dot(b.c1), a.r2.dot(b.c2)))
    }
    @inlinable public static func + (a: Mat3, b: Mat3) -> Mat3 { Mat3(a.r0 + b.r0, a.r1 + b.r1, a.r2 + b.r2) }
    @inlinable public static func * (s: Double, a: Mat3) -> Mat3 { Mat3(s * a.r0, s * a.r1, s * a.r2) }
    @inlinable public var trace: Double { r0.x + r1.y + r2.z }
    @inlinable public var determinant: Double { r0.dot(r1.cross(r2)) }
    /// The skew-symmetric matrix `[v]×` with `[v]× w = v × w`.
    @inlinable public static func skew(_ v: Vec3) -> Mat3 {
        Mat3(Vec3(0, -v.z, v.y), Vec3(v.z, 0, -v.x), Vec3(-v.y, v.x, 0))
    }
    /// Eigenvalues of a symmetric matrix, ascending (closed form for 3×3, Smith 1961).
    public var symmetricEigenvalues: [Double] {
        let p1 = r0.y * r0.y + r0.z * r0.z + r1.z * r1.z
        if p1 == 0 { return [r0.x, r1.y, r2.z].sorted() }
        let q = trace / 3
        let p2 = (r0.x - q) * (r0.x - q) + (r1.y - q) * (r1.y - q) + (r2.z - q) * (r2.z - q) + 2 * p1
        let p = (p2 / 6).squareRoot()
        let b = (1 / p) * (self + (-q) * Mat3.identity)
        let r = max(-1, min(1, b.determinant / 2))
        let phi = acos(r) / 3
        let e1 = q + 2 * p * cos(phi)
        let e3 = q + 2 * p * cos(phi + 2 * Double.pi / 3)
        let e2 = 3 * q - e1 - e3
        return [e3, e2, e1]
    }
}

// MARK: - Quaternion

/// A unit quaternion `(w, x, y, z)` (Hamilton convention, as ODE and URDF tooling use) for a rotation
/// from a body frame to the world frame: `v_world = q ⊗ v_body ⊗ q*`.
public struct Quat: Sendable, Hashable, Codable, CustomStringConvertible {
    public var w: Double, x: Double, y: Double, z: Double
    @inlinable public init(w: Double, x: Double, y: Double, z: Double) { self.w = w; self.x = x; self.y = y; self.z = z }
    public static let identity = Quat(w: 1, x: 0, y: 0, z: 0)

    /// Rotation of `angle` radians about the unit `axis`.
    @inlinable public init(axis: Vec3, angle: Double) {
        let a = axis.normalized, s = sin(angle / 2)
        self.init(w: cos(angle / 2), x: a.x * s, y: a.y * s, z: a.z * s)
    }
    /// URDF `rpy`: fixed-axis roll about X, then pitch about Y, then yaw about Z (R = Rz·Ry·Rx).
    public init(roll: Double, pitch: Double, yaw: Double) {
        let (cr, sr) = (cos(roll / 2), sin(roll / 2))
        let (cp, sp) = (cos(pitch / 2), sin(pitch / 2))
        let (cy, sy) = (cos(yaw / 2), sin(yaw / 2))
        self.init(w: cr * cp * cy + sr * sp * sy,
                  x: sr * cp * cy - cr * sp * sy,
                  y: cr * sp * cy + sr * cp * sy,
                  z: cr * cp * sy - sr * sp * cy)
    }
    /// From a rotation matrix (Shepperd's method).
    public init(matrix m: Mat3) {
        let t = m.trace
        if t > 0 {
            let s = (t + 1).squareRoot() * 2
            self.init(w: 0.25 * s, x: (m.r2.y - m.r1.z) / s, y: (m.r0.z - m.r2.x) / s, z: (m.r1.x - m.r0.y) / s)
        } else if m.r0.x > m.r1.y && m.r0.x > m.r2.z {
            let s = (1 + m.r0.x - m.r1.y - m.r2.z).squareRoot() * 2
            self.init(w: (m.r2.y - m.r1.z) / s, x: 0.25 * s, y: (m.r0.y + m.r1.x) / s, z: (m.r0.z + m.r2.x) / s)
        } else if m.r1.y > m.r2.z {
            let s = (1 + m.r1.y - m.r0.x - m.r2.z).squareRoot() * 2
            self.init(w: (m.r0.z - m.r2.x) / s, x: (m.r0.y + m.r1.x) / s, y: 0.25 * s, z: (m.r1.z + m.r2.y) / s)
        } else {
            let s = (1 + m.r2.z - m.r0.x - m.r1.y).squareRoot() * 2
            self.init(w: (m.r1.x - m.r0.y) / s, x: (m.r0.z + m.r2.x) / s, y: (m.r1.z + m.r2.y) / s, z: 0.25 * s)
        }
        self = normalized
    }
    /// Hamilton product.
    @inlinable public static func * (a: Quat, b: Quat) -> Quat {
        Quat(w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z,
             x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
             y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
             z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w)
    }
    @inlinable public var conjugate: Quat { Quat(w: w, x: -x, y: -y, z: -z) }
    @inlinable public var norm: Double { (w * w + x * x + y * y + z * z).squareRoot() }
    @inlinable public var normalized: Quat { let n = norm; return Quat(w: w / n, x: x / n, y: y / n, z: z / n) }
    @inlinable public var isFinite: Bool { w.isFinite && x.isFinite && y.isFinite && z.isFinite }
    /// Rotates a vector from the body frame into the world frame.
    @inlinable public func rotate(_ v: Vec3) -> Vec3 {
        let u = Vec3(x, y, z)
        let t = 2 * u.cross(v)
        return v + w * t + u.cross(t)
    }
    /// Rotates a vector from the world frame into the body frame.
    @inlinable public func inverseRotate(_ v: Vec3) -> Vec3 { conjugate.rotate(v) }
    /// The rotation matrix (body → world).
    public var matrix: Mat3 {
        Mat3(Vec3(1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
             Vec3(2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
             Vec3(2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)))
    }
    /// Roll (about X), pitch (about Y), yaw (about Z) in radians, the inverse of `init(roll:pitch:yaw:)`.
    public var rollPitchYaw: Vec3 {
        let sinp = max(-1, min(1, 2 * (w * y - z * x)))
        return Vec3(atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
                    asin(sinp),
                    atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    }
    /// `[w, x, y, z]`.
    @inlinable public var array: [Double] { [w, x, y, z] }
    public var description: String { "(w: \(w), x: \(x), y: \(y), z: \(z))" }
}

// MARK: - Pose

/// A rigid transform: `position` of the frame's origin and `orientation` (frame → parent/world).
public struct Pose: Sendable, Hashable, Codable {
    public var position: Vec3
    public var orientation: Quat
    @inlinable public init(position: Vec3 = .zero, orientation: Quat = .identity) {
        self.position = position; self.orientation = orientation
    }
    public static let identity = Pose()
    /// Composition: `self ∘ other` maps other's frame through self's (`a.compose(b)` = T_a · T_b).
    @inlinable public func compose(_ other: Pose) -> Pose {
        Pose(position: position + orientation.rotate(other.position),
             orientation: (orientation * other.orientation).normalized)
    }
    /// The inverse transform.
    @inlinable public var inverse: Pose {
        let qi = orientation.conjugate
        return Pose(position: -qi.rotate(position), orientation: qi)
    }
    /// Maps a point from this frame into the parent frame.
    @inlinable public func transform(_ p: Vec3) -> Vec3 { position + orientation.rotate(p) }
}
