import Foundation
import Testing

@Suite("mbc excite and sysid", .serialized)
struct SysidCLITests {
    /// excite logs a trajectory of the arm; sysid on it (the robot is its own URDF) keeps the damping and
    /// friction near the URDF's, writes a URDF that mbc info reads, and refuses a log without a joint.
    @Test("excite → sysid → calibrated URDF, from the command line")
    func exciteThenIdentify() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("excite.csv").path, out = dir.appendingPathComponent("arm-identified.urdf").path
        let e = try mbc(["excite", "--robot", "robots/arm.urdf", "--seconds", "20", "--rate", "250", "--record", log, "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try lastJSON(e.stdout)["rows"] as? Int == 5000)
        let s = try mbc(["sysid", "--robot", "robots/arm.urdf", "--data", log, "--out", out, "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("only in combination with others") && s.stdout.contains("joint4.damping"))
        let j = try lastJSON(s.stdout)
        #expect(j["rank"] as? Int == 57 && j["base_parameters"] as? Int == 57)
        let parameters = try #require(j["parameters"] as? [[String: Any]])
        for p in parameters where (p["name"] as? String ?? "").hasSuffix(".friction") {
            let estimate = try #require(p["estimate"] as? Double)
            #expect(abs(estimate - 0.05) < 0.01, "\(p["name"] ?? "") \(estimate)")
        }
        let info = try mbc(["info", out, "--json"])
        #expect(info.status == 0, "\(info.stderr)")

        // a log without joint3's position is refused with the column and the file
        let text = try String(contentsOfFile: log, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",").map(String.init)
        let drop = try #require(header.firstIndex(of: "joint_state.position.joint3"))
        lines = lines.prefix(200).map { line in line.split(separator: ",", omittingEmptySubsequences: false).enumerated().filter { $0.offset != drop }.map { String($0.element) }.joined(separator: ",") }
        let bad = dir.appendingPathComponent("bad.csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try mbc(["sysid", "--robot", "robots/arm.urdf", "--data", bad])
        #expect(r.status != 0)
        #expect(r.stderr.contains("joint_state.position.joint3") && r.stderr.contains("bad.csv"), "\(r.stderr)")
    }
}
