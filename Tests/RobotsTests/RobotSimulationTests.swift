import ControlCore
import Foundation
import Physics
import Testing
@testable import Robots

/// The repository's `robots/` folder, found from this file's path.
let robotsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("robots")

func loadRobot(_ name: String) throws -> RobotModel {
    try RobotModel(contentsOf: robotsDirectory.appendingPathComponent(name))
}

@Suite("URDF robots in the simulator")
struct RobotSimulationTests {
    @Test("fixed links are merged; the quadruped has 13 bodies, 12 DOF and about 12.45 kg")
    func quadrupedModel() throws {
        let model = try loadRobot("quadruped.urdf")
        #expect(model.dof == 12)
        #expect(model.bodies.count == 13)
        #expect(abs(model.totalMass - 12.453) < 0.01)
        #expect(model.linkFrames["FR_foot"]?.body == model.linkFrames["FR_calf"]?.body)
        let arm = try loadRobot("arm.urdf")
        #expect(arm.dof == 7)
        #expect(arm.jointNames == (1...7).map { "joint\($0)" })
    }

    @Test("joint positions set through forward kinematics read back from ODE's own joint angles, and link poses agree",
          arguments: ["quadruped.urdf", "arm.urdf", "cartpole.urdf"])
    func kinematicsRoundTrip(file: String) throws {
        let model = try loadRobot(file)
        var settings = WorldSettings()
        settings.ground = false
        settings.gravity = .zero
        let sim = try RobotSimulation(model: model, settings: settings, base: file == "quadruped.urdf" ? .floating : .fixed,
                                      basePose: Pose(position: Vec3(0, 0, 1)))
        var rng = SeededRNG(seed: 3)
        for _ in 0..<5 {
            let q = model.actuatedJoints.map { k -> Double in
                let j = model.joints[k]
                if let r = j.range { return rng.uniform(r.lowerBound, r.upperBound) }
                return rng.uniform(-3, 3)
            }
            let base = Pose(position: Vec3(0.1, -0.2, 1.2), orientation: Quat(roll: 0.1, pitch: -0.2, yaw: 0.7))
            sim.setState(basePose: base, q: q)
            // one step at rest (no gravity, no velocity) makes the bridge re-read every angle from ODE
            try sim.step(commands: Array(repeating: 0, count: model.dof), substeps: 1)
            let read = sim.jointState().q
            for i in q.indices { #expect(abs(read[i] - q[i]) < 1e-6, "\(model.jointNames[i]): \(read[i]) vs \(q[i])") }
            let frames = model.forwardKinematics(base: sim.fixedBase ? sim.basePoseAtBuild : base, q: q)
            for link in model.urdf.links.map(\.name) {
                let fk = model.linkPose(link, bodyFrames: frames)!
                let sim = sim.linkPose(link)!
                #expect((fk.position - sim.position).norm < 1e-9, "\(link)")
            }
        }
    }

    @Test("joint velocities set through the kinematic tree read back from ODE")
    func velocityRoundTrip() throws {
        let model = try loadRobot("arm.urdf")
        var settings = WorldSettings()
        settings.ground = false
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        let q = [0.1, -0.5, 0.2, -2.0, 0.3, 1.5, 0.4]
        let qd = [0.5, -0.3, 0.2, 0.7, -1.0, 0.4, 2.0]
        sim.setState(q: q, qd: qd)
        let read = sim.jointState().qd
        for i in qd.indices { #expect(abs(read[i] - qd[i]) < 1e-9) }
    }

    @Test("a frictionless double pendulum keeps its energy within 0.5 % over 10 s")
    func doublePendulumEnergy() throws {
        let model = try loadRobot("double_pendulum.urdf")
        var settings = WorldSettings()
        settings.timeStep = 0.001
        settings.ground = false
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        sim.setState(q: [1.2, -0.5])
        func energy() -> Double {
            var e = 0.0
            for (b, body) in model.bodies.enumerated() {
                guard let pb = sim.physicsBody[b] else { continue }
                let pose = sim.world.bodyPose(pb)
                let (v, w) = sim.world.bodyVelocity(pb)
                let wb = pose.orientation.inverseRotate(w)
                e += 0.5 * body.mass * v.dot(v) + 0.5 * wb.dot(body.inertia * wb) + body.mass * 9.81 * pose.position.z
            }
            return e
        }
        let e0 = energy()
        var maxDrift = 0.0
        for _ in 0..<1000 {
            try sim.step(commands: [0, 0], substeps: 10)
            maxDrift = max(maxDrift, abs(energy() - e0))
        }
        // potential energy scale: m g l over both links
        #expect(maxDrift / (2 * 9.81 * 0.5) < 0.005, "energy drift \(maxDrift) J")
    }

    @Test("a compound pendulum (URDF pendulum) swings with period 2π√((I_c + m l²)/(m g l)) within 1 %")
    func urdfPendulumPeriod() throws {
        let model = try loadRobot("pendulum.urdf")
        var settings = WorldSettings()
        settings.timeStep = 0.001
        settings.ground = false
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        let pole = model.bodies[1]
        let l = pole.centerOfMass.norm, m = pole.mass
        let ic = pole.inertia.r1.y  // about the hinge axis (y)
        let expected = 2 * Double.pi * ((ic + m * l * l) / (m * 9.81 * l)).squareRoot()
        sim.setState(q: [0.05])
        var crossings: [Double] = []
        var previous = 0.05
        for _ in 0..<10_000 {
            try sim.step(commands: [0], substeps: 1)
            let q = sim.jointState().q[0]
            if previous < 0 && q >= 0 { crossings.append(sim.world.time - 0.001 * q / (q - previous)) }
            previous = q
        }
        let period = (crossings.last! - crossings.first!) / Double(crossings.count - 1)
        #expect(abs(period - expected) / expected < 0.01, "period \(period), expected \(expected)")
    }

    @Test("joint limits hold against the full motor torque")
    func jointLimitsHold() throws {
        let model = try loadRobot("arm.urdf")
        var settings = WorldSettings()
        settings.ground = false
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        sim.setState(q: [0, -0.5, 0, -1.5, 0, 1.5, 0])
        let efforts = model.actuatedJoints.map { model.joints[$0].limit!.effort }
        for _ in 0..<1000 { try sim.step(commands: efforts, substeps: 1) }
        let q = sim.jointState().q
        for (i, k) in model.actuatedJoints.enumerated() {
            let r = model.joints[k].range!
            #expect(q[i] <= r.upperBound + 0.05, "\(model.jointNames[i]) at \(q[i]) beyond \(r.upperBound)")
        }
    }

    @Test("PD position control settles the arm at its targets")
    func pdSettles() throws {
        let model = try loadRobot("arm.urdf")
        var settings = WorldSettings()
        settings.ground = false
        settings.solver = .exact
        // stiff gains on light wrist links (kd·dt/I ≈ 70 for link 7): stable because the damping is implicit
        let modes = Array(repeating: ActuatorMode.position(kp: 400, kd: 40), count: 7)
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed, actuators: modes)
        sim.setState(q: Array(repeating: 0, count: 7).enumerated().map { $0.offset == 3 ? -1.0 : 0 })
        let target = [0.3, -0.4, 0.2, -2.0, 0.1, 1.6, 0.5]
        for _ in 0..<2000 { try sim.step(commands: target, substeps: 1) }
        let (q, qd) = sim.jointState()
        for i in 0..<7 {
            // the steady-state error of a PD servo holding gravity: |kp·e| ≈ gravity torque (≤ 25 N·m here)
            #expect(abs(q[i] - target[i]) < 25.0 / 400, "\(model.jointNames[i]): \(q[i]) vs \(target[i])")
            #expect(abs(qd[i]) < 1e-3)
        }
    }

    @Test("the quadruped stands on its feet under PD control with foot contacts reported")
    func quadrupedStands() throws {
        let model = try loadRobot("quadruped.urdf")
        let stand = [0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5]
        let modes = Array(repeating: ActuatorMode.position(kp: 60, kd: 2), count: 12)
        let sim = try RobotSimulation(model: model, base: .floating, basePose: Pose(position: Vec3(0, 0, 0.33)), actuators: modes)
        sim.setState(q: stand)
        for _ in 0..<500 { try sim.step(commands: stand, substeps: 1) }
        let contacts = sim.linkContacts()
        for leg in ["FR", "FL", "RR", "RL"] { #expect((contacts["\(leg)_foot"] ?? 0) > 0, "\(leg) foot") }
        #expect(contacts["trunk"] == nil)
        let z = sim.basePose.position.z
        #expect(z > 0.25 && z < 0.33, "trunk height \(z)")
        let rpy = sim.basePose.orientation.rollPitchYaw
        #expect(abs(rpy.x) < 0.05 && abs(rpy.y) < 0.05)
    }

    @Test("a public-style URDF (meshes, massless frames, gazebo tags) builds and simulates")
    func publicStyleURDF() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/public_style.urdf")
        let model = try RobotModel(contentsOf: url)
        #expect(!model.warnings.isEmpty)
        let sim = try RobotSimulation(model: model, base: .floating, basePose: Pose(position: Vec3(0, 0, 0.3)))
        sim.setState(q: Array(repeating: 0, count: model.dof))
        for _ in 0..<200 { try sim.step(commands: Array(repeating: 0, count: model.dof), substeps: 5) }
        #expect(sim.basePose.position.isFinite)
    }
}

@Suite("URDF quirks of published robot files")
struct URDFQuirkTests {
    @Test("an XML declaration with version 0.0 and NUL bytes after </robot> are accepted (as ROS's parser does)")
    func tolerant() throws {
        var text = "<?xml version=\"0.0\" ?>\n<robot name=\"r\">\n  <link name=\"a\">\n    <inertial><mass value=\"1\"/><inertia ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"1\"/></inertial>\n  </link>\n</robot>\n"
        text += "\u{0}"
        let robot = try URDFParser.parse(data: Data(text.utf8), fileName: "quirky.urdf")
        #expect(robot.links.count == 1)
        // line numbers are unchanged: an error on line 3 is still reported on line 3
        let bad = "<?xml version=\"0.0\" ?>\n<robot name=\"r\">\n  <link name=\"a\"><inertial><mass value=\"-1\"/><inertia ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"1\"/></inertial></link>\n</robot>\n"
        #expect { try URDFParser.parse(string: bad, fileName: "bad.urdf") } throws: { ($0 as? URDFError)?.line == 3 }
    }
}
