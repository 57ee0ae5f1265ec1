import ArgumentParser
import Configuration
import Control
import ControlCore
import Dynamics
import Environments
import Foundation
import Robots
import Planning

struct PETS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pets",
        abstract: "PETS (Chua et al. 2018): collect random data, fit a probabilistic ensemble, plan with CEM on it, repeat; resumable.")
    @OptionGroup var configOptions: ConfigOptions
    @Option(name: [.customLong("run-dir"), .customLong("output")],
            help: "Run directory (the config's `output`, default out/pets-arm): config.yaml, data, model, metrics, state.json. --output is the older name.")
    var runDir: String?
    @Option(help: "Override the number of MPC iterations.") var iterations: Int?
    @Option(help: "Override the evaluation episodes after the last iteration (0: none).") var evaluationEpisodes: Int?
    @Option(help: "Domain randomization of the real episodes (a spec such as configs/randomization.yaml; the config's randomize).")
    var randomize: String?
    @Flag(help: "Continue the run found in the run directory (after a kill); refused when its config.yaml differs from this run's settings (other than iterations and the evaluation).") var resume = false
    @Flag(help: "With --resume, continue even though the settings differ from the stored config.yaml (which is replaced).") var forceConfig = false
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        eventOptions.activate()
        var cfg = try configOptions.load(PETSConfig(), extra: override("output", string: runDir, option: "run-dir")
            + override("iterations", iterations, option: "iterations") + override("evaluationEpisodes", evaluationEpisodes, option: "evaluation-episodes")
            + override("randomize", string: randomize, option: "randomize"))
        switch cfg.env {
        case .armReach: cfg.arm.robot = try configOptions.locate(cfg.arm.robot)
        case .quadrupedWalk: cfg.quadruped.robot = try configOptions.locate(cfg.quadruped.robot)
        case .pendulumSwingUp: throw ValidationError("pets runs on arm-reach and quadruped-walk; pendulum-swingup is a training task (mbc train --config configs/sac-pendulum.yaml)")
        }
        // resuming may run further (more iterations, another evaluation); anything else must match config.yaml
        try prepareRun(RunDirectory(path: cfg.output), config: cfg, defaults: PETSConfig(), command: "pets", resume: resume,
                       forceConfig: forceConfig, allowedChanges: ["iterations", "evaluationEpisodes", "evaluationSeed"], resumable: true)
        let output = cfg.output
        Interrupts.shared.install {
            "the run in \(output) keeps every completed iteration (state.json); continue it with: mbc pets --run-dir \(output) --resume"
        }
        switch cfg.env {
        case .armReach: try go(ArmReachEnv(config: cfg.arm, seed: cfg.seed), cfg)
        case .quadrupedWalk: try go(QuadrupedWalkEnv(config: cfg.quadruped, seed: cfg.seed), cfg)
        case .pendulumSwingUp: return
        }
    }

    func go<T: ModelTaskProviding>(_ env: RobotEnv<T>, _ cfg: PETSConfig) throws {
        if !cfg.randomize.isEmpty {
            env.randomization = try ConfigLoader().load(DomainRandomization(), file: try configOptions.locate(cfg.randomize))
        }
        let runner = PETSRunner(config: cfg, env: env)
        let tty = isatty(2) != 0
        func status(_ line: String) {
            FileHandle.standardError.write(((tty ? "\r\u{1B}[K" : "") + line + (tty ? "" : "\n")).data(using: .utf8)!)
        }
        runner.onFitEpoch = { r in
            Events.shared.progress(step: r.epoch, metrics: ["train_nll": r.trainLoss, "holdout_mse": r.holdoutMSE.min() ?? .nan], ["phase": "fit"])
            if tty { status(String(format: "fit: epoch %d train NLL %.4f holdout MSE %.5f", r.epoch, r.trainLoss, r.holdoutMSE.min() ?? .nan)) }
        }
        runner.onStep = { i, step, r, planning in
            Events.shared.progress(step: step, metrics: ["cost": -r.reward, "planning_ms": planning * 1000].merging(r.info) { a, _ in a },
                                   ["phase": "episode", "iteration": i])
            if step % 10 == 0 || r.done {
                var line = String(format: "iteration %d step %d cost %.3f planning %.0f ms real-time factor %.2f",
                                  i, step, -r.reward, planning * 1000, env.controlTimeStep / max(planning, 1e-9))
                if let d = r.info["distance"] { line += String(format: " distance %.3f m", d) }
                if let v = r.info["forward_velocity"] { line += String(format: " forward %.2f m/s", v) }
                status(line)
            }
        }
        runner.onIteration = { it in
            Events.shared.emit("checkpoint", ["step": it.iteration, "path": cfg.output,
                                              "metrics": ["return": it.episodeReturn, "success": it.success ? 1.0 : 0.0,
                                                          "holdout_mse": it.holdoutMSE, "data_episodes": Double(it.dataEpisodes)]])
            if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
            say(String(format: "iteration %d: %d episodes (%d transitions) return %.2f %@%@, fit %d epochs (%.1f s, holdout MSE %.4f), planning %.0f ms mean",
                       it.iteration, it.dataEpisodes, it.transitions, it.episodeReturn, it.success ? "success" : "no success",
                       it.finalDistance.map { String(format: " final distance %.3f m", $0) } ?? "",
                       it.fitEpochs, it.fitSeconds, it.holdoutMSE, it.planningMean * 1000))
        }
        let start = Date()
        let history = try runner.run(resume: resume)
        var evaluation: [EpisodeResult] = []
        if cfg.evaluationEpisodes > 0 {
            say("evaluating the final model on \(cfg.evaluationEpisodes) new targets (seeds \(cfg.evaluationSeed)…)")
            evaluation = try runner.evaluate { ep, step, r, planning in
                Events.shared.progress(step: step, metrics: ["planning_ms": planning * 1000].merging(r.info) { a, _ in a },
                                       ["phase": "evaluation", "episode": ep])
                if step % 10 == 0 || r.done || r.info["success"] == 1 {
                    var line = String(format: "evaluation episode %d step %d planning %.0f ms", ep, step, planning * 1000)
                    if let d = r.info["distance"] { line += String(format: " distance %.3f m", d) }
                    if let v = r.info["forward_velocity"] { line += String(format: " forward %.2f m/s", v) }
                    status(line)
                }
            }
            if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
            for e in evaluation {
                var line = String(format: "  seed %llu: %@, return %.2f", e.seed, e.success ? "success" : (e.fell ? "fell" : "no success"), e.totalReturn)
                if let t = e.timeToSuccess { line += String(format: ", reached at %.2f s", t) } else if let d = e.finalDistance { line += String(format: ", final distance %.3f m", d) }
                if let v = e.meanForwardSpeed { line += String(format: ", mean forward speed %.3f m/s", v) }
                if e.safetyViolations > 0 { line += ", \(e.safetyViolations) unsafe steps" }
                say(line)
            }
        }
        let successRate = evaluation.isEmpty ? Double.nan : Double(evaluation.filter(\.success).count) / Double(evaluation.count)
        let planning = (evaluation.flatMap(\.actSeconds)).sorted()
        let timing = PlanningTimeStatistics(durations: planning)
        say(String(format: "PETS: %d data episodes; evaluation success rate %.2f over %d targets; planning %.0f ms mean / %.0f ms p95; %.0f s",
                   history.last?.dataEpisodes ?? 0, successRate, evaluation.count, timing.meanSeconds * 1000, timing.p95Seconds * 1000,
                   Date().timeIntervalSince(start)))
        say("metrics: \(cfg.output)/metrics/metrics.csv and TensorBoard events (tensorboard --logdir \(cfg.output)), model: \(cfg.output)/model.safetensors")
        if common.json || eventOptions.events {
            printJSON([
                "episodes": evaluation.count, "success_rate": successRate,
                "mean_return": evaluation.isEmpty ? Double.nan : evaluation.map(\.totalReturn).reduce(0, +) / Double(evaluation.count),
                "falls": evaluation.filter(\.fell).count, "returns": evaluation.map(\.totalReturn),
                "mean_forward_speed": evaluation.compactMap(\.meanForwardSpeed).isEmpty ? Double.nan
                    : evaluation.compactMap(\.meanForwardSpeed).reduce(0, +) / Double(evaluation.compactMap(\.meanForwardSpeed).count), "safety_violations": evaluation.map(\.safetyViolations).reduce(0, +),
                "planning_ms_mean": timing.meanSeconds * 1000, "planning_ms_p95": timing.p95Seconds * 1000,
                "data_episodes": history.last?.dataEpisodes ?? 0,
                "curve": history.map { ["iteration": $0.iteration, "data_episodes": $0.dataEpisodes, "success": $0.success,
                                        "return": $0.episodeReturn, "final_distance": $0.finalDistance ?? Double.nan] as [String: Any] },
                "output": cfg.output,
            ])
        }
    }
}
