import Foundation
import Testing

/// Runs the built `mbc` executable (the test target depends on it, so it is built first) in the package root.
func mbc(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try mbc(arguments, in: packageRoot)
}

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The last line of stdout parsed as a JSON object.
func lastJSON(_ stdout: String) throws -> [String: Any] {
    let line = try #require(stdout.split(separator: "\n").last)
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-cli-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("mbc end to end", .serialized)
struct MBCTests {
    @Test("mbc info prints the quadruped's tree and a JSON summary")
    func info() throws {
        let r = try mbc(["info", "robots/quadruped.urdf", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("FR_calf_joint"))
        let j = try lastJSON(r.stdout)
        #expect(j["dof"] as? Int == 12)
        #expect(abs((j["total_mass"] as? Double ?? 0) - 12.453) < 0.01)
        // the nominal physical parameters: one body per simulated body, masses summing to the total
        let p = j["parameters"] as? [String: Any]
        let bodies = p?["bodies"] as? [[String: Any]] ?? []
        #expect(bodies.count == 13 && (p?["joints"] as? [Any])?.count == 12)
        #expect(abs(bodies.compactMap { $0["mass"] as? Double }.reduce(0, +) - 12.453) < 0.01)
    }

    @Test("mbc info on a malformed URDF names the file and line")
    func infoBadURDF() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.urdf")
        try "<robot name=\"r\">\n  <link name=\"a\"/>\n  <joint name=\"j\" type=\"revolute\">\n    <parent link=\"a\"/>\n    <child link=\"missing\"/>\n  </joint>\n</robot>\n".write(to: file, atomically: true, encoding: .utf8)
        let r = try mbc(["info", file.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.urdf:3") || r.stderr.contains("bad.urdf:5"), "\(r.stderr)")
    }

    @Test("bench commands name a missing peers Python or peers script before measuring anything")
    func benchPeersValidation() throws {
        for command in ["sim", "dynamics", "plan"] {
            let noPython = try mbc(["bench", command, "--peers-python", "/nonexistent/python"])
            #expect(noPython.status != 0)
            #expect(noPython.stderr.contains("/nonexistent/python"), "\(command): \(noPython.stderr)")
            let noScript = try mbc(["bench", command, "--peers-python", "/bin/sh", "--peers-script", "/nonexistent/peer.py"])
            #expect(noScript.status != 0)
            #expect(noScript.stderr.contains("/nonexistent/peer.py"), "\(command): \(noScript.stderr)")
        }
    }

    @Test("simulate quadruped-walk records the log format; replay reads it back")
    func simulateRecordReplay() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("q.csv").path
        let s = try mbc(["simulate", "--env", "quadruped-walk", "--policy", "random", "--steps", "200", "--seed", "1", "--record", log, "--json",
                         "--run-dir", dir.appendingPathComponent("run").path])
        #expect(s.status == 0, "\(s.stderr)")
        let summary = try lastJSON(s.stdout)
        #expect(summary["steps"] as? Int == 200)
        #expect(summary["mean_forward_speed"] != nil)
        let header = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        for column in ["episode_index", "frame_index", "timestamp", "joint_state.position.FR_hip_joint",
                       "joint_state.effort.RL_calf_joint", "base.orientation.w", "action.FL_thigh_joint",
                       "observation.state.45", "next.reward", "next.cost", "next.done"] {
            #expect(header.contains(column), "missing \(column)")
        }
        let r = try mbc(["replay", "--robot", "robots/quadruped.urdf", "--data", log, "--reset-every", "10", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let replay = try lastJSON(r.stdout)
        let rmse = try #require(replay["position_rmse"] as? [String: Double])
        #expect(rmse.count == 12)
        #expect(rmse.values.allSatisfy { $0.isFinite })
    }

    @Test("simulate arm-reach with a zero policy, and any URDF with --robot")
    func simulateArmAndRobot() throws {
        let a = try mbc(["simulate", "--env", "arm-reach", "--policy", "zero", "--steps", "50", "--json"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(try lastJSON(a.stdout)["steps"] as? Int == 50)
        let g = try mbc(["simulate", "--robot", "robots/cartpole.urdf", "--base", "fixed", "--policy", "random", "--steps", "100", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
        #expect(try lastJSON(g.stdout)["diverged"] as? Int == 0)
    }

    @Test("a YAML config overrides defaults; an unknown key names the file and line")
    func configErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.yaml")
        try "commandedSpeed: 0.3\nmaxEpisodeSteps: 20\n".write(to: good, atomically: true, encoding: .utf8)
        let ok = try mbc(["simulate", "--env", "quadruped-walk", "--config", good.path, "--episodes", "1", "--policy", "zero", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try lastJSON(ok.stdout)["steps"] as? Int == 20)
        let bad = dir.appendingPathComponent("bad.yaml")
        try "commandedSpeed: 0.3\ncomandedSped: 1\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try mbc(["simulate", "--env", "quadruped-walk", "--config", bad.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.yaml:2") && r.stderr.contains("comandedSped"), "\(r.stderr)")
    }

    @Test("the shipped MPC configs load (every key known, every value of the right type)")
    func mpcConfigs() throws {
        for file in ["configs/mpc-arm.yaml", "configs/mpc-quadruped.yaml"] {
            let r = try mbc(["mpc", "--config", file, "--episodes", "0", "--json"])
            #expect(r.status == 0, "\(file): \(r.stderr)")
            #expect(try lastJSON(r.stdout)["episodes"] as? Int == 0)
        }
        // configs/pets-arm.yaml: every key known; zero iterations run only the random episode
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pets = try mbc(["pets", "--config", "configs/pets-arm.yaml", "--output", dir.appendingPathComponent("p").path,
                            "--iterations", "0", "--evaluation-episodes", "0", "--json"])
        #expect(pets.status == 0, "\(pets.stderr)")
        #expect((try lastJSON(pets.stdout)["curve"] as? [Any])?.count == 1)
        // configs/dynamics.yaml is read before the data: a missing data file must be the only complaint
        let fit = try mbc(["fit-dynamics", "--config", "configs/dynamics.yaml", "--data", "no-such-log.csv"])
        #expect(fit.status != 0)
        #expect(fit.stderr.contains("no-such-log.csv") && !fit.stderr.contains("dynamics.yaml"), "\(fit.stderr)")
    }

    @Test("the shipped configs load and run")
    func shippedConfigs() throws {
        for (file, env) in [("configs/quadruped-walk.yaml", "quadruped-walk"), ("configs/arm-reach.yaml", "arm-reach")] {
            let r = try mbc(["simulate", "--env", env, "--config", file, "--steps", "5", "--policy", "zero", "--json"])
            #expect(r.status == 0, "\(file): \(r.stderr)")
        }
    }
}

@Suite("mbc fit-dynamics / eval-dynamics", .serialized)
struct DynamicsCLITests {
    @Test("record arm data, fit a small ensemble, evaluate it: the JSON summary has the documented keys")
    func fitAndEvaluate() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = dir.appendingPathComponent("train.csv").path, test = dir.appendingPathComponent("test.csv").path
        let model = dir.appendingPathComponent("model.safetensors").path
        let config = dir.appendingPathComponent("small.yaml")
        try "members: 3\nelites: 2\nhiddenLayers: [32, 32]\nweightDecay: [0.000025, 0.00005, 0.0001]\nmaxEpochs: 3\n".write(to: config, atomically: true, encoding: .utf8)
        #expect(try mbc(["simulate", "--env", "arm-reach", "--episodes", "6", "--record", train, "--run-dir", dir.appendingPathComponent("r1").path]).status == 0)
        #expect(try mbc(["simulate", "--env", "arm-reach", "--episodes", "2", "--seed", "77", "--record", test, "--run-dir", dir.appendingPathComponent("r2").path]).status == 0)
        let fit = try mbc(["fit-dynamics", "--data", train, "--config", config.path, "--out", model, "--json", "--run-dir", dir.appendingPathComponent("r3").path])
        #expect(fit.status == 0, "\(fit.stderr)")
        let f = try lastJSON(fit.stdout)
        #expect((f["elites"] as? [Int])?.count == 2)
        #expect(f["stopped_by"] as? String == "max_epochs" && f["epochs"] as? Int == 3, "the config's cap of 3 epochs ended training")
        #expect(fit.stdout.contains("training stopped after 3 epochs by the epoch cap (maxEpochs 3)"))
        #expect(FileManager.default.fileExists(atPath: model))
        let eval = try mbc(["eval-dynamics", "--model", model, "--data", test, "--horizon", "5", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let e = try lastJSON(eval.stdout)
        #expect((e["one_step_mse"] as? Double)?.isFinite == true)
        #expect((e["one_step_nll"] as? Double)?.isFinite == true)
        #expect((e["open_loop_rmse"] as? [Double])?.count == 5)
        #expect((e["calibration"] as? [String: Double])?["2sigma"] != nil)
    }

    @Test("eval-dynamics on a log that lacks the model's columns names the missing column")
    func evalWrongLog() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let armLog = dir.appendingPathComponent("arm.csv").path, quadLog = dir.appendingPathComponent("quad.csv").path
        let model = dir.appendingPathComponent("m.safetensors").path
        let config = dir.appendingPathComponent("tiny.yaml")
        try "members: 2\nelites: 1\nhiddenLayers: [8]\nweightDecay: [0.00005, 0.0001]\nmaxEpochs: 1\n".write(to: config, atomically: true, encoding: .utf8)
        #expect(try mbc(["simulate", "--env", "arm-reach", "--episodes", "3", "--record", armLog, "--run-dir", dir.appendingPathComponent("r1").path]).status == 0)
        #expect(try mbc(["simulate", "--env", "quadruped-walk", "--steps", "30", "--record", quadLog, "--run-dir", dir.appendingPathComponent("r2").path]).status == 0)
        #expect(try mbc(["fit-dynamics", "--data", armLog, "--config", config.path, "--out", model, "--run-dir", dir.appendingPathComponent("r3").path]).status == 0)
        let r = try mbc(["eval-dynamics", "--model", model, "--data", quadLog])
        #expect(r.status != 0)
        #expect(r.stderr.contains("joint_state.position.joint"), "\(r.stderr)")
    }

    @Test("mbc pets runs a tiny loop with metrics and checkpoints, refuses to overwrite, resumes; mpc --model plans on its ensemble")
    func petsAndModelMPC() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let config = dir.appendingPathComponent("pets.yaml")
        try """
        randomEpisodes: 1
        iterations: 1
        maxSteps: 8
        particles: 4
        evaluationEpisodes: 1
        arm:
          controlMode: position
        dynamics:
          members: 2
          elites: 2
          hiddenLayers: [16]
          weightDecay: [0.00005, 0.0001]
          maxEpochs: 3
        planner:
          horizon: 4
          cem:
            populationSize: 12
            eliteCount: 3
            iterations: 2
        """.write(to: config, atomically: true, encoding: .utf8)
        let first = try mbc(["pets", "--config", config.path, "--output", out, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let j = try lastJSON(first.stdout)
        for key in ["episodes", "success_rate", "mean_return", "falls", "safety_violations", "planning_ms_mean", "planning_ms_p95", "curve"] {
            #expect(j[key] != nil, "missing \(key)")
        }
        #expect((j["curve"] as? [Any])?.count == 2)
        let csv = try String(contentsOfFile: out + "/metrics/metrics.csv", encoding: .utf8)
        #expect(csv.hasPrefix("step,wall_time,") && csv.split(separator: "\n").count == 3)
        #expect(FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        // an existing run is not overwritten; --resume continues it
        let again = try mbc(["pets", "--config", config.path, "--output", out])
        #expect(again.status != 0 && again.stderr.contains("--resume"), "\(again.stderr)")
        let resumed = try mbc(["pets", "--config", config.path, "--output", out, "--resume", "--iterations", "2",
                               "--evaluation-episodes", "0", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect((try lastJSON(resumed.stdout)["curve"] as? [Any])?.count == 3)
        // the learned model drives MPC from the command line (it was trained in position mode: say so)
        let armConfig = dir.appendingPathComponent("mpc.yaml")
        try "env: arm-reach\narm:\n  controlMode: position\nmaxSteps: 3\nparticles: 4\nplanner:\n  horizon: 3\n  cem:\n    populationSize: 8\n    eliteCount: 2\n    iterations: 1\n"
            .write(to: armConfig, atomically: true, encoding: .utf8)
        let mpc = try mbc(["mpc", "--config", armConfig.path, "--model", out + "/model.safetensors", "--episodes", "1", "--json"])
        #expect(mpc.status == 0, "\(mpc.stderr)")
        let m = try lastJSON(mpc.stdout)
        #expect(m["episodes"] as? Int == 1 && (m["model"] as? String)?.hasSuffix("model.safetensors") == true)
        // the model remembers that its actions are PD targets: a torque-mode arm is refused with the reason
        let wrongMode = try mbc(["mpc", "--env", "arm-reach", "--model", out + "/model.safetensors", "--episodes", "1", "--max-steps", "1"])
        #expect(wrongMode.status != 0 && wrongMode.stderr.contains("arm.controlMode = position") && wrongMode.stderr.contains("arm.controlMode = torque"), "\(wrongMode.stderr)")
    }
}

@Suite("mbc plot")
struct PlotCommandTests {
    @Test("mbc plot draws a run's metric as SVG and reports it in JSON; a missing metric is a clear error")
    func plot() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("metrics"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "step,wall_time,episode_return\n0,1,-3\n1,2,-1\n2,3,4\n".write(to: dir.appendingPathComponent("metrics/metrics.csv"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("curve.svg").path
        let r = try mbc(["plot", dir.path, "--metric", "episode_return", "--out", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try lastJSON(r.stdout)["drawn"] as? [String] == ["episode_return"])
        #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("<svg"))
        let bad = try mbc(["plot", dir.path, "--metric", "cost", "--out", out])
        #expect(bad.status != 0 && bad.stderr.contains("no metric 'cost'"), "\(bad.stderr)")
    }
}
