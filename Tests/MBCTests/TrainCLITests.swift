import Datasets
import Foundation
import Testing

/// `mbc train`, `mbc eval` and `mbc simulate --policy` from the command line, on a tiny pendulum run.
@Suite("mbc train / eval", .serialized)
struct TrainCLITests {
    static let tiny = ["--set", "env=pendulum-swingup", "--set", "totalSteps=600", "--set", "randomSteps=200",
                       "--set", "sac.hidden=[16,16]", "--set", "sac.batchSize=32", "--set", "evaluationEpisodes=1",
                       "--set", "evaluationInterval=0", "--set", "logInterval=200", "--set", "checkpointInterval=200"]

    @Test("train writes a run directory and resumes further; eval and simulate run its policy and refuse a mismatched one")
    func trainEvalSimulate() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run").path
        let t = try mbc(["train"] + Self.tiny + ["--run-dir", run, "--json"])
        #expect(t.status == 0, "\(t.stderr)")
        let summary = try lastJSON(t.stdout)
        #expect(summary["env_steps"] as? Int == 600 && summary["algorithm"] as? String == "sac")
        for file in ["config.yaml", "checkpoint.safetensors", "policy.safetensors", "policy-best.safetensors", "metrics/metrics.csv"] {
            #expect(FileManager.default.fileExists(atPath: "\(run)/\(file)"), "missing \(file)")
        }
        let header = try String(contentsOfFile: "\(run)/metrics/metrics.csv", encoding: .utf8).split(separator: "\n").first ?? ""
        for tag in ["train/episode_return", "train/violations_total", "lambda", "alpha", "loss/critic", "eval/return", "time/updates_per_second"] {
            #expect(header.contains(tag), "metrics.csv lacks \(tag)")
        }
        // a new run in the same directory is refused; --resume continues it to a larger budget
        #expect(try mbc(["train"] + Self.tiny + ["--run-dir", run]).status != 0)
        let r = try mbc(["train", "--resume", run, "--steps", "800", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try lastJSON(r.stdout)["env_steps"] as? Int == 800)

        let policy = "\(run)/policy.safetensors"
        let e = try mbc(["eval", "--policy", policy, "--episodes", "2", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let ej = try lastJSON(e.stdout)
        #expect(ej["episodes"] as? Int == 2 && ej["env"] as? String == "pendulum-swingup")
        let s = try mbc(["simulate", "--env", "pendulum-swingup", "--policy", policy, "--steps", "50", "--json"])
        #expect(s.status == 0, "\(s.stderr)")

        let wrongEnv = try mbc(["eval", "--policy", policy, "--env", "quadruped-walk"])
        #expect(wrongEnv.status != 0)
        #expect(errorLine(wrongEnv.stderr).contains("it was trained on pendulum-swingup, not quadruped-walk"), "\(wrongEnv.stderr)")
        // the same weights with other observation names
        let file = try SafetensorsFile.read(url: URL(fileURLWithPath: policy))
        var metadata = file.metadata
        metadata["observation_names"] = #"["cos","sin_angle","joint_state.velocity.hinge"]"#
        let renamed = dir.appendingPathComponent("renamed.safetensors")
        try SafetensorsFile.write(floats: try file.tensorNames.map { ($0, try file.shape($0), try file.floats($0)) }, metadata: metadata, to: renamed)
        let wrongNames = try mbc(["eval", "--policy", renamed.path])
        #expect(wrongNames.status != 0)
        #expect(errorLine(wrongNames.stderr).contains("observation 0 is cos in the policy and cos_angle in the environment"), "\(wrongNames.stderr)")
        let notAPolicy = try mbc(["eval", "--policy", "\(run)/checkpoint.safetensors"])
        #expect(notAPolicy.status != 0 && errorLine(notAPolicy.stderr).contains("not a policy file"), "\(notAPolicy.stderr)")
    }

    @Test("a shield that would release below its trigger, or a recovery action of the wrong size, is refused by name")
    func shieldSettingsAreChecked() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let crossed = try mbc(["train"] + Self.tiny + ["--set", "shield.enabled=true", "--set", "shield.triggerMargin=0.3",
                                                       "--set", "shield.releaseMargin=0.2", "--run-dir", dir.appendingPathComponent("a").path])
        #expect(crossed.status != 0)
        #expect(errorLine(crossed.stderr).contains("shield.releaseMargin") && errorLine(crossed.stderr).contains("at least triggerMargin"), "\(crossed.stderr)")
        let size = try mbc(["train"] + Self.tiny + ["--set", "shield.enabled=true", "--set", "shield.recoveryAction=[0,0]",
                                                    "--run-dir", dir.appendingPathComponent("b").path])
        #expect(size.status != 0)
        #expect(errorLine(size.stderr).contains("shield.recoveryAction has 2 components; pendulum-swingup has 1 actions"), "\(size.stderr)")
    }
}
