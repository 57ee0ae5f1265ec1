import Foundation
import Testing

@Suite("mbc --randomize", .serialized)
struct RandomizeCLITests {
    /// eval under a randomization spec prints a robustness table (and its rows in the JSON); simulate takes the
    /// same spec; a spec with an inverted range is refused at its key; any URDF can be randomized too.
    @Test("eval and simulate with --randomize; bad specs refused")
    func randomize() throws {
        let policy = "docs/results/sac-pendulum-seed0/policy.safetensors"
        let e = try mbc(["eval", "--policy", policy, "--episodes", "6", "--randomize", "configs/randomization.yaml", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("robustness under configs/randomization.yaml"))
        let j = try lastJSON(e.stdout)
        let rows = try #require(j["robustness"] as? [[String: Any]])
        #expect(rows.contains { $0["parameter"] as? String == "mass scale (total)" } && rows.contains { $0["parameter"] as? String == "latency (steps)" })
        #expect(rows.filter { $0["parameter"] as? String == "mass scale (total)" }.reduce(0) { $0 + ($1["episodes"] as? Int ?? 0) } == 6)

        let s = try mbc(["simulate", "--env", "pendulum-swingup", "--policy", "zero", "--episodes", "2", "--randomize", "configs/randomization.yaml", "--json"])
        #expect(s.status == 0, "\(s.stderr)")

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "groundFriction:\n  distribution: uniform\n  low: 1.5\n  high: 0.5\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let b = try mbc(["eval", "--policy", policy, "--episodes", "1", "--randomize", bad])
        #expect(b.status != 0 && b.stderr.contains("bad.yaml") && b.stderr.contains("groundFriction.low"), "\(b.stderr)")
        let run = dir.appendingPathComponent("train").path
        let t = try mbc(["train", "--config", "configs/sac-pendulum.yaml", "--steps", "300", "--set", "randomSteps=100", "--set", "sac.hidden=[16, 16]",
                         "--set", "sac.batchSize=16", "--set", "evaluationEpisodes=1", "--randomize", "configs/randomization.yaml", "--run-dir", run])
        #expect(t.status == 0 && t.stdout.contains("training episodes randomized"), "\(t.stderr)")
        let stored = try String(contentsOfFile: run + "/config.yaml", encoding: .utf8)
        #expect(stored.contains("randomize: configs/randomization.yaml"), "\(stored)")
        // pets keeps the spec in its config (for --resume); mpc plans robustly over drawn worlds
        let petsConfig = dir.appendingPathComponent("pets.yaml")
        try tinyPETS.write(to: petsConfig, atomically: true, encoding: .utf8)
        let petsRun = dir.appendingPathComponent("pets").path
        let p = try mbc(["pets", "--config", petsConfig.path, "--run-dir", petsRun, "--randomize", "configs/randomization.yaml", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(try String(contentsOfFile: petsRun + "/config.yaml", encoding: .utf8).contains("randomize: configs/randomization.yaml"))
        let m = try mbc(["mpc", "--config", "configs/mpc-arm.yaml", "--episodes", "1", "--set", "maxSteps=3", "--set", "planner.horizon=3",
                         "--set", "planner.cem.populationSize=8", "--set", "planner.cem.eliteCount=2",
                         "--randomize", "configs/randomization-arm-test.yaml", "--robust", "configs/randomization-arm-test.yaml", "--robust-worlds", "2", "--cvar", "0.5"])
        #expect(m.status == 0 && m.stdout.contains("robust over 2 worlds of configs/randomization-arm-test.yaml (CVaR 0.5)"), "\(m.stderr)")
        let r = try mbc(["simulate", "--robot", "robots/arm.urdf", "--base", "fixed", "--episodes", "1", "--steps", "5", "--randomize", "configs/randomization.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
