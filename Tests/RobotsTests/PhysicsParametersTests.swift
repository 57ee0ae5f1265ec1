import ControlCore
import Foundation
import Physics
import Testing
@testable import Robots

/// The URDF pendulum (1 kg bob 1 m below a hinge about +y, I_c = 0.001 kg·m²), fixed base, no ground; the
/// exact solver (QuickStep's 20 iterations leave the 1 m lever's constraint visibly unconverged).
private func pendulum(actuators: [ActuatorMode]? = nil, solver: ConstraintSolver = .exact) throws -> RobotSimulation {
    var settings = WorldSettings()
    settings.timeStep = 0.001
    settings.ground = false
    settings.solver = solver
    return try RobotSimulation(model: loadRobot("pendulum.urdf"), settings: settings, base: .fixed, actuators: actuators)
}

/// The period of a free swing from successive upward zero crossings of the hinge angle.
private func swingPeriod(_ sim: RobotSimulation, from q0: Double = 0.05, seconds: Double = 10) throws -> Double {
    sim.setState(q: [q0])
    var crossings: [Double] = []
    var previous = q0
    let dt = sim.world.settings.timeStep
    for _ in 0..<Int(seconds / dt) {
        try sim.step(commands: [0], substeps: 1)
        let q = sim.jointState().q[0]
        if previous < 0 && q >= 0 { crossings.append(sim.world.time - dt * q / (q - previous)) }
        previous = q
    }
    return (crossings.last! - crossings.first!) / Double(crossings.count - 1)
}

/// A 1 kg box, 0.4 × 0.4 × 0.1 m, as a floating robot with no joints.
private let boxURDF = """
<robot name="box">
  <link name="box">
    <inertial><mass value="1"/><inertia ixx="0.014167" ixy="0" ixz="0" iyy="0.014167" iyz="0" izz="0.026667"/></inertial>
    <collision><geometry><box size="0.4 0.4 0.1"/></geometry></collision>
  </link>
</robot>
"""

/// Steps `sim` with `commands(t)` for `steps` control steps of `substeps`, returning the physics state after each.
private func run(_ sim: RobotSimulation, steps: Int, substeps: Int = 1, commands: (Int) -> [Double]) throws -> [[Double]] {
    var states: [[Double]] = []
    for t in 0..<steps {
        try sim.step(commands: commands(t), substeps: substeps)
        states.append(sim.snapshot().physics.values)
    }
    return states
}

@Suite("Physical parameters as a value, applied to the live world")
struct PhysicsParametersTests {
    @Test("nominal parameters are the URDF's: lumped bodies, joint dynamics, unit strength, PD gains, the settings' ground and gravity")
    func nominal() throws {
        let model = try loadRobot("quadruped.urdf")
        var settings = WorldSettings()
        settings.contact.friction = 0.8
        let sim = try RobotSimulation(model: model, settings: settings, base: .floating, basePose: Pose(position: Vec3(0, 0, 0.4)),
                                      actuators: Array(repeating: .position(kp: 40, kd: 1), count: 12))
        let p = sim.nominalParameters
        #expect(p.bodies.map(\.name) == model.bodies.map(\.name))
        for (b, body) in model.bodies.enumerated() {
            #expect(p.bodies[b].mass == body.mass && p.bodies[b].centerOfMass == body.centerOfMass && p.bodies[b].inertia == body.inertia)
        }
        #expect(p.joints.map(\.name) == model.jointNames)
        for j in p.joints {
            #expect(j.damping == 0.01 && j.friction == 0.2 && j.strength == 1 && j.gains == .init(kp: 40, kd: 1))
        }
        #expect(p.latency == 0 && p.groundFriction == 0.8 && p.groundRestitution == 0 && p.gravity == Vec3(0, 0, -9.81))
        #expect(sim.parameters == p)
        // a welded root is static: no parameters; torque-controlled joints have no gains
        let arm = try RobotSimulation(model: loadRobot("arm.urdf"), base: .fixed)
        #expect(!arm.nominalParameters.bodies.map(\.name).contains("link0"))
        #expect(arm.nominalParameters.bodies.first?.name == "link1")
        #expect(arm.nominalParameters.joints.allSatisfy { $0.gains == nil })
        // Codable round trip
        let data = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(PhysicsParameters.self, from: data) == p)
    }

    @Test("applied parameters read back from the live world exactly, in the simulation's order whatever the given order")
    func readBack() throws {
        let sim = try RobotSimulation(model: loadRobot("quadruped.urdf"), base: .floating, basePose: Pose(position: Vec3(0, 0, 0.4)),
                                      actuators: Array(repeating: .position(kp: 40, kd: 1), count: 12))
        var p = sim.nominalParameters
        try p.updateBody("FR_calf") { $0.scaleMass(by: 1.7); $0.centerOfMass = $0.centerOfMass + Vec3(0.01, 0, -0.02) }
        try p.updateBody("trunk") { $0.scaleInertia(by: 1.2) }
        try p.updateJoint("RL_thigh_joint") { $0.damping = 0.3; $0.friction = 0.05; $0.strength = 0.9; $0.gains = .init(kp: 55, kd: 1.5) }
        p.latency = 2
        p.groundFriction = 0.6
        p.groundRestitution = 0.1
        p.gravity = Vec3(0.5, 0, -9.7)
        var shuffled = p
        shuffled.bodies.reverse()
        shuffled.joints.swapAt(0, 5)
        try sim.apply(shuffled)
        #expect(sim.parameters == p)
        #expect(sim.pendingCommands.count == 2)
    }

    @Test("applying the nominal parameters is bit-identical to applying none, also after applying others first",
          arguments: ["arm.urdf", "quadruped.urdf"])
    func nominalIsBitIdentical(file: String) throws {
        let model = try loadRobot(file)
        let quadruped = file == "quadruped.urdf"
        func make() throws -> RobotSimulation {
            var settings = WorldSettings()
            if !quadruped { settings.solver = .exact }   // the arm as arm-reach runs it: exact solver, friction
            return try RobotSimulation(model: model, settings: settings, base: quadruped ? .floating : .fixed,
                                       basePose: Pose(position: Vec3(0, 0, quadruped ? 0.33 : 0)),
                                       actuators: quadruped ? Array(repeating: .position(kp: 40, kd: 1), count: 12) : nil)
        }
        let untouched = try make(), nominal = try make(), reverted = try make()
        try nominal.apply(nominal.nominalParameters)
        var other = reverted.nominalParameters.scalingMasses(by: 1.5).scalingStrengths(by: 0.7)
        other.bodies[2].centerOfMass = other.bodies[2].centerOfMass + Vec3(0.02, -0.01, 0.03)
        other.joints[1].damping += 0.4
        other.joints[1].friction += 0.1
        if quadruped { other.joints[3].gains = .init(kp: 10, kd: 0) }
        other.latency = 3
        other.gravity = Vec3(1, 2, -8)
        other.groundFriction = 0.3
        try reverted.apply(other)
        try reverted.apply(reverted.nominalParameters)
        let q0 = quadruped ? [0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5, 0.0, 0.8, -1.5] : [0, -0.3, 0, -2, 0, 1.6, 0.7]
        var rng = SeededRNG(seed: 5)
        let commands = (0..<150).map { _ in q0.indices.map { i in quadruped ? q0[i] + rng.uniform(-0.3, 0.3) : rng.uniform(-20, 20) } }
        var results: [[[Double]]] = []
        for sim in [untouched, nominal, reverted] {
            sim.setState(basePose: Pose(position: Vec3(0, 0, 0.33)), q: q0)
            results.append(try run(sim, steps: 150, substeps: 4) { commands[$0] })
        }
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])
        #expect(reverted.parameters == untouched.parameters)
    }

    @Test("a heavier link (mass and inertia × k) swings with the same period but needs k times the holding torque")
    func heavierLink() throws {
        // free swing: (k I) q̈ = −k m g l sin q, the same motion
        let light = try pendulum(), heavy = try pendulum()
        try heavy.apply(heavy.nominalParameters.scalingMasses(by: 4))
        #expect(heavy.parameters.bodies[0].mass == 4)
        light.setState(q: [0.5]); heavy.setState(q: [0.5])
        var maxDifference = 0.0
        for _ in 0..<3000 {
            try light.step(commands: [0], substeps: 1); try heavy.step(commands: [0], substeps: 1)
            maxDifference = max(maxDifference, abs(light.jointState().q[0] - heavy.jointState().q[0]))
        }
        #expect(maxDifference < 1e-9, "trajectories differ by \(maxDifference) rad")
        #expect(abs(try swingPeriod(heavy) - (try swingPeriod(light))) < 1e-9)
        // holding the pole horizontal with a stiff PD servo: the static torque is m g l sin q
        var torques: [Double] = []
        for k in [1.0, 3.0] {
            let sim = try pendulum(actuators: [.position(kp: 5000, kd: 200)])
            try sim.apply(sim.nominalParameters.scalingMasses(by: k))
            sim.setState(q: [Double.pi / 2])
            var applied = [0.0]
            for _ in 0..<3000 { applied = try sim.step(commands: [Double.pi / 2], substeps: 1) }
            let q = sim.jointState().q[0]
            let expected = k * 1.0 * 9.81 * 1.0 * sin(q)
            #expect(abs(applied[0] - expected) < 1e-3 * expected, "k = \(k): applied \(applied[0]) N·m, m g l sin q = \(expected)")
            torques.append(applied[0])
        }
        #expect(abs(torques[1] / torques[0] - 3) < 2e-3, "holding torques \(torques)")
    }

    @Test("viscous damping c slows a free spin as exp(−c t / I), I the inertia about the hinge")
    func dampingDecay() throws {
        let inertia = 0.001 + 1.0 * 1.0 * 1.0   // I_c + m l² about the hinge
        for c in [0.2, 0.6] {
            let sim = try pendulum()
            var p = sim.nominalParameters
            p.gravity = .zero   // no restoring torque: a pure spin
            p.joints[0].damping = c
            try sim.apply(p)
            let w0 = 2.0
            sim.setState(q: [0], qd: [w0])
            for second in 1...3 {
                for _ in 0..<1000 { try sim.step(commands: [0], substeps: 1) }
                let w = sim.jointState().qd[0]
                let expected = w0 * exp(-c * Double(second) / inertia)
                #expect(abs(w - expected) < 1e-3 * expected, "c = \(c), t = \(second) s: \(w) rad/s vs \(expected)")
            }
            let rate = -log(sim.jointState().qd[0] / w0) / 3
            #expect(abs(rate - c / inertia) < 1e-3 * c / inertia, "decay rate \(rate) 1/s vs c/I = \(c / inertia)")
        }
    }

    @Test("a box starts to slide on a slope of tan θ = μ (the slope made by tilting gravity), and accelerates at g (sin θ − μ cos θ)")
    func slopeFriction() throws {
        let model = try RobotModel(urdf: URDFParser.parse(string: boxURDF, fileName: "box.urdf"))
        for mu in [0.3, 0.7] {
            for margin in [-0.03, 0.03] {
                var settings = WorldSettings()
                settings.solver = .exact
                let sim = try RobotSimulation(model: model, settings: settings, base: .floating, basePose: Pose(position: Vec3(0, 0, 0.05)))
                var p = sim.nominalParameters
                p.groundFriction = mu
                try sim.apply(p)
                sim.setState(basePose: Pose(position: Vec3(0, 0, 0.05)), q: [])
                for _ in 0..<250 { try sim.step(commands: [], substeps: 1) }   // settle on flat ground
                let theta = atan(mu) + margin, g = 9.81
                p.gravity = Vec3(g * sin(theta), 0, -g * cos(theta))
                try sim.apply(p)
                let x0 = sim.basePose.position.x
                let seconds = 1.0
                for _ in 0..<Int(seconds / 0.002) { try sim.step(commands: [], substeps: 1) }
                let dx = sim.basePose.position.x - x0
                if margin < 0 {
                    #expect(abs(dx) < 1e-4, "μ = \(mu), θ = atan μ − 0.03: moved \(dx) m")
                } else {
                    let expected = 0.5 * g * (sin(theta) - mu * cos(theta)) * seconds * seconds
                    #expect(abs(dx - expected) < 0.05 * expected, "μ = \(mu), θ = atan μ + 0.03: slid \(dx) m, expected \(expected)")
                }
            }
        }
    }

    @Test("gravity: four times g halves the period; a moved centre of mass gives the period of the new arm length")
    func gravityAndCenterOfMass() throws {
        let nominal = try swingPeriod(try pendulum())
        let strong = try pendulum()
        var p = strong.nominalParameters
        p.gravity = Vec3(0, 0, -4 * 9.81)
        try strong.apply(p)
        #expect(abs(try swingPeriod(strong) / nominal - 0.5) < 1e-3)
        // the bob 0.8 m below the hinge instead of 1 m: T = 2π √((I_c + m l²) / (m g l))
        let short = try pendulum()
        short.setState(q: [0.3])
        let poleBefore = short.linkPose("pole")!
        p = short.nominalParameters
        p.bodies[0].centerOfMass = Vec3(0, 0, -0.8)
        try short.apply(p)
        // the link frame and the joint coordinate stay; only the mass moved within the link
        let poleAfter = short.linkPose("pole")!
        #expect((poleAfter.position - poleBefore.position).norm < 1e-12)
        #expect(abs(short.jointState().q[0] - 0.3) < 1e-12)
        let l = 0.8
        let expected = 2 * Double.pi * ((0.001 + l * l) / (9.81 * l)).squareRoot()
        let period = try swingPeriod(short)
        #expect(abs(period - expected) / expected < 1e-3, "period \(period) s, expected \(expected) s")
    }

    @Test("actuator strength scales the applied torque and the acceleration it gives")
    func strength() throws {
        var spins: [Double] = []
        for s in [1.0, 2.5] {
            let sim = try pendulum()
            var p = sim.nominalParameters
            p.gravity = .zero
            p.joints[0].strength = s
            try sim.apply(p)
            sim.setState(q: [0])
            var applied = [0.0]
            for _ in 0..<500 { applied = try sim.step(commands: [0.3], substeps: 1) }
            #expect(applied[0] == s * 0.3)
            let expected = s * 0.3 * 0.5 / 1.001   // ω = τ t / I
            #expect(abs(sim.jointState().qd[0] - expected) < 1e-6 * expected)
            spins.append(sim.jointState().qd[0])
        }
        #expect(abs(spins[1] / spins[0] - 2.5) < 1e-5)
    }

    @Test("a latency of k control steps delays the response by exactly k steps; the actuators hold the reset command meanwhile",
          arguments: [1, 3])
    func latency(k: Int) throws {
        func make(latency: Int) throws -> RobotSimulation {
            let sim = try pendulum(solver: .exact)
            var p = sim.nominalParameters
            p.gravity = .zero
            p.latency = latency
            try sim.apply(p)
            sim.setState(q: [0.2])
            return sim
        }
        let prompt = try make(latency: 0), late = try make(latency: k)
        #expect(late.pendingCommands == Array(repeating: [0.0], count: k))   // torque mode holds zero torque
        let command = { (t: Int) in [0.5 * sin(Double(t) / 4)] }
        var promptStates: [(q: [Double], qd: [Double])] = []
        for t in 0..<40 {
            try prompt.step(commands: command(t), substeps: 5)
            try late.step(commands: command(t), substeps: 5)
            promptStates.append(prompt.jointState())
            let s = late.jointState()
            if t < k {
                #expect(s.q == [0.2] && s.qd == [0], "step \(t): moved before the first command arrived")
            } else {
                #expect(s.q == promptStates[t - k].q && s.qd == promptStates[t - k].qd, "step \(t)")
            }
        }
        // position control holds the joint positions of the reset
        let servo = try pendulum(actuators: [.position(kp: 100, kd: 5)])
        var p = servo.nominalParameters
        p.latency = k
        try servo.apply(p)
        servo.setState(q: [0.4])
        #expect(servo.pendingCommands == Array(repeating: [0.4], count: k))
        // a non-finite command is refused when given, not k steps later
        #expect(throws: SimulationError.self) { try servo.step(commands: [.nan], substeps: 1) }
        #expect(servo.pendingCommands == Array(repeating: [0.4], count: k))
    }

    @Test("snapshots carry parameters and pending commands: restore brings them back bit-exactly, also into another simulation")
    func snapshotRestore() throws {
        let model = try loadRobot("arm.urdf")
        var settings = WorldSettings()
        settings.solver = .exact
        func make() throws -> RobotSimulation { try RobotSimulation(model: model, settings: settings, base: .fixed) }
        let a = try make(), reference = try make(), other = try make()
        let q0 = [0, -0.3, 0, -2, 0, 1.6, 0.7]
        var rng = SeededRNG(seed: 9)
        let commands = (0..<300).map { _ in (0..<7).map { _ in rng.uniform(-15, 15) } }
        for sim in [a, reference] { sim.setState(q: q0) }
        _ = try run(a, steps: 50, substeps: 4) { commands[$0] }
        _ = try run(reference, steps: 50, substeps: 4) { commands[$0] }
        let snap = a.snapshot()
        // change everything, run on
        var changed = a.nominalParameters.scalingMasses(by: 1.3)
        try changed.updateBody("link4") { $0.centerOfMass = $0.centerOfMass + Vec3(0.03, 0.01, -0.02) }
        try changed.updateJoint("joint2") { $0.damping = 1; $0.friction = 0.3; $0.strength = 0.8 }
        changed.latency = 2
        changed.gravity = Vec3(0.3, -0.2, -9.5)
        try a.apply(changed)
        _ = try run(a, steps: 30, substeps: 4) { commands[50 + $0] }
        let changedSnap = a.snapshot()
        #expect(changedSnap.pendingCommands == [commands[78], commands[79]])
        // back: the parameters read back are the nominal ones, and the run continues exactly as one that never changed
        a.restore(snap)
        #expect(a.parameters == a.nominalParameters)
        #expect(a.snapshot() == snap)
        let continued = try run(a, steps: 100, substeps: 4) { commands[50 + $0] }
        let expected = try run(reference, steps: 100, substeps: 4) { commands[50 + $0] }
        #expect(continued == expected)
        // a snapshot taken under other parameters brings them, and its pending commands, into another simulation
        a.restore(changedSnap)
        other.restore(changedSnap)
        #expect(other.parameters == changed)
        #expect(other.pendingCommands == [commands[78], commands[79]])
        let first = try run(a, steps: 60, substeps: 4) { commands[200 + $0] }
        let second = try run(other, steps: 60, substeps: 4) { commands[200 + $0] }
        #expect(first == second)
    }

    @Test("bad parameters are refused with an error naming the link, joint or setting, and nothing changes")
    func badParameters() throws {
        let arm = try RobotSimulation(model: loadRobot("arm.urdf"), base: .fixed)
        let quadruped = try RobotSimulation(model: loadRobot("quadruped.urdf"), base: .floating, basePose: Pose(position: Vec3(0, 0, 0.4)),
                                            actuators: Array(repeating: .position(kp: 40, kd: 1), count: 12))
        typealias Case = (sim: RobotSimulation, change: (inout PhysicsParameters) throws -> Void, expected: String)
        let cases: [Case] = [
            (arm, { try $0.updateBody("link3") { $0.mass = -1 } }, "link 'link3': mass must be positive and finite, got -1.0 kg"),
            (arm, { try $0.updateBody("link3") { $0.mass = .nan } }, "link 'link3': mass must be positive"),
            (arm, { try $0.updateBody("link5") { $0.inertia = .diagonal(Vec3(0.1, 0.1, -0.01)) } }, "link 'link5': inertia must be positive definite"),
            (arm, { try $0.updateBody("link5") { $0.inertia = Mat3.symmetric(xx: 1, xy: 2, xz: 0, yy: 1, yz: 0, zz: 1) } }, "link 'link5': inertia must be positive definite"),
            (arm, { try $0.updateBody("link5") { $0.inertia = Mat3(Vec3(1, 0.5, 0), Vec3(0, 1, 0), Vec3(0, 0, 1)) } }, "link 'link5': inertia must be symmetric"),
            (arm, { try $0.updateBody("link6") { $0.centerOfMass = Vec3(0, .infinity, 0) } }, "link 'link6': centre of mass must be finite"),
            (arm, { try $0.updateJoint("joint2") { $0.damping = -0.1 } }, "joint 'joint2': damping must be non-negative"),
            (arm, { try $0.updateJoint("joint4") { $0.friction = .nan } }, "joint 'joint4': friction must be non-negative"),
            (arm, { try $0.updateJoint("joint7") { $0.strength = -1 } }, "joint 'joint7': strength must be non-negative"),
            (arm, { try $0.updateJoint("joint1") { $0.gains = .init(kp: 10, kd: 1) } }, "joint 'joint1': is torque-controlled"),
            (quadruped, { try $0.updateJoint("FR_hip_joint") { $0.gains = nil } }, "joint 'FR_hip_joint': is position-controlled"),
            (quadruped, { try $0.updateJoint("FL_calf_joint") { $0.gains = .init(kp: -5, kd: 1) } }, "joint 'FL_calf_joint': kp must be non-negative"),
            (arm, { $0.bodies[0].name = "link0" }, "link 'link0': is welded to the world"),
            (quadruped, { $0.bodies[4].name = "FR_foot" }, "link 'FR_foot': is merged by fixed joints into body 'FR_calf'"),
            (arm, { $0.bodies[0].name = "nope" }, "link 'nope': no such link in robot"),
            (arm, { $0.bodies.removeLast() }, "link 'link7': missing"),
            (arm, { $0.joints[2].name = "hand_fixed" }, "joint 'hand_fixed': is not an actuated joint"),
            (arm, { $0.joints.removeFirst() }, "joint 'joint1': missing"),
            (arm, { $0.bodies.append($0.bodies[0]) }, "link 'link1': given twice"),
            (arm, { $0.latency = -1 }, "latency: must be 0…1000 control steps, got -1"),
            (arm, { $0.latency = 5000 }, "latency: must be 0…1000"),
            (arm, { $0.groundFriction = -0.5 }, "ground friction: must be non-negative"),
            (arm, { $0.groundRestitution = 1.5 }, "ground restitution: must be within 0…1"),
            (arm, { $0.gravity = Vec3(0, 0, .nan) }, "gravity: must be finite"),
        ]
        for c in cases {
            var p = c.sim.nominalParameters
            // a valid change first, so a partial application would show
            p.gravity = Vec3(0, 0, -5)
            try c.change(&p)
            #expect { try c.sim.apply(p) } throws: { error in
                let text = "\(error)"
                let ok = error is PhysicsParametersError && text.contains(c.expected)
                if !ok { Issue.record("expected '\(c.expected)', got '\(text)'") }
                return ok
            }
            #expect(c.sim.parameters == c.sim.nominalParameters)
        }
        var p = arm.nominalParameters
        #expect(throws: PhysicsParametersError.self) { try p.updateBody("hand") { $0.mass = 1 } }   // merged into link7
        #expect(throws: PhysicsParametersError.self) { try p.updateJoint("nope") { $0.damping = 1 } }
    }
}
