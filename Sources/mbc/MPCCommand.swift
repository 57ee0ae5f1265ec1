import ArgumentParser
import Configuration
import Control
import ControlCore
import Environments
import Foundation
import Dynamics
import Planning
import Recording
import Robots

struct MPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpc",
        abstract: "Model-predictive control (CEM/iCEM/MPPI) on the simulator itself (parallel rollouts) or on a learned ensemble (--model, PETS trajectory sampling).")
    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Override the environment (arm-reach, quadruped-walk).") var env: String?
    @Option(help: "Override the planner (cem, icem, mppi).") var planner: String?
    @Option(help: "Override the number of episodes.") var episodes: Int?
    @Option(help: "Override the number of rollout workers.") var workers: Int?
    @Option(help: "Plan on this learned ensemble (safetensors from fit-dynamics or pets) instead of the simulator.") var model: String?
    @Option(help: "Override particles per candidate (learned model).") var particles: Int?
    @Option(help: "Override control steps per episode.") var maxSteps: Int?
    @Option(help: "Record every step in the log format (CSV); the run directory gets config.yaml.") var record: String?
    @Option(help: "Randomize the controlled robot per episode with this spec (configs/randomization.yaml); the planner keeps the nominal model.")
    var randomize: String?
    @Option(help: "Robust MPC (simulator model): roll out every candidate in --robust-worlds worlds drawn from this spec and score it by their mean (or CVaR).")
    var robust: String?
    @Option(help: "With --robust: planning worlds (drawn once from seeds 0, 1, …).") var robustWorlds: Int = 4
    @Option(help: "With --robust: CVaR level (1: mean over the worlds; 0.25: mean of the worst quarter).") var cvar: Double = 1
    @OptionGroup var viewOptions: ViewOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        eventOptions.activate()
        Interrupts.shared.install()
        // the options are overrides of their config keys: typed, range-checked and recorded like --set
        var cfg = try configOptions.load(SimulatorMPCConfig(), extra:
            override("env", string: env, option: "env") + override("planner.kind", string: planner, option: "planner")
            + override("episodes", episodes, option: "episodes") + override("workers", workers, option: "workers")
            + override("model", string: model, option: "model") + override("particles", particles, option: "particles")
            + override("maxSteps", maxSteps, option: "max-steps"))
        switch cfg.env {
        case .armReach: cfg.arm.robot = try configOptions.locate(cfg.arm.robot)
        case .quadrupedWalk: cfg.quadruped.robot = try configOptions.locate(cfg.quadruped.robot)
        case .pendulumSwingUp: throw ValidationError("mpc runs on arm-reach and quadruped-walk; pendulum-swingup is a training task (mbc train --config configs/sac-pendulum.yaml)")
        }
        let runDirectory = runOptions.directory(command: "mpc")
        if record != nil || runOptions.runDir != nil || viewOptions.view != nil {
            try prepareRun(runDirectory, config: cfg, defaults: SimulatorMPCConfig(), command: "mpc")
        }
        let recordPath = try viewOptions.recordPath(record: record, runDirectory: runDirectory.url)
        switch cfg.env {
        case .armReach: try plan(ArmReachEnv(config: cfg.arm, seed: cfg.seed), cfg, recordPath: recordPath) { try ArmReachEnv(config: cfg.arm, seed: cfg.seed) }
        case .quadrupedWalk: try plan(QuadrupedWalkEnv(config: cfg.quadruped, seed: cfg.seed), cfg, recordPath: recordPath) { try QuadrupedWalkEnv(config: cfg.quadruped, seed: cfg.seed) }
        case .pendulumSwingUp: return
        }
    }

    /// MPC on the simulator (worker copies made by `make`), or on the learned ensemble `cfg.model` scored by the
    /// task's closed form.
    func plan<T: ModelTaskProviding>(_ env: RobotEnv<T>, _ cfg: SimulatorMPCConfig, recordPath: String?, make: () throws -> RobotEnv<T>) throws {
        let nominal = env.simulation.parameters
        if let randomize { env.randomization = try ConfigLoader().load(DomainRandomization(), file: randomize) }
        guard !cfg.model.isEmpty else {
            let rollouts = try SimulatorRollouts(workers: cfg.workers, terminationPenalty: cfg.terminationPenalty,
                                                 safetyWeight: cfg.safetyWeight, make: make)
            var describe = "simulator, \(cfg.workers) workers"
            if let robust {
                guard (1...64).contains(robustWorlds), cvar > 0, cvar <= 1 else {
                    throw ValidationError("--robust-worlds must be in 1…64 and --cvar in (0, 1]")
                }
                let spec = try ConfigLoader().load(DomainRandomization(), file: robust)
                try rollouts.plan(in: (0..<robustWorlds).map { spec.sample(nominal: nominal, seed: UInt64($0)) })
                rollouts.cvarFraction = cvar
                describe += ", robust over \(robustWorlds) worlds of \(robust) (\(cvar == 1 ? "mean" : "CVaR \(cvar)"))"
            } else if randomize != nil {
                try rollouts.plan(in: [nominal])  // the planner must not see the randomized robot's parameters
            }
            try go(env, model: .simulator(rollouts), cfg, recordPath: recordPath, describe: describe)
            return
        }
        if robust != nil { throw ValidationError("--robust plans in simulated worlds; it does not apply to a learned model (--model)") }
        let ensemble = try ProbabilisticEnsemble.load(from: URL(fileURLWithPath: cfg.model))
        // the model's data must mean what this run's commands mean (e.g. the arm's control mode)
        for (key, value) in env.task.modelProvenance.sorted(by: { $0.key < $1.key }) {
            if let trained = ensemble.provenance[key], trained != value {
                throw ValidationError("\(cfg.model) was trained on data with \(key) = \(trained), but this run has \(key) = \(value) (the model's action.<joint> columns would mean something else); set \(key): \(trained) in the config")
            }
        }
        _ = try env.modelState(names: ensemble.stateNames, observation: env.observation())  // every state column readable
        let task = try env.task.modelTask(stateNames: ensemble.stateNames, actionNames: ensemble.actionNames)
        let rollouts = try EnsembleRollouts(model: ensemble, task: task, particles: cfg.particles, propagation: cfg.propagation,
                                            maxCandidates: cfg.planner.maximumPopulation,
                                            terminationPenalty: cfg.terminationPenalty, safetyWeight: cfg.safetyWeight, seed: cfg.seed)
        try go(env, model: .ensemble(rollouts), cfg, recordPath: recordPath,
               describe: "learned ensemble \(cfg.model), \(rollouts.particles) particles \(cfg.propagation.rawValue)")
    }

    func go<E: RobotEnvironment>(_ env: E, model: MPCModel<E>, _ cfg: SimulatorMPCConfig, recordPath: String?, describe: String) throws {
        let tty = isatty(2) != 0
        let recorder = try recordPath.map { try RolloutRecorder(url: URL(fileURLWithPath: $0), env: env) }
        let episodes = try runMPC(env: env, model: model, config: cfg, recorder: recorder) { ep, step, r, planning in
            if step % 10 == 0 || r.done {
                var line = String(format: "episode %d step %d cost %.3f planning %.0f ms real-time factor %.2f",
                                  ep, step, -r.reward, planning * 1000, env.controlTimeStep / max(planning, 1e-9))
                if let v = r.info["forward_velocity"] { line += String(format: " forward %.2f m/s", v) }
                if let d = r.info["distance"] { line += String(format: " distance %.3f m", d) }
                if tty { FileHandle.standardError.write(("\r" + line).data(using: .utf8)!) } else { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
            }
            Events.shared.progress(step: step, metrics: ["cost": -r.reward, "planning_ms": planning * 1000].merging(r.info) { a, _ in a }, ["episode": ep])
        }
        if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        try recorder?.close()
        try viewOptions.write(env: env, recordPath: recordPath)
        let timing = PlanningTimeStatistics(durations: episodes.flatMap(\.actSeconds))
        let (mean, p95) = (timing.meanSeconds, timing.p95Seconds)
        let successes = episodes.filter(\.success).count
        for e in episodes {
            var line = String(format: "seed %llu: %@ in %d steps, return %.2f", e.seed, e.success ? "success" : (e.fell ? "fell" : "no success"),
                              e.steps, e.totalReturn)
            if let t = e.timeToSuccess { line += String(format: ", reached at %.2f s", t) }
            if let v = e.meanForwardSpeed { line += String(format: ", forward %.3f m/s", v) }
            if e.safetyViolations > 0 { line += ", \(e.safetyViolations) unsafe steps" }
            say(line)
        }
        say(String(format: "%d episodes: success rate %.2f, mean return %.2f, falls %d, safety violations %d, planning %.1f ms mean / %.1f ms p95 (%@, horizon %d, %@)",
                   episodes.count, Double(successes) / Double(max(episodes.count, 1)),
                   episodes.map(\.totalReturn).reduce(0, +) / Double(max(episodes.count, 1)),
                   episodes.filter(\.fell).count, episodes.map(\.safetyViolations).reduce(0, +), mean * 1000, p95 * 1000,
                   cfg.planner.kind.rawValue, cfg.planner.horizon, describe))
        if common.json || eventOptions.events {
            var o: [String: Any] = ["episodes": episodes.count, "success_rate": Double(successes) / Double(max(episodes.count, 1)),
                                    "mean_return": episodes.map(\.totalReturn).reduce(0, +) / Double(max(episodes.count, 1)),
                                    "falls": episodes.filter(\.fell).count,
                                    "safety_violations": episodes.map(\.safetyViolations).reduce(0, +),
                                    "planning_ms_mean": mean * 1000, "planning_ms_p95": p95 * 1000,
                                    "time_to_success": episodes.compactMap(\.timeToSuccess),
                                    "returns": episodes.map(\.totalReturn),
                                    "model": cfg.model.isEmpty ? "simulator" : cfg.model]
            let speeds = episodes.compactMap(\.meanForwardSpeed)
            if !speeds.isEmpty { o["mean_forward_speed"] = speeds.reduce(0, +) / Double(speeds.count) }
            printJSON(o)
        }
    }
}
