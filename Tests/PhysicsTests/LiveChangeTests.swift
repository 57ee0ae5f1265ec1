import ControlCore
import Foundation
import Testing
@testable import Physics

@Suite("Changing a live world: masses, actuators, joint frames, geometry offsets")
struct LiveChangeTests {
    @Test("mass and actuator changes read back exactly; a servo switched on holds its target, switched off the joint's friction holds again",
          arguments: ConstraintSolver.allCases)
    func massAndActuator(solver: ConstraintSolver) throws {
        let world = try frictionWheel(inertia: 0.01, friction: 0.2, omega: 0, solver: solver)
        try world.setMass(body: 0, mass: 2, inertia: .diagonal(Vec3(0.02, 0.02, 0.02)))
        #expect(world.mass(body: 0) == (2, .diagonal(Vec3(0.02, 0.02, 0.02))))
        world.setActuator(0, mode: .position(kp: 50, kd: 2), strength: 1.5)
        #expect(world.actuator(0) == (.position(kp: 50, kd: 2), 1.5))
        for _ in 0..<2000 { try world.step(commands: [0.7]) }
        // friction 0.2 N·m against the servo's 1.5 · 50 N·m/rad: within 0.2 / 75 rad of the target
        #expect(abs(world.jointStates().positions[0] - 0.7) < 0.2 / 75 + 1e-4)
        world.setActuator(0, mode: .torque, strength: 1)
        let q = world.jointStates().positions[0]
        for _ in 0..<500 { try world.step(commands: [0.15]) }   // below the friction: stays
        #expect(abs(world.jointStates().positions[0] - q) < 1e-4)
        for _ in 0..<500 { try world.step(commands: [0.5]) }    // above: (0.5 − 0.2) / 0.02 rad/s² for 0.5 s
        #expect(abs(world.jointStates().velocities[0] - 7.5) < 0.1, "\(world.jointStates().velocities[0]) rad/s")
        world.setJointDynamics(joint: 0, damping: 0.3, friction: 0.1)
        #expect(world.jointDynamics(joint: 0) == (0.3, 0.1))
    }

    @Test("re-declaring a joint's frame at its build pose leaves the world stepping bit for bit as before")
    func resetJointFrame() throws {
        let reference = try pendulumWorld(angle: 0.4)
        let world = try pendulumWorld(angle: 0)
        world.resetJointFrame(joint: 0, anchor: Vec3(0, 0, 2), axis: .unitY)
        let q = Quat(axis: .unitY, angle: 0.4)
        world.setState(bodies: [(Pose(position: Vec3(0, 0, 2) + q.rotate(Vec3(0, 0, -1)), orientation: q), .zero, .zero)],
                       jointPositions: [0.4])
        for _ in 0..<500 { try world.step(commands: []); try reference.step(commands: []) }
        #expect(world.snapshot() == reference.snapshot())
    }

    @Test("a collision shape moved within its body: the body rests on the shape's new offset")
    func geometryOffset() throws {
        var settings = WorldSettings()
        settings.solver = .exact
        let body = BodyDescription(name: "ball", pose: Pose(position: Vec3(0, 0, 0.3)), mass: 1, inertia: .diagonal(Vec3(0.004, 0.004, 0.004)),
                                   geoms: [GeomDescription(shape: .sphere(radius: 0.1))])
        let world = try PhysicsWorld(WorldDescription(settings: settings, bodies: [body]))
        // 0.25 m below the COM: the shape now reaches below the ground, where its old bounding sphere did not
        world.setGeomPose(body: 0, index: 0, pose: Pose(position: Vec3(0, 0, -0.25)))
        #expect(world.description.bodies[0].geoms[0].pose.position == Vec3(0, 0, -0.25))
        for _ in 0..<1500 { try world.step(commands: []) }
        let z = world.bodyPose(0).position.z
        #expect(abs(z - 0.35) < 2e-3, "COM at \(z) m, expected 0.1 + 0.25")
    }
}
