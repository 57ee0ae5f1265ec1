import Foundation
import Testing

@Suite("mbc view, --view and plot", .serialized)
struct ViewCLITests {
    @Test("simulate --view writes a page from the run directory's rollout.csv; mbc view names a mismatched robot's missing columns")
    func viewFromSimulate() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("arm.html").path, run = dir.appendingPathComponent("run")
        let s = try mbc(["simulate", "--env", "arm-reach", "--policy", "random", "--steps", "60", "--view", page, "--run-dir", run.path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("rollout.csv").path))
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("config.yaml").path))
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && !html.contains("https://") && !html.contains("http://"))
        #expect(s.stdout.contains("wrote \(page): 1 episode, 60 frames, 8 bodies"), "\(s.stdout)")

        let v = try mbc(["view", run.appendingPathComponent("rollout.csv").path, "--robot", "robots/arm.urdf",
                         "--out", dir.appendingPathComponent("again.html").path, "--json"])
        #expect(v.status == 0, "\(v.stderr)")
        #expect(try lastJSON(v.stdout)["frames"] as? Int == 60)

        let bad = try mbc(["view", run.appendingPathComponent("rollout.csv").path, "--robot", "robots/quadruped.urdf",
                           "--out", dir.appendingPathComponent("bad.html").path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("rollout.csv: the log does not match robot 'quadruped': missing columns joint_state.position.FR_hip_joint"), "\(bad.stderr)")
        #expect(bad.stderr.contains("the log has joint positions for [joint1, joint2, joint3, joint4, joint5, joint6, joint7]"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.html").path))
    }

    @Test("plot: an empty run directory and an unknown metric are errors naming what exists")
    func plotErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = try mbc(["plot", dir.path, "--out", dir.appendingPathComponent("p.svg").path])
        #expect(e.status != 0 && e.stderr.contains("no metrics in this run directory"), "\(e.stderr)")
        try "step,wall_time,transitions,episode_return\n0,1,100,-3\n1,2,200,-1\n".write(to: dir.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        let m = try mbc(["plot", dir.path, "--metric", "eval/return", "--out", dir.appendingPathComponent("p.svg").path])
        #expect(m.status != 0 && m.stderr.contains("no metric 'eval/return' (it has: step, wall_time, transitions, episode_return)"), "\(m.stderr)")
        let ok = try mbc(["plot", dir.path, "--out", dir.appendingPathComponent("p.svg").path])
        #expect(ok.status == 0, "\(ok.stderr)")
        let svg = try String(contentsOfFile: dir.appendingPathComponent("p.svg").path, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains(">episode_return</text>") && svg.contains(">environment steps</text>"))
    }
}
