import ControlCore
import Foundation

/// Why a `BatchKinematics` could not be built.
public enum BatchKinematicsError: Error, Equatable, CustomStringConvertible {
    /// The requested end-effector link is not a link of the model; `available` lists the model's links, sorted.
    case unknownLink(String, available: [String])
    /// The model has a joint the kernel cannot evaluate (a floating joint): the kernel is for fixed-base trees
    /// whose bodies are connected by revolute, continuous, prismatic and fixed joints.
    case unsupportedJoint(name: String, type: URDFJointType)
    /// A body other than the root has no joint to its parent, or its parent comes after it (a malformed model).
    case malformedTree(body: String)

    /// A one-line explanation naming the offending link, joint or body.
    public var description: String {
        switch self {
        case let .unknownLink(name, available):
            return "BatchKinematics: unknown end-effector link '\(name)' (links: \(available.joined(separator: ", ")))"
        case let .unsupportedJoint(name, type):
            return "BatchKinematics: joint '\(name)' is \(type.rawValue); only fixed-base trees of revolute, continuous, "
                + "prismatic and fixed joints are supported"
        case let .malformedTree(body):
            return "BatchKinematics: body '\(body)' has no joint to an earlier parent body"
        }
    }
}

/// A batched, allocation-free kernel for a fixed-base robot: for many rows of joint positions it computes the
/// end-effector position and the gravity-compensation torques, the two quantities a model-predictive planner
/// needs for every sampled state (about 100k rows per planning step).
///
/// Everything that does not depend on the joint positions is precomputed by `init` (per body: parent index,
/// joint origin as a rotation matrix and a translation, joint type, DOF index, mass, centre of mass and subtree
/// mass; the end-effector link's offset in its body frame), so `evaluate` performs no allocation and no
/// dictionary lookup per row: one forward pass over the bodies with 3×3 rotation matrices and one backward pass
/// for the torques, O(bodies) per row. Rows are processed four at a time, one per SIMD lane (`SIMD4<Double>`);
/// a last partial group is padded. Every lane does the same arithmetic, so a row's result does not depend on
/// which rows it is evaluated with.
///
/// Joint rotations use Rodrigues' formula Rot(a, q) = cos q · I + sin q · [a]× + (1 − cos q) · a aᵀ. To make it
/// cheap, `init` re-expresses each body's frame in a *joint-aligned* frame whose z axis is the body's joint axis
/// (a constant rotation A_b with A_b e_z = a_b, so Rot(a_b, q) = A_b Rz(q) A_bᵀ and only the two columns that
/// Rz(q) mixes change); the constants (joint origin, centre of mass, end-effector offset) are rotated into those
/// frames once. For axes along ±x, ±y or ±z, A_b is a signed permutation and the arithmetic is unchanged.
/// cos q and sin q come from one shared argument reduction (`cosSin`), not two C library calls.
///
/// Results agree with `RobotModel.forwardKinematics` + `linkPose` and `RobotModel.gravityTorques` to rounding
/// (the reference functions compose quaternions; this kernel composes matrices).
///
/// The value is immutable and `Sendable`; `evaluate` is reentrant, so disjoint row ranges may be evaluated on
/// several threads at once.
public struct BatchKinematics: Sendable {
    /// One value per row of a group of rows evaluated together.
    typealias Lanes = SIMD4<Double>

    /// One body's constants, in the model's body order (parents before children). Frames are joint-aligned:
    /// the body's frame rotated by A_b so that its joint axis is z (A_0 = I for the root).
    struct Body: Sendable {
        /// Index of the parent body (−1 for the root).
        var parent: Int
        /// Index of the joint position in a row of `q` (the DOF order of `RobotModel.actuatedJoints`).
        var dof: Int
        /// True for a prismatic (sliding) joint, false for a revolute or continuous (hinge) joint.
        var isPrismatic: Bool
        /// Joint origin at q = 0 between the aligned frames: A_Pᵀ R_origin A_b and A_Pᵀ t_origin.
        var originRotation: Mat3
        var originTranslation: Vec3
        /// Body mass (kg) and centre of mass in the aligned body frame, A_bᵀ c (m).
        var mass: Double
        var centerOfMass: Vec3
        /// Total mass of this body and all its descendants (kg).
        var subtreeMass: Double
    }

    /// A 3-vector per lane.
    struct LaneVec3 {
        var x: Lanes, y: Lanes, z: Lanes
        @inline(__always) static func + (a: LaneVec3, b: LaneVec3) -> LaneVec3 { LaneVec3(x: a.x + b.x, y: a.y + b.y, z: a.z + b.z) }
        @inline(__always) static func - (a: LaneVec3, b: LaneVec3) -> LaneVec3 { LaneVec3(x: a.x - b.x, y: a.y - b.y, z: a.z - b.z) }
        @inline(__always) static func * (s: Lanes, a: LaneVec3) -> LaneVec3 { LaneVec3(x: s * a.x, y: s * a.y, z: s * a.z) }
        @inline(__always) static func * (s: Double, a: LaneVec3) -> LaneVec3 { LaneVec3(x: s * a.x, y: s * a.y, z: s * a.z) }
        static var zero: LaneVec3 { LaneVec3(x: Lanes(), y: Lanes(), z: Lanes()) }
    }

    /// A 3×3 matrix per lane, entries row-major (`xy` is row x, column y).
    struct LaneMat3 {
        var xx: Lanes, xy: Lanes, xz: Lanes
        var yx: Lanes, yy: Lanes, yz: Lanes
        var zx: Lanes, zy: Lanes, zz: Lanes
        /// The same matrix in every lane.
        init(_ m: Mat3) {
            xx = Lanes(repeating: m.r0.x); xy = Lanes(repeating: m.r0.y); xz = Lanes(repeating: m.r0.z)
            yx = Lanes(repeating: m.r1.x); yy = Lanes(repeating: m.r1.y); yz = Lanes(repeating: m.r1.z)
            zx = Lanes(repeating: m.r2.x); zy = Lanes(repeating: m.r2.y); zz = Lanes(repeating: m.r2.z)
        }
        @inline(__always) init(xx: Lanes, xy: Lanes, xz: Lanes, yx: Lanes, yy: Lanes, yz: Lanes, zx: Lanes, zy: Lanes, zz: Lanes) {
            self.xx = xx; self.xy = xy; self.xz = xz; self.yx = yx; self.yy = yy; self.yz = yz; self.zx = zx; self.zy = zy; self.zz = zz
        }
        /// Column z: the world joint axis for a joint-aligned frame.
        @inline(__always) var columnZ: LaneVec3 { LaneVec3(x: xz, y: yz, z: zz) }
        /// self · b for a constant matrix b.
        @inline(__always) func times(_ b: Mat3) -> LaneMat3 {
            let cxx: Lanes = xx * b.r0.x + xy * b.r1.x + xz * b.r2.x
            let cxy: Lanes = xx * b.r0.y + xy * b.r1.y + xz * b.r2.y
            let cxz: Lanes = xx * b.r0.z + xy * b.r1.z + xz * b.r2.z
            let cyx: Lanes = yx * b.r0.x + yy * b.r1.x + yz * b.r2.x
            let cyy: Lanes = yx * b.r0.y + yy * b.r1.y + yz * b.r2.y
            let cyz: Lanes = yx * b.r0.z + yy * b.r1.z + yz * b.r2.z
            let czx: Lanes = zx * b.r0.x + zy * b.r1.x + zz * b.r2.x
            let czy: Lanes = zx * b.r0.y + zy * b.r1.y + zz * b.r2.y
            let czz: Lanes = zx * b.r0.z + zy * b.r1.z + zz * b.r2.z
            return LaneMat3(xx: cxx, xy: cxy, xz: cxz, yx: cyx, yy: cyy, yz: cyz, zx: czx, zy: czy, zz: czz)
        }
        /// self · v for a constant vector v.
        @inline(__always) func times(_ v: Vec3) -> LaneVec3 {
            let x: Lanes = xx * v.x + xy * v.y + xz * v.z
            let y: Lanes = yx * v.x + yy * v.y + yz * v.z
            let z: Lanes = zx * v.x + zy * v.y + zz * v.z
            return LaneVec3(x: x, y: y, z: z)
        }
    }

    /// Per-group scratch for one body: world rotation of its aligned frame (column z is the world joint axis),
    /// world origin of its reference frame, and the mass-weighted COM sum Σ m c of its subtree (backward pass).
    struct LaneFrame {
        var rotation: LaneMat3
        var position: LaneVec3
        var weightedCOM: LaneVec3
    }

    let bodies: [Body]
    /// Every body but the root, in order: the forward pass when torques are wanted.
    let movingBodies: [Int]
    /// Bodies from the root (excluded) to the end-effector body, in order: the forward pass for positions alone.
    let endEffectorPath: [Int]
    /// The end-effector offset in the aligned frame of its body, A_eᵀ · offset.
    let alignedEndEffectorOffset: Vec3

    /// Number of degrees of freedom: the entries per row of `q` and of the torque output (`model.dof`).
    public let dof: Int
    /// Name of the end-effector link.
    public let endEffector: String
    /// Index (into `model.bodies`) of the body that carries the end-effector link.
    public let endEffectorBody: Int
    /// Position of the end-effector link's origin in its body's reference (root-link) frame, m; fixed joints
    /// between them are lumped.
    public let endEffectorOffset: Vec3
    /// World pose of the root body's reference frame (the robot is welded to the world there).
    public let base: Pose
    /// Gravitational acceleration in the world frame (m/s²).
    public let gravity: Vec3

    /// Precomputes the kernel for a fixed-base robot.
    /// - Parameters:
    ///   - model: the robot; its root body is welded to the world at `base`.
    ///   - base: world pose of the root body's reference (root-link) frame.
    ///   - endEffector: the URDF link whose origin `evaluate` reports (any link, including one on a fixed joint).
    ///   - gravity: gravitational acceleration in the world frame, m/s².
    /// - Throws: `BatchKinematicsError.unknownLink` for an end-effector link the model does not have,
    ///   `.unsupportedJoint` for a floating joint (the kernel handles revolute, continuous, prismatic and fixed).
    public init(model: RobotModel, base: Pose, endEffector: String, gravity: Vec3 = Vec3(0, 0, -9.81)) throws {
        guard let frame = model.linkFrames[endEffector] else {
            throw BatchKinematicsError.unknownLink(endEffector, available: model.linkFrames.keys.sorted())
        }
        var dofOf = [Int](repeating: -1, count: model.joints.count)
        for (i, k) in model.actuatedJoints.enumerated() { dofOf[k] = i }
        // the aligning rotation of every body (identity for the root)
        var align = [Mat3](repeating: .identity, count: model.bodies.count)
        for (b, body) in model.bodies.enumerated() {
            if b == 0 {
                if body.parentJoint != nil { throw BatchKinematicsError.malformedTree(body: body.name) }
                continue
            }
            guard let k = body.parentJoint, model.joints[k].childBody == b, model.joints[k].parentBody < b else {
                throw BatchKinematicsError.malformedTree(body: body.name)
            }
            let joint = model.joints[k]
            switch joint.type {
            case .revolute, .continuous, .prismatic: break
            default: throw BatchKinematicsError.unsupportedJoint(name: joint.name, type: joint.type)
            }
            guard dofOf[k] >= 0 else { throw BatchKinematicsError.unsupportedJoint(name: joint.name, type: joint.type) }
            align[b] = Self.aligning(joint.axis.normalized)
        }
        var bodies: [Body] = []
        bodies.reserveCapacity(model.bodies.count)
        for (b, body) in model.bodies.enumerated() {
            let a = align[b].transposed
            var entry = Body(parent: -1, dof: -1, isPrismatic: false, originRotation: .identity, originTranslation: .zero,
                             mass: body.mass, centerOfMass: a * body.centerOfMass, subtreeMass: body.mass)
            if b > 0, let k = body.parentJoint {
                let joint = model.joints[k], parentAlign = align[joint.parentBody].transposed
                entry.parent = joint.parentBody
                entry.dof = dofOf[k]
                entry.isPrismatic = joint.type == .prismatic
                entry.originRotation = parentAlign * joint.origin.orientation.normalized.matrix * align[b]
                entry.originTranslation = parentAlign * joint.origin.position
            }
            bodies.append(entry)
        }
        // subtree masses, leaves to root (children come after their parents)
        for b in stride(from: bodies.count - 1, to: 0, by: -1) {
            bodies[bodies[b].parent].subtreeMass += bodies[b].subtreeMass
        }
        var path: [Int] = []
        var current = frame.body
        while current >= 0 { path.append(current); current = bodies[current].parent }
        self.bodies = bodies
        self.movingBodies = Array(bodies.indices.dropFirst())
        self.endEffectorPath = Array(path.reversed().dropFirst())
        self.alignedEndEffectorOffset = align[frame.body].transposed * frame.pose.position
        self.dof = model.dof
        self.endEffector = endEffector
        self.endEffectorBody = frame.body
        self.endEffectorOffset = frame.pose.position
        self.base = Pose(position: base.position, orientation: base.orientation.normalized)
        self.gravity = gravity
    }

    /// A proper rotation A with A e_z = a for a unit vector a (columns: a unit vector ⟂ a, a × it, a).
    /// Exact (a signed permutation) when a is ±x, ±y or ±z; the identity for a = z.
    static func aligning(_ a: Vec3) -> Mat3 {
        let seed = abs(a.x) < 0.9 ? Vec3.unitX : Vec3.unitY
        let x = (seed - seed.dot(a) * a).normalized
        let y = a.cross(x)
        return Mat3(x, y, a).transposed  // rows given, so transpose to make them columns
    }

    /// Evaluates `rows` joint configurations.
    ///
    /// - Parameters:
    ///   - q: joint positions (rad for hinges, m for sliders); row `r` is the `dof` values starting at
    ///     `q + r * stride`, in DOF order (`RobotModel.actuatedJoints`, as `RobotModel.gravityTorques` takes them).
    ///   - rows: number of configurations (≥ 0).
    ///   - stride: distance in elements between the starts of consecutive rows (≥ `dof`), so `q` may point into a
    ///     wider state row such as `[q, q̇]`.
    ///   - endEffector: if not nil, receives `rows × 3` values, row-major: the world position (m) of the
    ///     end-effector link's origin, p_ee = p_b + R_b · offset for its body b.
    ///   - gravityTorques: if not nil, receives `rows × dof` values, row-major: the joint torques (N·m, or N for
    ///     sliders) that hold the robot still against gravity, with the sign of `RobotModel.gravityTorques`:
    ///     τ_i = −a_i · ((C_i − M_i p_i) × g) for a hinge and τ_i = −M_i g · a_i for a slider, where a_i is the
    ///     joint's world axis, p_i its child frame's world origin, M_i the mass of the subtree it moves and C_i
    ///     that subtree's mass-weighted COM sum Σ m_b c_b (world frame), accumulated from the leaves to the root.
    ///
    /// Forward pass per body b with parent P: R_b = R_P · R_origin · Rot(a, q) and p_b = p_P + R_P · t_origin for a
    /// hinge; R_b = R_P · R_origin and p_b = p_P + R_P · t_origin + q · R_b a for a slider (evaluated in the
    /// joint-aligned frames described on the type, where Rot(a, q) is a rotation about z). With `gravityTorques`
    /// nil only the bodies between the root and the end effector are evaluated. No heap allocation; the scratch
    /// (one frame per body for four rows) lives on the stack.
    public func evaluate(q: UnsafePointer<Double>, rows: Int, stride: Int,
                         endEffector: UnsafeMutablePointer<Double>?, gravityTorques: UnsafeMutablePointer<Double>?) {
        precondition(rows >= 0, "rows must be non-negative")
        precondition(stride >= dof, "stride \(stride) is shorter than a row of \(dof) joint positions")
        guard rows > 0, endEffector != nil || gravityTorques != nil else { return }
        let lanes = Lanes.scalarCount, dof = dof, count = bodies.count
        let groups = rows / lanes, tail = rows - groups * lanes
        let root = LaneFrame(rotation: LaneMat3(base.orientation.matrix),
                             position: LaneVec3(x: Lanes(repeating: base.position.x), y: Lanes(repeating: base.position.y),
                                                z: Lanes(repeating: base.position.z)),
                             weightedCOM: .zero)
        withUnsafeTemporaryAllocation(of: LaneFrame.self, capacity: count) { frameBuffer in
            let frames = frameBuffer.baseAddress!
            frames.initialize(repeating: root, count: count)
            defer { frames.deinitialize(count: count) }
            bodies.withUnsafeBufferPointer { bodyBuffer in
                (gravityTorques == nil ? endEffectorPath : movingBodies).withUnsafeBufferPointer { order in
                    let body = bodyBuffer.baseAddress!
                    for group in 0..<groups {
                        let first = group * lanes
                        evaluateGroup(q: q + first * stride, stride: stride, body: body, order: order, frames: frames,
                                      endEffector: endEffector.map { $0 + 3 * first },
                                      gravityTorques: gravityTorques.map { $0 + dof * first })
                    }
                    guard tail > 0 else { return }
                    // the last rows, padded with copies of the last one, through scratch rows of stride dof
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: lanes * (2 * dof + 3)) { scratch in
                        let qPad = scratch.baseAddress!, eePad = qPad + lanes * dof, tauPad = eePad + lanes * 3
                        for lane in 0..<lanes {
                            let source = q + (groups * lanes + min(lane, tail - 1)) * stride
                            for i in 0..<dof { qPad[lane * dof + i] = source[i] }
                        }
                        evaluateGroup(q: qPad, stride: dof, body: body, order: order, frames: frames,
                                      endEffector: endEffector == nil ? nil : eePad,
                                      gravityTorques: gravityTorques == nil ? nil : tauPad)
                        if let ee = endEffector {
                            (ee + 3 * groups * lanes).update(from: eePad, count: 3 * tail)
                        }
                        if let tau = gravityTorques {
                            (tau + dof * groups * lanes).update(from: tauPad, count: dof * tail)
                        }
                    }
                }
            }
        }
    }

    /// One group of `Lanes.scalarCount` rows (row i at `q + i * stride`); outputs are row-major from the given
    /// pointers. `order` lists the bodies the forward pass visits (all of them when torques are wanted).
    @inline(__always)
    func evaluateGroup(q: UnsafePointer<Double>, stride: Int, body: UnsafePointer<Body>, order: UnsafeBufferPointer<Int>,
                       frames: UnsafeMutablePointer<LaneFrame>,
                       endEffector: UnsafeMutablePointer<Double>?, gravityTorques: UnsafeMutablePointer<Double>?) {
        let lanes = Lanes.scalarCount, withTorques = gravityTorques != nil
        // forward: every body's frame (and its weight-moment seed m_b c_b when torques are wanted)
        for b in order {
            let L = body[b], P = frames[L.parent]
            var angle = Lanes()
            for lane in 0..<lanes { angle[lane] = q[lane * stride + L.dof] }
            let m = P.rotation.times(L.originRotation)  // R_P · R_origin
            var origin = P.position + P.rotation.times(L.originTranslation)
            var rotation = m
            if L.isPrismatic {
                origin = origin + angle * m.columnZ
            } else {
                // R_b = M · Rz(q): x and y columns turn about the z column
                let (c, s) = Self.cosSin(angle)
                rotation.xx = c * m.xx + s * m.xy; rotation.xy = c * m.xy - s * m.xx
                rotation.yx = c * m.yx + s * m.yy; rotation.yy = c * m.yy - s * m.yx
                rotation.zx = c * m.zx + s * m.zy; rotation.zy = c * m.zy - s * m.zx
            }
            let weighted = withTorques ? L.mass * (origin + rotation.times(L.centerOfMass)) : .zero
            frames[b] = LaneFrame(rotation: rotation, position: origin, weightedCOM: weighted)
        }
        // backward: subtree sums from the leaves, one torque per joint
        if let tau = gravityTorques {
            let g = gravity
            for j in Swift.stride(from: order.count - 1, through: 0, by: -1) {
                let b = order[j], L = body[b], f = frames[b]
                let axis = f.rotation.columnZ
                var torque: Lanes
                if L.isPrismatic {
                    torque = -L.subtreeMass * (g.x * axis.x + g.y * axis.y + g.z * axis.z)
                } else {
                    let arm = f.weightedCOM - L.subtreeMass * f.position  // (C − M p)
                    let cx: Lanes = arm.y * g.z - arm.z * g.y
                    let cy: Lanes = arm.z * g.x - arm.x * g.z
                    let cz: Lanes = arm.x * g.y - arm.y * g.x
                    torque = -(axis.x * cx + axis.y * cy + axis.z * cz)
                }
                for lane in 0..<lanes { tau[lane * dof + L.dof] = torque[lane] }
                frames[L.parent].weightedCOM = frames[L.parent].weightedCOM + f.weightedCOM
            }
            frames[0].weightedCOM = .zero
        }
        if let ee = endEffector {
            let f = frames[endEffectorBody]
            let p = f.position + f.rotation.times(alignedEndEffectorOffset)
            for lane in 0..<lanes {
                ee[3 * lane] = p.x[lane]; ee[3 * lane + 1] = p.y[lane]; ee[3 * lane + 2] = p.z[lane]
            }
        }
    }

    /// cos x and sin x per lane, to within about 1 ulp of 1 (absolute error below 3e-16 against the C library),
    /// several times faster than two C library calls per value: one Cody–Waite reduction by π/2 (exact products
    /// for |x| ≤ 1e5), the fdlibm minimax polynomials on [−π/4, π/4], and the quadrant picked without branches.
    /// Lanes outside |x| ≤ 1e5 (and NaN, ±∞) take `Foundation.cos` / `sin`.
    @inline(__always)
    static func cosSin(_ x: Lanes) -> (cos: Lanes, sin: Lanes) {
        // k = nearest integer to x · 2/π: adding 1.5 · 2^52 rounds to an integer, kept in the low mantissa bits
        let magic = Lanes(repeating: 6755399441055744.0)
        let shifted: Lanes = x * Lanes(repeating: 0.63661977236758134308) + magic
        let k: Lanes = shifted - magic
        // r = x − k · π/2, with π/2 = hi + lo and hi's 33 significant bits making k · hi exact for |k| < 2^20
        let r: Lanes = (x - k * Lanes(repeating: 1.57079632673412561417e+00)) - k * Lanes(repeating: 6.07710050650619224932e-11)
        let z: Lanes = r * r
        var ps: Lanes = z * Lanes(repeating: 1.58969099521155010221e-10) + Lanes(repeating: -2.50507602534068634195e-08)
        ps = z * ps + Lanes(repeating: 2.75573137070700676789e-06)
        ps = z * ps + Lanes(repeating: -1.98412698298579493134e-04)
        ps = z * ps + Lanes(repeating: 8.33333333332248946124e-03)
        ps = z * ps + Lanes(repeating: -1.66666666666666324348e-01)
        let sinR: Lanes = r + (z * r) * ps
        var pc: Lanes = z * Lanes(repeating: -1.13596475577881948265e-11) + Lanes(repeating: 2.08757232129817482790e-09)
        pc = z * pc + Lanes(repeating: -2.75573143513906633035e-07)
        pc = z * pc + Lanes(repeating: 2.48015872894767294178e-05)
        pc = z * pc + Lanes(repeating: -1.38888888888741095749e-03)
        pc = z * pc + Lanes(repeating: 4.16666666666666019037e-02)
        let hz: Lanes = 0.5 * z
        let w: Lanes = 1 - hz
        let cosR: Lanes = w + (((1 - w) - hz) + (z * z) * pc)
        // quadrant n = k mod 4: (cos, sin) = (cosR, sinR), (−sinR, cosR), (−cosR, −sinR), (sinR, −cosR)
        typealias Bits = SIMD4<UInt64>
        let n = unsafeBitCast(shifted, to: Bits.self)
        let odd = (n & 1) .== 1
        let c = cosR.replacing(with: sinR, where: odd), s = sinR.replacing(with: cosR, where: odd)
        let cosSign = ((n &+ 1) & 2) &<< 62, sinSign = (n & 2) &<< 62
        var cosX = unsafeBitCast(unsafeBitCast(c, to: Bits.self) ^ cosSign, to: Lanes.self)
        var sinX = unsafeBitCast(unsafeBitCast(s, to: Bits.self) ^ sinSign, to: Lanes.self)
        let limit = Lanes(repeating: 1e5)
        let reduced = (x .<= limit) .& (x .>= -limit)
        if !all(reduced) {
            for lane in 0..<Lanes.scalarCount where !reduced[lane] {
                cosX[lane] = Foundation.cos(x[lane]); sinX[lane] = Foundation.sin(x[lane])
            }
        }
        return (cosX, sinX)
    }

    /// End-effector world positions (m) for `rows` configurations packed row-major in `q` (`rows × dof` values,
    /// DOF order); returns `rows × 3` values (x, y, z per row). Allocates the result; see `evaluate`.
    public func endEffectorPositions(q: [Double], rows: Int) -> [Double] {
        precondition(q.count == rows * dof, "expected \(rows) × \(dof) joint positions, got \(q.count)")
        guard rows > 0 else { return [] }
        return [Double](unsafeUninitializedCapacity: rows * 3) { out, initialized in
            Self.withRows(q) { evaluate(q: $0, rows: rows, stride: dof, endEffector: out.baseAddress!, gravityTorques: nil) }
            initialized = rows * 3
        }
    }

    /// Gravity-compensation torques (N·m, or N for sliders; the sign of `RobotModel.gravityTorques`) for `rows`
    /// configurations packed row-major in `q` (`rows × dof` values, DOF order); returns `rows × dof` values.
    /// Allocates the result; see `evaluate`.
    public func gravityTorques(q: [Double], rows: Int) -> [Double] {
        precondition(q.count == rows * dof, "expected \(rows) × \(dof) joint positions, got \(q.count)")
        guard rows > 0, dof > 0 else { return [] }
        return [Double](unsafeUninitializedCapacity: rows * dof) { out, initialized in
            Self.withRows(q) { evaluate(q: $0, rows: rows, stride: dof, endEffector: nil, gravityTorques: out.baseAddress!) }
            initialized = rows * dof
        }
    }

    /// Calls `body` with a pointer to `q`'s elements (a valid dummy pointer when `q` is empty: a robot without DOF).
    private static func withRows(_ q: [Double], _ body: (UnsafePointer<Double>) -> Void) {
        q.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { body(base) } else { var none = 0.0; withUnsafePointer(to: &none, body) }
        }
    }
}
