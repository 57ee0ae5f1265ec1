import ArgumentParser
import ControlCore
import Environments
import Foundation
import Physics
import Robots

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (run a release build).", subcommands: [BenchSim.self, BenchDynamics.self, BenchPlan.self, BenchSAC.self, BenchSysid.self, BenchMBPO.self])
}

/// One measured configuration.
struct SimRate {
    var name: String
    var timeStep: Double
    var substeps: Int
    var threads: Int
    var envStepsPerSecond: Double
    var physicsStepsPerSecond: Double { envStepsPerSecond * Double(substeps) }
    var simSecondsPerWallSecond: Double { physicsStepsPerSecond * timeStep }
}

struct BenchSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Physics steps/s, simulated seconds per wall second and env steps/s per environment, one thread and all cores.")
    @Option(help: "Seconds per measurement.") var seconds: Double = 3
    @Option(help: "Repetitions; the median is reported (this machine's speed varies from run to run).")
    var repeats: Int = 3
    @Option(help: "Python with mujoco and pybullet (see ../shared/peers/README.md); measures the peers in the same run.")
    var peersPython: String?
    @Option(help: "The peers' sim_rate.py.") var peersScript: String = "../shared/peers/sim_rate.py"
    @Flag(help: "Also run each MuJoCo peer (Ant, Pusher) on core 0 while ours (pin it: `taskset -c 1 mbc bench sim …`) measures the matching environment in 1-second chunks for as long as the peer runs; ratios of our median chunk to the peer, per round, and their median.")
    var concurrent = false
    @OptionGroup var common: CommonOptions

    func measure<E: RobotEnvironment>(_ make: @escaping @Sendable () throws -> E, name: String, threads: Int,
                                      duration: Double? = nil) throws -> SimRate {
        let seconds = duration ?? self.seconds
        let envs = try (0..<threads).map { _ in try make() }
        let vec = VectorEnv(envs, workers: threads)
        var rng = SeededRNG(seed: 1)
        var obs = vec.reset(seed: 1)
        _ = obs
        let dim = envs[0].actionSpace.dimension
        var steps = 0
        let start = Date()
        var actions = (0..<threads).map { _ in (0..<dim).map { _ in rng.uniform(-1, 1) } }
        while Date().timeIntervalSince(start) < seconds {
            for _ in 0..<50 {
                for i in 0..<threads { for k in 0..<dim { actions[i][k] = rng.uniform(-1, 1) } }
                let results = vec.step(actions)
                for (i, r) in results.enumerated() where r.done { _ = envs[i].reset(seed: UInt64(steps + i)) }
                steps += threads
            }
        }
        let wall = Date().timeIntervalSince(start)
        obs = []
        let sub = Int((envs[0].controlTimeStep / envs[0].simulation.world.settings.timeStep).rounded())
        return SimRate(name: name, timeStep: envs[0].simulation.world.settings.timeStep, substeps: sub, threads: threads,
                       envStepsPerSecond: Double(steps) / wall)
    }

    func validate() throws { try validatePeers(python: peersPython, script: peersScript) }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench sim`\n".data(using: .utf8)!)
        #endif
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var rates: [SimRate] = []
        func median(_ runs: [SimRate]) -> SimRate {
            var m = runs[0]
            let sorted = runs.map(\.envStepsPerSecond).sorted()
            m.envStepsPerSecond = sorted[sorted.count / 2]
            return m
        }
        var peerRuns: [[[String: Any]]] = []
        var ourRuns: [[SimRate]] = []
        // ours and the peers alternate, so both see the same machine conditions
        for _ in 0..<max(1, repeats) {
            var run: [SimRate] = []
            for threads in Set([1, cores]).sorted() {
                run.append(try measure({ try QuadrupedWalkEnv(seed: 1) }, name: "quadruped-walk", threads: threads))
                run.append(try measure({ try ArmReachEnv(seed: 1) }, name: "arm-reach", threads: threads))
            }
            ourRuns.append(run)
            if let python = peersPython { peerRuns.append(runPeers(python: python)) }
        }
        for k in ourRuns[0].indices { rates.append(median(ourRuns.map { $0[k] })) }
        say("medians of \(max(1, repeats)) runs of \(seconds) s")
        say("environment       threads  dt (s)  substeps  env steps/s  physics steps/s  sim-s per wall-s")
        for r in rates {
            say(String(format: "%-17@ %7d  %6.4f  %8d  %11.0f  %15.0f  %16.1f", r.name as NSString, r.threads, r.timeStep,
                       r.substeps, r.envStepsPerSecond, r.physicsStepsPerSecond, r.simSecondsPerWallSecond))
        }
        var peers: [[String: Any]] = []
        if peersPython != nil, let first = peerRuns.first {
            // the median steps/s of each peer measurement across the repetitions
            for (k, record) in first.enumerated() {
                var r = record
                let values = peerRuns.compactMap { $0.count > k ? $0[k]["steps_per_s"] as? Double : nil }.sorted()
                if !values.isEmpty { r["steps_per_s"] = values[values.count / 2]; r["runs"] = values }
                peers.append(r)
            }
            for p in peers { say("peer: \(p["engine"] ?? "") \(p["model"] ?? "") (\(p["loop"] ?? "")): median \(p["steps_per_s"] ?? "") steps/s at dt \(p["timestep"] ?? "")") }
            func peer(_ engine: String, _ model: String) -> Double? {
                peers.first { ($0["engine"] as? String) == engine && ($0["model"] as? String ?? "").contains(model) }?["steps_per_s"] as? Double
            }
            let quad1 = rates.first { $0.name == "quadruped-walk" && $0.threads == 1 }!
            let arm1 = rates.first { $0.name == "arm-reach" && $0.threads == 1 }!
            if let ant = peer("mujoco", "ant") { say(String(format: "quadruped physics steps/s ÷ MuJoCo Ant: %.2f×", quad1.physicsStepsPerSecond / ant)) }
            if let pusher = peer("mujoco", "pusher") { say(String(format: "arm physics steps/s ÷ MuJoCo Pusher: %.2f×", arm1.physicsStepsPerSecond / pusher)) }
            if let laikago = peer("pybullet", "laikago") { say(String(format: "quadruped physics steps/s ÷ PyBullet laikago: %.2f×", quad1.physicsStepsPerSecond / laikago)) }
        }
        var sideBySide: [[String: Any]] = []
        if concurrent, let python = peersPython {
            sideBySide = try concurrentRatios(python: python)
        }
        if common.json {
            printJSON(["concurrent": sideBySide, "results": rates.map { ["env": $0.name, "threads": $0.threads, "time_step": $0.timeStep, "substeps": $0.substeps,
                                               "env_steps_per_s": $0.envStepsPerSecond, "physics_steps_per_s": $0.physicsStepsPerSecond,
                                               "sim_seconds_per_wall_second": $0.simSecondsPerWallSecond] as [String: Any] },
                       "peers": peers])
        }
    }

    /// Ours (one thread, 1-second chunks) while a MuJoCo peer runs on core 0: the quadruped against Ant, the
    /// arm against Pusher, `repeats` rounds; each round's ratio is our median chunk over the peer's Python
    /// loop and over its C++ loop.
    func concurrentRatios(python: String) throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        let pairs: [(env: String, peer: String)] = [("quadruped-walk", "mujoco ant.xml"), ("arm-reach", "mujoco pusher_v5.xml")]
        for (env, peerName) in pairs {
            var pythonRatios: [Double] = [], cppRatios: [Double] = [], ours: [Double] = []
            for round in 0..<max(1, repeats) {
                let run = startPeer(python: python, arguments: [peersScript, "--seconds", String(seconds), "--only", peerName])
                var chunks: [Double] = []
                repeat {
                    let r = env == "arm-reach"
                        ? try measure({ try ArmReachEnv(seed: 1) }, name: env, threads: 1, duration: 1)
                        : try measure({ try QuadrupedWalkEnv(seed: 1) }, name: env, threads: 1, duration: 1)
                    chunks.append(r.physicsStepsPerSecond)
                } while run?.isRunning == true
                let records = run?.finish() ?? []
                let mine = median(chunks)
                ours.append(mine)
                func peerRate(_ loop: String) -> Double? {
                    records.first { ($0["loop"] as? String ?? "").contains(loop) }?["steps_per_s"] as? Double
                }
                guard let py = peerRate("python"), let cpp = peerRate("C++") else {
                    say("round \(round + 1): \(peerName) gave no figure")
                    continue
                }
                pythonRatios.append(mine / py); cppRatios.append(mine / cpp)
                say(String(format: "round %d, side by side: %@ %.0f physics steps/s (median of %d chunks) vs %@ %.0f (Python loop) / %.0f (C++ loop): %.2f× / %.2f×",
                           round + 1, env as NSString, mine, chunks.count, peerName as NSString, py, cpp, mine / py, mine / cpp))
            }
            guard !pythonRatios.isEmpty else { continue }
            say(String(format: "%@ ÷ %@, side by side: %.2f× (Python loop), %.2f× (C++ loop), medians of %d rounds",
                       env as NSString, peerName as NSString, median(pythonRatios), median(cppRatios), pythonRatios.count))
            out.append(["env": env, "peer": peerName, "physics_steps_per_s": median(ours),
                        "ratio_python_loop": median(pythonRatios), "ratio_cpp_loop": median(cppRatios),
                        "rounds_ratio_python_loop": pythonRatios, "rounds_ratio_cpp_loop": cppRatios])
        }
        return out
    }

    /// Runs the peers' sim_rate.py pinned to one core and parses its JSON lines.
    func runPeers(python: String) -> [[String: Any]] {
        runPeerScript(python: python, script: peersScript, arguments: ["--seconds", String(seconds)])
    }
}
