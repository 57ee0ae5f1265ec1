import ControlCore
import Foundation
import Testing
@testable import Physics

/// A point-like bob of mass `m` on a massless rod of length `l` about a hinge along y at height `h`.
func pendulumWorld(length l: Double = 1, mass m: Double = 1, bobInertia i: Double = 1e-4, angle: Double,
                   timeStep: Double = 0.001) throws -> PhysicsWorld {
    var settings = WorldSettings()
    settings.timeStep = timeStep
    settings.ground = false
    let h = 2.0
    // built hanging straight down (joint position 0), then turned to `angle` about +y
    let body = BodyDescription(name: "bob", pose: Pose(position: Vec3(0, 0, h - l)), mass: m, inertia: .diagonal(Vec3(i, i, i)))
    let joint = JointDescription(name: "hinge", kind: .hinge, parent: nil, child: 0, anchor: Vec3(0, 0, h), axis: .unitY)
    let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [body], joints: [joint]))
    let q = Quat(axis: .unitY, angle: angle)
    world.setState(bodies: [(Pose(position: Vec3(0, 0, h) + q.rotate(Vec3(0, 0, -l)), orientation: q), .zero, .zero)],
                   jointPositions: [angle])
    return world
}

/// Measures the period from successive upward zero crossings of the hinge angle.
func measurePeriod(_ world: PhysicsWorld, seconds: Double) throws -> Double {
    var crossings: [Double] = []
    var previous = world.jointStates().positions[0]
    let dt = world.settings.timeStep
    for _ in 0..<Int(seconds / dt) {
        try world.step(commands: [])
        let q = world.jointStates().positions[0]
        if previous < 0 && q >= 0 {
            // linear interpolation of the crossing time
            crossings.append(world.time - dt * q / (q - previous))
        }
        previous = q
    }
    #expect(crossings.count >= 3)
    return (crossings.last! - crossings.first!) / Double(crossings.count - 1)
}

@Suite("ODE physics through the bridge")
struct PhysicsTests {
    @Test("the hinge reads the angle set by the body pose, with the sign of the right-hand rule about the axis")
    func hingeAngleSign() throws {
        let world = try pendulumWorld(angle: 0)
        #expect(abs(world.jointStates().positions[0]) < 1e-12)
        // pose at +0.3 rad: rotation about +y takes (0,0,-1) to (-sin, 0, -cos)... build explicitly
        let h = 2.0, a = 0.3
        let q = Quat(axis: .unitY, angle: a)
        let p = Vec3(0, 0, h) + q.rotate(Vec3(0, 0, -1))
        world.setState(bodies: [(Pose(position: p, orientation: q), .zero, .zero)], jointPositions: [a])
        try world.step(commands: [])
        #expect(abs(world.jointStates().positions[0] - a) < 1e-3)
    }

    @Test("small-angle pendulum period within 1 % of 2π√((I + m l²)/(m g l))")
    func pendulumPeriod() throws {
        let (l, m, i, g) = (1.0, 1.0, 1e-4, 9.81)
        let world = try pendulumWorld(length: l, mass: m, bobInertia: i, angle: 0.05)
        let expected = 2 * Double.pi * ((i + m * l * l) / (m * g * l)).squareRoot()
        let period = try measurePeriod(world, seconds: 10)
        #expect(abs(period - expected) / expected < 0.01, "period \(period) s, expected \(expected) s")
    }

    @Test("a resting box sinks less than 1 mm into the ground")
    func boxAtRest() throws {
        var settings = WorldSettings()
        settings.timeStep = 0.002
        let box = BodyDescription(name: "box", pose: Pose(position: Vec3(0, 0, 0.1)), mass: 5,
                                  inertia: .diagonal(Vec3(1, 1, 1) * (5 * 0.08 / 12)),
                                  geoms: [GeomDescription(shape: .box(size: Vec3(0.2, 0.2, 0.2)))])
        let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [box]))
        for _ in 0..<1000 { try world.step(commands: []) }
        let z = world.bodyPose(0).position.z
        #expect(z - 0.1 > -1e-3, "sank \((0.1 - z) * 1000) mm")
        #expect(z - 0.1 < 1e-3)
        let contacts = world.contacts()
        #expect(contacts.counts[0] >= 3)
        // the contact force carries the weight
        #expect(abs(contacts.forces[0].z - 5 * 9.81) < 0.5)
    }

    /// Gravity tilted by θ about y is a slope of θ; returns how far the box slid along x in 1 s.
    func slide(theta: Double, mu: Double) throws -> Double {
        var settings = WorldSettings()
        settings.gravity = Vec3(9.81 * sin(theta), 0, -9.81 * cos(theta))
        settings.contact.friction = mu
        let box = BodyDescription(name: "box", pose: Pose(position: Vec3(0, 0, 0.05)), mass: 1,
                                  inertia: .diagonal(Vec3(1, 1, 1) * (0.02 / 12)),
                                  geoms: [GeomDescription(shape: .box(size: Vec3(0.1, 0.1, 0.1)))])
        let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [box]))
        for _ in 0..<500 { try world.step(commands: []) }
        return world.bodyPose(0).position.x
    }

    @Test("a block on a slope slides iff tan θ > μ, with acceleration g (sin θ − μ cos θ)")
    func slopeFriction() throws {
        let mu = 0.5
        let stick = try slide(theta: atan(0.45), mu: mu)
        #expect(abs(stick) < 2e-3, "slid \(stick) m below the friction angle")
        let theta = atan(0.6)
        let moved = try slide(theta: theta, mu: mu)
        let expected = 0.5 * 9.81 * (sin(theta) - mu * cos(theta)) * 1.0
        #expect(abs(moved - expected) / expected < 0.1, "slid \(moved) m, expected \(expected) m")
    }

    @Test("stepping after a restore is bit-identical to stepping the original")
    func snapshotBitExact() throws {
        let world = try pendulumWorld(angle: 1.0)
        for _ in 0..<137 { try world.step(commands: []) }
        let snap = world.snapshot()
        for _ in 0..<500 { try world.step(commands: []) }
        let a = world.snapshot()
        world.restore(snap)
        #expect(world.snapshot() == snap)
        for _ in 0..<500 { try world.step(commands: []) }
        #expect(world.snapshot() == a)
    }

    @Test("a non-finite command is refused before stepping; a diverging world is reported")
    func nonFiniteAndDivergence() throws {
        var settings = WorldSettings()
        settings.ground = false
        settings.maxAngularSpeed = 50
        let body = BodyDescription(name: "wheel", pose: Pose(position: Vec3(0, 0, 1)), mass: 1, inertia: .diagonal(Vec3(0.01, 0.01, 0.01)))
        let joint = JointDescription(name: "axle", kind: .hinge, parent: nil, child: 0, anchor: Vec3(0, 0, 1), axis: .unitZ)
        let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [body], joints: [joint],
                                                      actuators: [ActuatorDescription(joint: 0, mode: .torque)]))
        let before = world.snapshot()
        #expect(throws: SimulationError.self) { try world.step(commands: [.nan]) }
        #expect(world.snapshot() == before)
        // 100 N·m on 0.01 kg·m² spins past 50 rad/s within 0.005 s
        var failure: SimulationError?
        do { for _ in 0..<100 { try world.step(commands: [100]) } } catch { failure = error }
        guard case .diverged(let message)? = failure else { Issue.record("no divergence reported"); return }
        #expect(message.contains("angular speed"))
    }

    @Test("ODE's constraint-reordering random stream is per world, so concurrent worlds stay deterministic")
    func perWorldRandomStream() throws {
        #expect(PhysicsWorld.hasPerWorldRandomStream)
        // boxes tumbling on the ground (contacts, > 8 solver iterations, so rows are reordered randomly)
        @Sendable func run() throws -> PhysicsSnapshot {
            var settings = WorldSettings()
            settings.solverIterations = 20
            let bodies = (0..<4).map { k in
                BodyDescription(name: "box\(k)", pose: Pose(position: Vec3(Double(k) * 0.5, 0, 0.3), orientation: Quat(roll: 0.3, pitch: 0.2 * Double(k), yaw: 0)),
                                mass: 1, inertia: .diagonal(Vec3(1, 1, 1) * (0.02 / 12)),
                                geoms: [GeomDescription(shape: .box(size: Vec3(0.1, 0.1, 0.1)))])
            }
            let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: bodies), seed: 7)
            for _ in 0..<600 { try world.step(commands: []) }
            return world.snapshot()
        }
        let reference = try run()
        let results = Mutex2<[PhysicsSnapshot]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            if let s = try? run() { results.append(s) }
        }
        #expect(results.value.count == 4)
        for s in results.value { #expect(s == reference) }
    }
}

/// A tiny lock-protected box for collecting results from concurrent closures in tests.
final class Mutex2<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func append<E>(_ e: E) where T == [E] { lock.lock(); stored.append(e); lock.unlock() }
}

/// A wheel spinning about a vertical hinge (no gravity torque about the axis) with Coulomb joint friction
/// `friction` N·m, inertia `inertia` kg·m² about the axis, a torque actuator and initial rate `omega` rad/s.
/// With the exact solver, friction is an explicit torque while the joint slides faster than 2·f·dt/I and
/// the bounded row otherwise; with QuickStep always the row: both must obey Coulomb's law.
func frictionWheel(inertia: Double, friction: Double, omega: Double = 0, timeStep: Double = 0.001,
                   solver: ConstraintSolver) throws -> PhysicsWorld {
    var settings = WorldSettings()
    settings.timeStep = timeStep
    settings.solver = solver
    settings.ground = false
    let body = BodyDescription(name: "wheel", pose: Pose(position: Vec3(0, 0, 1)), mass: 1, inertia: .diagonal(Vec3(inertia, inertia, inertia)))
    let joint = JointDescription(name: "axle", kind: .hinge, parent: nil, child: 0, anchor: Vec3(0, 0, 1), axis: .unitZ, friction: friction)
    let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [body], joints: [joint],
                                                  actuators: [ActuatorDescription(joint: 0, mode: .torque)]))
    world.setState(bodies: [(Pose(position: Vec3(0, 0, 1)), .zero, Vec3(0, 0, omega))], jointPositions: [0])
    return world
}

@Suite("Joint Coulomb friction (URDF <dynamics friction>)")
struct JointFrictionTests {
    @Test("a torque below the friction holds the joint still", arguments: ConstraintSolver.allCases)
    func sticks(solver: ConstraintSolver) throws {
        let world = try frictionWheel(inertia: 0.01, friction: 0.2, solver: solver)
        for _ in 0..<1000 { try world.step(commands: [0.15]) }
        let s = world.jointStates()
        #expect(abs(s.positions[0]) < 1e-4 && abs(s.velocities[0]) < 1e-3, "q \(s.positions[0]) q̇ \(s.velocities[0])")
    }

    @Test("a torque above the friction accelerates at (τ − f)/I", arguments: ConstraintSolver.allCases)
    func slides(solver: ConstraintSolver) throws {
        let world = try frictionWheel(inertia: 0.01, friction: 0.2, solver: solver)
        for _ in 0..<500 { try world.step(commands: [0.5]) }
        let rate = world.jointStates().velocities[0]
        #expect(abs(rate - 15) < 0.15, "q̇ after 0.5 s: \(rate) (expected (0.5 − 0.2)/0.01 · 0.5 = 15)")
    }

    /// Coasting from ω₀ decelerates at f/I, stops at I·ω₀/f and then stays stopped: also for a light wheel
    /// whose one-step friction impulse f·dt/I (2 rad/s) is larger than the speeds near the stop.
    @Test("a coasting joint decelerates at f/I, stops at I·ω₀/f and stays stopped",
          arguments: [0.01, 1e-4], ConstraintSolver.allCases)
    func coastsToAStop(inertia: Double, solver: ConstraintSolver) throws {
        let f = 0.2, omega = 10.0
        let world = try frictionWheel(inertia: inertia, friction: f, omega: omega, solver: solver)
        let stop = inertia * omega / f
        let dt = world.settings.timeStep
        var atHalf = Double.nan, late: [Double] = []
        let total = Int((2 * stop + 0.2) / dt)
        for k in 1...total {
            try world.step(commands: [0])
            let rate = world.jointStates().velocities[0]
            if k == Int(0.5 * stop / dt) { atHalf = rate }
            if Double(k) * dt > stop + 0.1 { late.append(rate) }
        }
        #expect(abs(atHalf - 0.5 * omega) < 0.02 * omega + f * dt / inertia, "at half the stopping time: \(atHalf) rad/s")
        #expect(!late.isEmpty && late.allSatisfy { abs($0) < 1e-6 }, "after stopping: up to \(late.map(abs).max() ?? .nan) rad/s")
    }

    /// The sliding threshold scales with the time step (2·f·dt/I): changing the step on a live world must
    /// not leave the old one: with the old threshold (4 rad/s) and the new step's impulse f·dt/I = 20 rad/s,
    /// a light joint coasting at 30 rad/s would swing between +10 and −10 rad/s forever.
    @Test("after the time step changes on a live world, a light coasting joint still stops and stays stopped",
          arguments: ConstraintSolver.allCases)
    func timeStepChangeKeepsFrictionConsistent(solver: ConstraintSolver) throws {
        let f = 0.2, inertia = 1e-4
        let world = try frictionWheel(inertia: inertia, friction: f, omega: 30, timeStep: 0.001, solver: solver)
        var settings = world.settings
        settings.timeStep = 0.01
        world.apply(settings: settings)
        var late: [Double] = []
        for k in 1...40 {
            try world.step(commands: [0])
            if k > 20 { late.append(world.jointStates().velocities[0]) }
        }
        #expect(late.allSatisfy { abs($0) < 1e-6 }, "after stopping: up to \(late.map(abs).max() ?? .nan) rad/s")
    }

    /// The row/torque choice is made from the restored rate, so stepping across the switch after a restore
    /// (taken while sliding, restored after the joint stuck) repeats the original bit for bit.
    @Test("a restore taken while sliding steps bit-identically across the stick–slip switch", arguments: ConstraintSolver.allCases)
    func restoreAcrossTheSwitch(solver: ConstraintSolver) throws {
        let world = try frictionWheel(inertia: 0.01, friction: 0.2, omega: 3, solver: solver)
        for _ in 0..<50 { try world.step(commands: [0.05]) }
        let snapshot = world.snapshot()
        var first: [Double] = []
        for _ in 0..<300 { try world.step(commands: [0.05]); first.append(world.jointStates().velocities[0]) }
        world.restore(snapshot)
        var second: [Double] = []
        for _ in 0..<300 { try world.step(commands: [0.05]); second.append(world.jointStates().velocities[0]) }
        #expect(first == second)
        #expect(abs(first.last!) < 1e-6, "stuck at the end: \(first.last!)")
    }
}
