import ControlCore
import Foundation
import Testing
@testable import Robots

// MARK: - Helpers

/// A fixed-base tree with every kind of joint the kernel handles, tilted origins and off-axis joint axes:
/// rail -(slide: prismatic, axis (1,1,0))-> carriage -(mount: fixed)-> payload -(elbow: revolute, axis (0,1,1))->
/// arm -(extend: prismatic along z)-> rod -(tip_fixed: fixed)-> tip. The `payload` link is lumped into the carriage
/// body and `tip` (massless) into the rod body, so the elbow's origin and the end effector sit on lumped links.
private let sliderRobotURDF = """
<?xml version="1.0"?>
<robot name="slider_tree">
  <link name="rail">
    <inertial><origin xyz="0 0 0.5"/><mass value="1.0"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial>
  </link>
  <joint name="slide" type="prismatic">
    <origin xyz="0.1 0.2 0.5" rpy="0.3 -0.2 0.4"/>
    <parent link="rail"/><child link="carriage"/>
    <axis xyz="1 1 0"/>
    <limit lower="-1" upper="1" effort="50" velocity="2"/>
  </joint>
  <link name="carriage">
    <inertial><origin xyz="0.03 -0.01 0.02"/><mass value="2.0"/><inertia ixx="0.02" ixy="0" ixz="0" iyy="0.03" iyz="0" izz="0.04"/></inertial>
  </link>
  <joint name="mount" type="fixed">
    <origin xyz="0 0.1 0.05" rpy="0.5 0 -0.3"/>
    <parent link="carriage"/><child link="payload"/>
  </joint>
  <link name="payload">
    <inertial><origin xyz="0.02 0 0.01"/><mass value="0.7"/><inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/></inertial>
  </link>
  <joint name="elbow" type="revolute">
    <origin xyz="0.05 0 0.2" rpy="0 0.4 0"/>
    <parent link="payload"/><child link="arm"/>
    <axis xyz="0 1 1"/>
    <limit lower="-2" upper="2" effort="20" velocity="3"/>
  </joint>
  <link name="arm">
    <inertial><origin xyz="0.01 0 0.25"/><mass value="1.1"/><inertia ixx="0.02" ixy="0" ixz="0" iyy="0.02" iyz="0" izz="0.001"/></inertial>
  </link>
  <joint name="extend" type="prismatic">
    <origin xyz="0 0.02 0.3" rpy="0 0 0.2"/>
    <parent link="arm"/><child link="rod"/>
    <axis xyz="0 0 1"/>
    <limit lower="0" upper="0.2" effort="20" velocity="1"/>
  </joint>
  <link name="rod">
    <inertial><origin xyz="0 0 0.1"/><mass value="0.3"/><inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.0001"/></inertial>
  </link>
  <joint name="tip_fixed" type="fixed">
    <origin xyz="0 0.01 0.25" rpy="0.1 0.2 0.3"/>
    <parent link="rod"/><child link="tip"/>
  </joint>
  <link name="tip"/>
</robot>
"""

/// A body on a floating joint: not a fixed-base tree.
private let floatingURDF = """
<?xml version="1.0"?>
<robot name="floater">
  <link name="world"/>
  <joint name="free" type="floating">
    <parent link="world"/><child link="box"/>
  </joint>
  <link name="box">
    <inertial><mass value="1.0"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial>
  </link>
</robot>
"""

private func modelFromText(_ text: String, name: String) throws -> RobotModel {
    try RobotModel(urdf: URDFParser.parse(data: Data(text.utf8), fileName: name))
}

/// `rows` random configurations within the joint limits (±π for continuous joints), packed row-major.
private func randomRows(_ model: RobotModel, rows: Int, seed: UInt64) -> [Double] {
    var rng = SeededRNG(seed: seed)
    var q: [Double] = []
    for _ in 0..<rows {
        for k in model.actuatedJoints {
            if let r = model.joints[k].range { q.append(rng.uniform(r.lowerBound, r.upperBound)) } else { q.append(rng.uniform(-.pi, .pi)) }
        }
    }
    return q
}

/// Compares the kernel, row by row, with `forwardKinematics` + `linkPose` and `gravityTorques`; returns the
/// largest position and torque errors.
private func compareWithReference(_ model: RobotModel, base: Pose, endEffector: String, gravity: Vec3 = Vec3(0, 0, -9.81),
                                  rows: Int, seed: UInt64) throws -> (position: Double, torque: Double) {
    let kernel = try BatchKinematics(model: model, base: base, endEffector: endEffector, gravity: gravity)
    #expect(kernel.dof == model.dof)
    let q = randomRows(model, rows: rows, seed: seed)
    let positions = kernel.endEffectorPositions(q: q, rows: rows)
    let torques = kernel.gravityTorques(q: q, rows: rows)
    #expect(positions.count == rows * 3 && torques.count == rows * model.dof)
    var worstPosition = 0.0, worstTorque = 0.0
    for r in 0..<rows {
        let row = Array(q[(r * model.dof)..<((r + 1) * model.dof)])
        let expected = try #require(model.linkPose(endEffector, bodyFrames: model.forwardKinematics(base: base, q: row))).position
        let got = Vec3(positions[3 * r], positions[3 * r + 1], positions[3 * r + 2])
        worstPosition = max(worstPosition, (got - expected).norm)
        let reference = model.gravityTorques(q: row, base: base, gravity: gravity)
        for i in 0..<model.dof { worstTorque = max(worstTorque, abs(torques[r * model.dof + i] - reference[i])) }
    }
    return (worstPosition, worstTorque)
}

// MARK: - Tests

@Suite("Batched kinematics kernel")
struct BatchKinematicsTests {
    @Test("arm: end-effector positions and gravity torques of 50 random configurations match the per-row functions",
          arguments: [Pose.identity,
                      Pose(position: Vec3(0.3, -0.2, 0.75), orientation: Quat(roll: 0.1, pitch: -0.2, yaw: 0.7))])
    func armMatchesReference(base: Pose) throws {
        let model = try loadRobot("arm.urdf")
        #expect(model.dof == 7)
        let worst = try compareWithReference(model, base: base, endEffector: "ee", rows: 50, seed: 11)
        #expect(worst.position <= 1e-12, "end-effector error \(worst.position) m")
        #expect(worst.torque <= 1e-9, "torque error \(worst.torque) N·m")
    }

    @Test("arm: the documented q = 0 and ready poses put the end effector where arm.urdf says")
    func armKnownPoses() throws {
        let kernel = try BatchKinematics(model: loadRobot("arm.urdf"), base: .identity, endEffector: "ee")
        let q: [Double] = [0, 0, 0, 0, 0, 0, 0] + [0, -0.785, 0, -2.356, 0, 1.571, 0.785]
        let p = kernel.endEffectorPositions(q: q, rows: 2)
        // (the file writes π/2 as 1.5707963, hence 1e-8 rather than rounding error)
        #expect((Vec3(p[0], p[1], p[2]) - Vec3(0.088, 0, 0.8226)).norm < 1e-7)
        #expect((Vec3(p[3], p[4], p[5]) - Vec3(0.307, 0, 0.487)).norm < 2e-3)
    }

    @Test("a branched tree (the quadruped welded at a tilted base) matches the per-row functions")
    func quadrupedAsFixedTree() throws {
        let model = try loadRobot("quadruped.urdf")
        let base = Pose(position: Vec3(0, 0, 0.4), orientation: Quat(roll: 0.2, pitch: 0.1, yaw: -0.5))
        for foot in ["FR_foot", "RL_foot"] {
            let worst = try compareWithReference(model, base: base, endEffector: foot, rows: 30, seed: 5)
            #expect(worst.position <= 1e-12, "\(foot): end-effector error \(worst.position) m")
            #expect(worst.torque <= 1e-9, "\(foot): torque error \(worst.torque) N·m")
        }
    }

    @Test("prismatic joints, fixed (lumped) links and a tilted gravity vector match the per-row functions")
    func prismaticAndFixedJoints() throws {
        let model = try modelFromText(sliderRobotURDF, name: "slider_tree.urdf")
        #expect(model.bodies.count == 4)  // rail | carriage + payload | arm | rod + tip
        #expect(model.dof == 3)
        #expect(model.linkFrames["tip"]?.body == model.linkFrames["rod"]?.body)
        let base = Pose(position: Vec3(-0.2, 0.1, 0.3), orientation: Quat(roll: -0.3, pitch: 0.2, yaw: 1.1))
        for endEffector in ["tip", "payload", "rail"] {
            let worst = try compareWithReference(model, base: base, endEffector: endEffector, gravity: Vec3(0.4, -1.2, -9.7),
                                                 rows: 50, seed: 7)
            #expect(worst.position <= 1e-12, "\(endEffector): end-effector error \(worst.position) m")
            #expect(worst.torque <= 1e-9, "\(endEffector): torque error \(worst.torque) N")
        }
        // cartpole.urdf: a slider carrying a continuous hinge
        let cartpole = try loadRobot("cartpole.urdf")
        let worst = try compareWithReference(cartpole, base: .identity, endEffector: "pole", rows: 50, seed: 9)
        #expect(worst.position <= 1e-12 && worst.torque <= 1e-9)
        // the slider holds the whole moving mass (1.1 kg) against gravity along its horizontal axis: zero force
        let kernel = try BatchKinematics(model: cartpole, base: .identity, endEffector: "pole")
        let tau = kernel.gravityTorques(q: [0.5, 0.3], rows: 1)
        #expect(abs(tau[0]) < 1e-15)
        #expect(abs(tau[1] - -0.1 * 9.81 * 0.5 * sin(0.3)) < 1e-12)  // τ = −m g l sin q for the upright-at-0 pole
    }

    @Test("either output may be nil; a stride wider than the DOF reads rows out of a wider state")
    func nilOutputsAndStride() throws {
        let model = try loadRobot("arm.urdf")
        let kernel = try BatchKinematics(model: model, base: Pose(position: Vec3(0, 0, 0.2)), endEffector: "ee")
        let rows = 20, dof = kernel.dof, stride = 2 * dof
        let q = randomRows(model, rows: rows, seed: 3)
        // the joint positions followed by dof velocities (junk the kernel must not read)
        var state = [Double](repeating: .nan, count: rows * stride)
        for r in 0..<rows { for i in 0..<dof { state[r * stride + i] = q[r * dof + i] } }
        var bothEE = [Double](repeating: .nan, count: rows * 3), bothTau = [Double](repeating: .nan, count: rows * dof)
        var onlyEE = bothEE, onlyTau = bothTau
        state.withUnsafeBufferPointer { s in
            let s = s.baseAddress!
            kernel.evaluate(q: s, rows: rows, stride: stride, endEffector: &bothEE, gravityTorques: &bothTau)
            kernel.evaluate(q: s, rows: rows, stride: stride, endEffector: &onlyEE, gravityTorques: nil)
            kernel.evaluate(q: s, rows: rows, stride: stride, endEffector: nil, gravityTorques: &onlyTau)
            kernel.evaluate(q: s, rows: rows, stride: stride, endEffector: nil, gravityTorques: nil)  // no work
            kernel.evaluate(q: s, rows: 0, stride: stride, endEffector: &onlyEE, gravityTorques: &onlyTau)  // no rows
        }
        #expect(bothEE.allSatisfy(\.isFinite) && bothTau.allSatisfy(\.isFinite))
        #expect(zip(bothEE, onlyEE).allSatisfy { abs($0 - $1) <= 1e-15 })
        #expect(zip(bothTau, onlyTau).allSatisfy { abs($0 - $1) <= 1e-12 })
        // the convenience functions are the same computation on rows packed with stride dof
        #expect(onlyEE == kernel.endEffectorPositions(q: q, rows: rows))
        #expect(onlyTau == kernel.gravityTorques(q: q, rows: rows))
        #expect(kernel.endEffectorPositions(q: [], rows: 0).isEmpty && kernel.gravityTorques(q: [], rows: 0).isEmpty)
    }

    @Test("a row's result does not depend on the rows evaluated with it (groups of four lanes and the padded tail)")
    func groupingInvariance() throws {
        let model = try loadRobot("arm.urdf")
        let kernel = try BatchKinematics(model: model, base: .identity, endEffector: "ee")
        let rows = 11, dof = kernel.dof
        let q = randomRows(model, rows: rows, seed: 21)
        let allEE = kernel.endEffectorPositions(q: q, rows: rows), allTau = kernel.gravityTorques(q: q, rows: rows)
        for r in 0..<rows {
            let row = Array(q[(r * dof)..<((r + 1) * dof)])
            #expect(kernel.endEffectorPositions(q: row, rows: 1) == Array(allEE[(3 * r)..<(3 * r + 3)]), "row \(r)")
            #expect(kernel.gravityTorques(q: row, rows: 1) == Array(allTau[(r * dof)..<((r + 1) * dof)]), "row \(r)")
        }
    }

    @Test("the kernel's cos/sin agree with the C library to 3e-16, and defer to it beyond |x| = 1e5")
    func cosSinAccuracy() {
        var values: [Double] = [0, -0.0, 1e-300, -1e-17, .pi / 4, -.pi / 4, 3 * .pi / 4, 1e5, -1e5, 99_999.9,
                                1e5.nextUp, -1e5.nextDown, 1e6, -3.7e9, 1e300, .infinity, -.infinity, .nan]
        for k in -40...40 { let x = Double(k) * .pi / 2; values += [x, x.nextUp, x.nextDown, x + 1e-9] }
        var rng = SeededRNG(seed: 1)
        for _ in 0..<20_000 { values.append(rng.uniform(-10, 10)) }
        for _ in 0..<2_000 { values.append(rng.uniform(-1e5, 1e5)) }
        while values.count % 4 != 0 { values.append(0.5) }
        var worst = 0.0
        for start in Swift.stride(from: 0, to: values.count, by: 4) {
            let x = SIMD4(values[start], values[start + 1], values[start + 2], values[start + 3])
            let (c, s) = BatchKinematics.cosSin(x)
            for lane in 0..<4 {
                let v = x[lane]
                if !(abs(v) <= 1e5) {  // beyond the reduction's range (and NaN, ±∞): the C library's own values
                    #expect(c[lane].bitPattern == cos(v).bitPattern && s[lane].bitPattern == sin(v).bitPattern, "x = \(v)")
                    continue
                }
                worst = max(worst, abs(c[lane] - cos(v)), abs(s[lane] - sin(v)))
            }
        }
        #expect(worst <= 3e-16, "worst |Δ| \(worst)")
    }

    @Test("an unknown end-effector link and a floating joint are refused with a clear error")
    func errors() throws {
        let model = try loadRobot("arm.urdf")
        let error = #expect(throws: BatchKinematicsError.self) {
            try BatchKinematics(model: model, base: .identity, endEffector: "gripper_tip")
        }
        if case let .unknownLink(name, available)? = error {
            #expect(name == "gripper_tip")
            #expect(available.contains("ee") && available.contains("link0"))
        } else {
            Issue.record("expected unknownLink, got \(String(describing: error))")
        }
        #expect(error?.description.contains("gripper_tip") == true)

        let floating = try modelFromText(floatingURDF, name: "floater.urdf")
        #expect(throws: BatchKinematicsError.unsupportedJoint(name: "free", type: .floating)) {
            try BatchKinematics(model: floating, base: .identity, endEffector: "box")
        }
    }
}
