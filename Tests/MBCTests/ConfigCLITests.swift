import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `mbc` (the test target depends on it, so it is built first), started in `directory` (default:
/// the package root) with stdout and stderr piped.
func startMBC(_ arguments: [String], in directory: URL = packageRoot) throws -> (Process, Pipe, Pipe) {
    let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = testBinary.deletingLastPathComponent()
    // the .xctest bundle may be a directory on some platforms
    if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("mbc").path) { dir = dir.deletingLastPathComponent() }
    let process = Process()
    process.executableURL = dir.appendingPathComponent("mbc")
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return (process, out, err)
}

/// Runs `mbc` in `directory` to the end.
func mbc(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    let (process, out, err) = try startMBC(arguments, in: directory)
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// The one line of an error on stderr, without ArgumentParser's "Error: " prefix.
func errorLine(_ stderr: String) -> String {
    let lines = stderr.split(separator: "\n").map(String.init)
    guard lines.count == 1, let line = lines.first, line.hasPrefix("Error: ") else { return "not one error line: \(stderr)" }
    return String(line.dropFirst("Error: ".count))
}

/// Every stdout line as a JSON object.
func eventLines(_ stdout: String) throws -> [[String: Any]] {
    try stdout.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
}

/// A small PETS run (tiny ensemble and planner) for end-to-end tests.
let tinyPETS = """
    randomEpisodes: 1
    iterations: 0
    maxSteps: 8
    particles: 4
    evaluationEpisodes: 0
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

    """

@Suite("mbc configs, overrides, run directories, events", .serialized)
struct ConfigCLITests {
    @Test("each bad config is one error line naming the file and line, and a non-zero exit")
    func badConfigs() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let deep = "kp: 1\n" + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\n"
        let cases: [(String, String, [String], String)] = [
            ("episodes.yaml", "env: arm-reach\nepisodes: -3\n", ["mpc"], "episodes.yaml:2: episodes: -3 is outside [0, 1000000]"),
            ("steps.yaml", "maxSteps: -1\n", ["mpc"], "steps.yaml:1: maxSteps: -1 is outside [0, 10000000]"),
            ("horizon.yaml", "planner:\n  horizon: 1000000000\n", ["mpc"], "horizon.yaml:2: planner.horizon: 1000000000 is outside [1, 1000]"),
            ("deep.yaml", deep, ["mpc"], "deep.yaml:2: lists and mappings nest deeper than 64 levels here; configs nest a few levels"),
            ("nested.yaml", "planner:\n  cem:\n    populatonSize: 9\n", ["mpc"],
             "nested.yaml:3: unknown key 'populatonSize' in planner.cem (did you mean 'populationSize'?); known keys: eliteCount, initialVarianceFraction, iterations, minimumVarianceFraction, populationSize, smoothing"),
            ("env.yaml", "env: arm\n", ["mpc"], "env.yaml:1: env: 'arm' is not one of: quadruped-walk, arm-reach, pendulum-swingup"),
            ("mode.yaml", "controlMode: velocity\n", ["simulate", "--env", "arm-reach"], "mode.yaml:1: controlMode: 'velocity' is not one of: torque, position"),
            ("act.yaml", "activation: swish\n", ["fit-dynamics", "--data", "x.csv"], "act.yaml:1: activation: 'swish' is not one of: silu, relu, tanh, elu"),
            ("pets.yaml", "dynamics:\n  initialization: kaiming\n", ["pets"],
             "pets.yaml:2: dynamics.initialization: 'kaiming' is not one of: xavier-uniform, he-uniform, truncated-normal"),
        ]
        for (name, text, command, expected) in cases {
            let file = dir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            let r = try mbc(command + ["--config", file.path])
            #expect(r.status != 0, "\(name)")
            #expect(errorLine(r.stderr) == dir.path + "/" + expected)
        }
    }

    @Test("--set and the command's own options are typed and range-checked; the resolved config.yaml records them")
    func overrides() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad: [([String], String)] = [
            (["mpc", "--set", "planner.horizon=0"], "--set planner.horizon=0: planner.horizon: 0 is outside [1, 1000]"),
            (["mpc", "--set", "planner.horizon=2.5"], "--set planner.horizon=2.5: planner.horizon must be an integer, not '2.5'"),
            (["mpc", "--set", "planner.kind=adam"], "--set planner.kind=adam: planner.kind: 'adam' is not one of: cem, icem, mppi"),
            (["mpc", "--planner", "adam"], "--planner adam: planner.kind: 'adam' is not one of: cem, icem, mppi"),
            (["mpc", "--workers", "0"], "--workers 0: workers: 0 is outside [1, 256]"),
            (["mpc", "--set", "arm.nope=1"], "--set arm.nope=1: unknown key 'nope' in arm; known keys: controlCostWeight, controlFrequency, controlMode, endEffector, gravityCompensation, homePose, kd, kp, maxEpisodeSteps, minTargetHeight, physicsTimeStep, resetNoise, robot, solver, successRadius, targetRangeFraction, torqueScale"),
            (["pets", "--set", "iterations=-1"], "--set iterations=-1: iterations: -1 is outside [0, 100000]"),
            (["fit-dynamics", "--data", "x.csv", "--set", "maxEpochs=-5"], "--set maxEpochs=-5: maxEpochs: -5 is outside [0, 1000000]"),
            (["simulate", "--env", "quadruped-walk", "--set", "kd=0"], "--set kd=0: kd: 0 is outside (0, 100000]"),
        ]
        for (arguments, expected) in bad {
            let r = try mbc(arguments)
            #expect(r.status != 0 && errorLine(r.stderr) == expected, "\(arguments): \(r.stderr)")
        }
        let run = dir.appendingPathComponent("mpc-run").path
        let ok = try mbc(["mpc", "--config", "configs/mpc-arm.yaml", "--episodes", "1", "--seed", "7", "--set", "maxSteps=2",
                          "--set", "planner.horizon=3", "--set", "planner.cem={populationSize: 8, eliteCount: 2}", "--run-dir", run, "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("seed 7: ") && ok.stdout.contains("horizon 3"))
        let written = try String(contentsOfFile: run + "/config.yaml", encoding: .utf8)
        for line in ["\nseed: 7\n", "\nmaxSteps: 2\n", "\nepisodes: 1\n", "\n  horizon: 3\n", "\n    populationSize: 8\n", "\n    eliteCount: 2\n",
                     "\n    iterations: 3\n", "\n  homePose: [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]\n"] {
            #expect(written.contains(line), "config.yaml lacks \(line)")
        }
        // the written config reproduces the run
        let again = try mbc(["mpc", "--config", run + "/config.yaml", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let episodes = { (out: String) in out.split(separator: "\n").filter { $0.hasPrefix("seed ") } }
        #expect(episodes(again.stdout) == episodes(ok.stdout) && episodes(ok.stdout).count == 1)
        #expect(try lastJSON(again.stdout)["mean_return"] as? Double == lastJSON(ok.stdout)["mean_return"] as? Double)
        // options are checked before anything runs
        let steps = try mbc(["simulate", "--steps", "0"])
        #expect(steps.status == 64 && steps.stderr.hasPrefix("Error: --steps must be in 1…1000000000, not 0\nUsage: mbc simulate"))
        #expect(try mbc(["simulate", "--no-such-option"]).status == 64)
        #expect(try mbc(["mpc", "--config", dir.appendingPathComponent("none.yaml").path]).status == 1)
    }

    @Test("pets --resume refuses a run whose config.yaml differs, naming the keys, unless --force-config; --run-dir is the output")
    func resumeRefusesOtherSettings() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("pets.yaml")
        try tinyPETS.write(to: config, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run").path
        let first = try mbc(["pets", "--config", config.path, "--run-dir", run, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try lastJSON(first.stdout)["output"] as? String == run)
        #expect(FileManager.default.fileExists(atPath: run + "/config.yaml") && FileManager.default.fileExists(atPath: run + "/state.json"))
        let refused = try mbc(["pets", "--config", config.path, "--run-dir", run, "--resume", "--set", "planner.horizon=5", "--seed", "3"])
        #expect(refused.status != 0)
        #expect(errorLine(refused.stderr) == "\(run): this run's settings differ from its stored config.yaml at planner.horizon (4 → 5), seed (0 → 3); resume with the stored settings, or pass --force-config to continue with the new ones")
        // how far to run may change
        let further = try mbc(["pets", "--config", config.path, "--run-dir", run, "--resume", "--iterations", "1", "--json"])
        #expect(further.status == 0, "\(further.stderr)")
        #expect((try lastJSON(further.stdout)["curve"] as? [Any])?.count == 2)
        let forced = try mbc(["pets", "--config", config.path, "--run-dir", run, "--resume", "--iterations", "1", "--set", "planner.horizon=5", "--force-config"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("changed settings: planner.horizon"))
        #expect(try String(contentsOfFile: run + "/config.yaml", encoding: .utf8).contains("\n  horizon: 5\n"))
        // the config's `output:` is the run directory when --run-dir is not given
        let viaOutput = dir.appendingPathComponent("via-output").path
        try (tinyPETS + "output: \(viaOutput)\n").write(to: config, atomically: true, encoding: .utf8)
        #expect(try mbc(["pets", "--config", config.path]).status == 0)
        #expect(FileManager.default.fileExists(atPath: viaOutput + "/config.yaml"))
    }

    @Test("--events: every stdout line is a JSON object — progress with step and metrics, checkpoints, and done with the summary")
    func events() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mpc = try mbc(["mpc", "--config", "configs/mpc-arm.yaml", "--episodes", "1", "--set", "maxSteps=3", "--set", "planner.horizon=3",
                           "--set", "planner.cem.populationSize=8", "--set", "planner.cem.eliteCount=2", "--events"])
        #expect(mpc.status == 0, "\(mpc.stderr)")
        let lines = try eventLines(mpc.stdout)
        let progress = lines.filter { $0["event"] as? String == "progress" }
        #expect(progress.map { $0["step"] as? Int } == [1, 2, 3])
        #expect(progress.allSatisfy { ($0["metrics"] as? [String: Any])?["planning_ms"] is Double && ($0["metrics"] as? [String: Any])?["distance"] is Double })
        #expect(lines.last?["event"] as? String == "done" && (lines.last?["summary"] as? [String: Any])?["episodes"] as? Int == 1)
        #expect(mpc.stderr.contains("1 episodes: success rate"))  // human lines go to stderr

        let sim = try mbc(["simulate", "--env", "arm-reach", "--policy", "zero", "--steps", "250", "--events"])
        #expect(sim.status == 0, "\(sim.stderr)")
        let simLines = try eventLines(sim.stdout)
        #expect(simLines.filter { $0["event"] as? String == "progress" }.map { $0["step"] as? Int } == [100, 200])
        #expect((simLines.last?["summary"] as? [String: Any])?["steps"] as? Int == 250)

        let config = dir.appendingPathComponent("pets.yaml")
        try tinyPETS.write(to: config, atomically: true, encoding: .utf8)
        let pets = try mbc(["pets", "--config", config.path, "--run-dir", dir.appendingPathComponent("run").path, "--iterations", "1", "--events"])
        #expect(pets.status == 0, "\(pets.stderr)")
        let petsLines = try eventLines(pets.stdout)
        #expect(petsLines.filter { $0["event"] as? String == "checkpoint" }.map { $0["step"] as? Int } == [0, 1])
        #expect(Set(petsLines.compactMap { $0["phase"] as? String }) == ["fit", "episode"])
        #expect(petsLines.last?["event"] as? String == "done")
    }

    @Test("SIGTERM stops pets with a non-zero status and a resumable run; --resume finishes it")
    func interrupt() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("pets.yaml")
        try tinyPETS.write(to: config, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run").path
        let (process, out, err) = try startMBC(["pets", "--config", config.path, "--run-dir", run, "--iterations", "200", "--events"])
        // wait for the first checkpoint, then terminate
        var buffer = ""
        while !buffer.contains("\"checkpoint\"") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
        }
        process.terminate()
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143, "\(stderr)")
        #expect(stderr.contains("interrupted by SIGTERM") && stderr.contains("mbc pets --run-dir \(run) --resume"), "\(stderr)")
        let lines = try eventLines(buffer + String(decoding: rest, as: UTF8.self))
        #expect(lines.last?["event"] as? String == "interrupted")
        // the run continues from its last completed iteration
        let resumed = try mbc(["pets", "--config", config.path, "--run-dir", run, "--resume", "--iterations", "2", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(((try lastJSON(resumed.stdout))["curve"] as? [Any])?.count ?? 0 >= 3)
    }

    @Test("robot files: next to the config file, from any working directory, and a missing one lists where it looked")
    func robotFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("mine"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("robots/arm.urdf"), to: dir.appendingPathComponent("mine/arm.urdf"))
        let config = dir.appendingPathComponent("arm.yaml")
        try "robot: mine/arm.urdf\n".write(to: config, atomically: true, encoding: .utf8)
        let next = try mbc(["simulate", "--env", "arm-reach", "--config", config.path, "--steps", "5", "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        // an installed-style run from an unrelated directory finds the shipped robots (the checkout fallback)
        let elsewhere = try mbc(["simulate", "--env", "arm-reach", "--policy", "zero", "--steps", "5", "--json"], in: dir)
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        let info = try mbc(["info", "robots/quadruped.urdf", "--json"], in: dir)
        #expect(info.status == 0)
        #expect(try lastJSON(info.stdout)["dof"] as? Int == 12)
        try "robot: nowhere/arm.urdf\n".write(to: config, atomically: true, encoding: .utf8)
        let missing = try mbc(["simulate", "--env", "arm-reach", "--config", config.path, "--steps", "5"])
        #expect(missing.status != 0)
        #expect(errorLine(missing.stderr).hasPrefix("cannot find 'nowhere/arm.urdf'; looked in: \(dir.path)/nowhere/arm.urdf, \(packageRoot.standardizedFileURL.path)/nowhere/arm.urdf, "), "\(missing.stderr)")
    }

    @Test("fit-dynamics writes its model and config.yaml into the run directory by default; its --events are epochs")
    func fitRunDirectory() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("arm.csv").path
        #expect(try mbc(["simulate", "--env", "arm-reach", "--episodes", "3", "--record", log, "--run-dir", dir.appendingPathComponent("sim").path]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("sim/config.yaml").path))
        let run = dir.appendingPathComponent("fit").path
        let fit = try mbc(["fit-dynamics", "--data", log, "--config", "configs/dynamics.yaml", "--set", "members=2", "--set", "elites=1",
                           "--set", "hiddenLayers=[8]", "--set", "weightDecay=[0.00005, 0.0001]", "--set", "maxEpochs=1", "--seed", "4",
                           "--run-dir", run, "--events"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let lines = try eventLines(fit.stdout)
        #expect(lines.filter { $0["event"] as? String == "progress" }.map { $0["step"] as? Int } == [1])
        #expect((lines.first?["metrics"] as? [String: Any])?["train_nll"] is Double)
        #expect((lines.last?["summary"] as? [String: Any])?["out"] as? String == run + "/model.safetensors")
        #expect(FileManager.default.fileExists(atPath: run + "/model.safetensors"))
        #expect(try String(contentsOfFile: run + "/config.yaml", encoding: .utf8).contains("\nseed: 4\n"))
    }
}
