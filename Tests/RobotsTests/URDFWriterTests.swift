import ControlCore
import Foundation
import Physics
import Testing
@testable import Robots

private func close(_ a: Vec3, _ b: Vec3, _ tolerance: Double = 1e-12) -> Bool { (a - b).norm <= tolerance }
private func close(_ a: Mat3, _ b: Mat3, _ tolerance: Double = 1e-12) -> Bool {
    zip(a.rowMajor, b.rowMajor).allSatisfy { abs($0 - $1) <= tolerance }
}
/// Same rotation (q and −q are one rotation).
private func close(_ a: Quat, _ b: Quat, _ tolerance: Double = 1e-12) -> Bool {
    let d = a.w * b.w + a.x * b.x + a.y * b.y + a.z * b.z
    return 1 - abs(d) <= tolerance
}
private func close(_ a: Pose, _ b: Pose) -> Bool { close(a.position, b.position) && close(a.orientation, b.orientation) }

/// Records every difference between two models beyond 1e-12 (masses, inertias, COMs, shapes, joints, links).
private func expectEqualModels(_ a: RobotModel, _ b: RobotModel, _ label: String) {
    #expect(a.name == b.name, "\(label)")
    #expect(a.bodies.count == b.bodies.count, "\(label): body count")
    for (x, y) in zip(a.bodies, b.bodies) {
        #expect(x.name == y.name && x.links == y.links, "\(label): body \(x.name)")
        #expect(abs(x.mass - y.mass) <= 1e-12, "\(label): mass of \(x.name) \(x.mass) vs \(y.mass)")
        #expect(close(x.centerOfMass, y.centerOfMass), "\(label): COM of \(x.name) \(x.centerOfMass) vs \(y.centerOfMass)")
        #expect(close(x.inertia, y.inertia), "\(label): inertia of \(x.name)")
        #expect(x.shapes.count == y.shapes.count && zip(x.shapes, y.shapes).allSatisfy { $0.shape == $1.shape && close($0.pose, $1.pose) && $0.link == $1.link },
                "\(label): shapes of \(x.name)")
        #expect(x.parentJoint == y.parentJoint)
    }
    #expect(a.joints.count == b.joints.count, "\(label): joint count")
    for (x, y) in zip(a.joints, b.joints) {
        #expect(x.name == y.name && x.type == y.type && x.parentBody == y.parentBody && x.childBody == y.childBody, "\(label): joint \(x.name)")
        #expect(close(x.origin, y.origin) && close(x.axis, y.axis), "\(label): origin/axis of \(x.name)")
        #expect(x.limit == y.limit && x.damping == y.damping && x.friction == y.friction, "\(label): limit/dynamics of \(x.name)")
    }
    for (k, v) in a.linkFrames { #expect(b.linkFrames[k].map { $0.body == v.body && close($0.pose, v.pose) } == true, "\(label): link frame \(k)") }
    #expect(a.urdf.materials == b.urdf.materials, "\(label): materials")
    for (x, y) in zip(a.urdf.links, b.urdf.links) {
        #expect(x.name == y.name && x.visuals.count == y.visuals.count && x.collisions.count == y.collisions.count, "\(label): link \(x.name)")
        for (v, w) in zip(x.visuals + x.collisions, y.visuals + y.collisions) {
            #expect(v.geometry == w.geometry && v.rgba == w.rgba && v.name == w.name && close(v.origin, w.origin), "\(label): shape of \(x.name)")
        }
    }
}

@Suite("Writing URDF back out with physical parameters")
struct URDFWriterTests {
    static let files = ["arm.urdf", "quadruped.urdf", "cartpole.urdf", "double_pendulum.urdf", "pendulum.urdf", "Fixtures/public_style.urdf"]

    static func url(_ file: String) -> URL {
        file.hasPrefix("Fixtures/")
            ? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(file)
            : robotsDirectory.appendingPathComponent(file)
    }

    @Test("parse → write (as parsed, and with the nominal parameters) → parse gives the same model", arguments: files)
    func roundTrip(file: String) throws {
        let model = try RobotModel(contentsOf: Self.url(file))
        let sim = try RobotSimulation(model: model, base: .automatic)
        for parameters in [nil, sim.nominalParameters] {
            let text = try URDFWriter.urdf(for: model, parameters: parameters)
            let again = try RobotModel(urdf: URDFParser.parse(string: text, fileName: "written-\(file)"))
            expectEqualModels(model, again, file)
            // unchanged bodies keep every link's own inertial
            for (x, y) in zip(model.urdf.links, again.urdf.links) {
                #expect((x.inertial == nil) == (y.inertial == nil), "\(file): link \(x.name)")
                if let i = x.inertial, let j = y.inertial {
                    #expect(i.mass == j.mass && close(i.inertia, j.inertia) && close(i.origin, j.origin), "\(file): inertial of \(x.name)")
                }
            }
        }
    }

    @Test("changed inertials and dynamics are written so that the parsed file's nominal parameters are the changed ones; merged links fold into their body's root link")
    func changedParameters() throws {
        let model = try loadRobot("quadruped.urdf")
        let actuators = Array(repeating: ActuatorMode.position(kp: 40, kd: 1), count: 12)
        let live = try RobotSimulation(model: model, base: .floating, basePose: Pose(position: Vec3(0, 0, 0.33)), actuators: actuators)
        var p = live.nominalParameters
        // FR_calf is FR_calf + FR_foot (a fixed joint): one body
        try p.updateBody("FR_calf") {
            $0.scaleMass(by: 1.4)
            $0.centerOfMass = $0.centerOfMass + Vec3(0.004, -0.002, -0.01)
            $0.inertia = $0.inertia + Mat3.symmetric(xx: 1e-5, xy: 2e-6, xz: 0, yy: 2e-5, yz: -1e-6, zz: 5e-6)
        }
        try p.updateBody("trunk") { $0.centerOfMass = Vec3(0.012, -0.003, 0.004); $0.mass = 5.2 }
        try p.updateJoint("FR_calf_joint") { $0.damping = 0.05; $0.friction = 0.31 }
        try p.updateJoint("RL_hip_joint") { $0.damping = 0; $0.friction = 0 }
        let text = try URDFWriter.urdf(for: model, parameters: p)
        let written = try URDFParser.parse(string: text, fileName: "identified.urdf")
        #expect(written.link(named: "FR_foot")?.inertial == nil)
        #expect(written.link(named: "FR_calf")?.inertial?.mass == p.bodies[p.bodyIndex(named: "FR_calf")!].mass)
        #expect(written.link(named: "RL_foot")?.inertial?.mass == model.urdf.link(named: "RL_foot")?.inertial?.mass)
        #expect(written.joint(named: "RL_hip_joint").map { $0.damping == 0 && $0.friction == 0 } == true)
        let rebuilt = try RobotSimulation(model: RobotModel(urdf: written), base: .floating, basePose: Pose(position: Vec3(0, 0, 0.33)),
                                          actuators: actuators)
        let n = rebuilt.nominalParameters
        #expect(n.bodies.map(\.name) == p.bodies.map(\.name) && n.joints.map(\.name) == p.joints.map(\.name))
        for (x, y) in zip(n.bodies, p.bodies) {
            #expect(abs(x.mass - y.mass) <= 1e-12 && close(x.centerOfMass, y.centerOfMass) && close(x.inertia, y.inertia), "\(x.name)")
        }
        for (x, y) in zip(n.joints, p.joints) { #expect(x == y, "\(x.name)") }
        // the live world with the parameters applied and the world built from the written file move alike
        try live.apply(p)
        let stand = [0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5]
        var rng = SeededRNG(seed: 2)
        let commands = (0..<200).map { _ in stand.map { $0 + rng.uniform(-0.2, 0.2) } }
        for sim in [live, rebuilt] { sim.setState(basePose: Pose(position: Vec3(0, 0, 0.33)), q: stand) }
        var largest = 0.0
        for c in commands {
            try live.step(commands: c, substeps: 4)
            try rebuilt.step(commands: c, substeps: 4)
            let a = live.jointState(), b = rebuilt.jointState()
            largest = max(largest, zip(a.q, b.q).map { abs($0 - $1) }.max()!, (live.basePose.position - rebuilt.basePose.position).norm)
        }
        #expect(largest < 1e-9, "live and rebuilt worlds differ by \(largest)")
        #expect(!live.linkContacts().isEmpty)
    }

    @Test("write is atomic and names the file when it cannot write; unknown names are refused")
    func writeFile() throws {
        let model = try loadRobot("arm.urdf")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("urdf-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("arm-identified.urdf")
        let sim = try RobotSimulation(model: model, base: .fixed)
        var p = sim.nominalParameters
        try p.updateJoint("joint3") { $0.damping = 0.25 }
        try URDFWriter.write(model, parameters: p, to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["arm-identified.urdf"])
        #expect(try RobotModel(contentsOf: url).joints.first { $0.name == "joint3" }?.damping == 0.25)
        let missing = directory.appendingPathComponent("no/such/dir/arm.urdf")
        #expect { try URDFWriter.write(model, to: missing) } throws: { ($0 as? URDFError)?.file == missing.path }
        p.bodies[0].name = "hand"
        #expect { try URDFWriter.urdf(for: model, parameters: p) } throws: {
            "\($0)".contains("link 'hand': is merged by fixed joints into body 'link7'")
        }
        p = sim.nominalParameters
        p.bodies[3].mass = 0
        #expect { try URDFWriter.urdf(for: model, parameters: p) } throws: { "\($0)".contains("link 'link4': mass must be positive") }
    }
}
