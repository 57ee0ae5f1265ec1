import Foundation
import Testing
@testable import ControlCore

@Suite("Math, random numbers, spaces")
struct ControlCoreTests {
    @Test("URDF rpy → quaternion → rpy round trip, and rotation matrix agrees with rotate()")
    func rpyRoundTrip() {
        let q = Quat(roll: 0.3, pitch: -0.4, yaw: 1.2)
        let rpy = q.rollPitchYaw
        #expect(abs(rpy.x - 0.3) < 1e-12 && abs(rpy.y + 0.4) < 1e-12 && abs(rpy.z - 1.2) < 1e-12)
        let v = Vec3(0.2, -1.0, 0.5)
        #expect(((q.matrix * v) - q.rotate(v)).norm < 1e-12)
        #expect((Quat(matrix: q.matrix).rotate(v) - q.rotate(v)).norm < 1e-12)
    }

    @Test("pose composition and inverse")
    func poses() {
        let a = Pose(position: Vec3(1, 2, 3), orientation: Quat(axis: .unitZ, angle: 0.7))
        let b = Pose(position: Vec3(-0.5, 0, 0.2), orientation: Quat(axis: .unitX, angle: -0.3))
        let p = Vec3(0.1, 0.2, 0.3)
        #expect((a.compose(b).transform(p) - a.transform(b.transform(p))).norm < 1e-12)
        #expect((a.inverse.transform(a.transform(p)) - p).norm < 1e-12)
    }

    @Test("symmetric eigenvalues of a rotated diagonal matrix")
    func eigenvalues() {
        let r = Quat(roll: 0.2, pitch: 0.5, yaw: -0.9).matrix
        let m = r * Mat3.diagonal(Vec3(1, 2, 5)) * r.transposed
        let e = m.symmetricEigenvalues
        #expect(abs(e[0] - 1) < 1e-9 && abs(e[1] - 2) < 1e-9 && abs(e[2] - 5) < 1e-9)
    }

    @Test("the seeded generator is reproducible, uniform in [0, 1), and normals have unit variance")
    func rng() {
        var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        var r = SeededRNG(seed: 1)
        let u = (0..<100_000).map { _ in r.uniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(u.reduce(0, +) / 1e5 - 0.5) < 0.01)
        let n = (0..<100_000).map { _ in r.normal() }
        let mean = n.reduce(0, +) / 1e5
        let variance = n.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1e5
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
    }

    @Test("box spaces clip and contain")
    func spaces() {
        let s = BoxSpace(dimension: 3, bound: 1)
        #expect(s.clip([2, -3, 0.5]) == [1, -1, 0.5])
        #expect(s.contains([0, 0, 0]) && !s.contains([0, 2, 0]) && !s.contains([0, 0]))
    }
}
