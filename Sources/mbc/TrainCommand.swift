import ArgumentParser
import Configuration
import Control
import ControlCore
import Environments
import Foundation
import Learning
import Robots

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a policy with SAC (Haarnoja et al. 2018), SAC-Lagrangian (Ha et al. 2020), MBPO (Janner et al. 2019) or safe MBPO; resumable after a kill.",
        discussion: """
        Writes the run directory: config.yaml, metrics/metrics.csv and TensorBoard events, checkpoint.safetensors \
        (everything needed to continue) and policy.safetensors (for mbc eval / mbc simulate --policy).
        Examples:
          mbc train --config configs/sac-quadruped.yaml
          mbc train --config configs/sac-lagrangian-quadruped.yaml --seed 2 --run-dir runs/saclag-2
          mbc train --config configs/mbpo-quadruped.yaml
          mbc train --resume runs/saclag-2
        """)
    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Run directory (default runs/<algorithm>-<env>-<timestamp>).") var runDir: String?
    @Option(help: "Continue the run in this directory from its last checkpoint (its config.yaml is the config; --set may only change totalSteps and the evaluation).")
    var resume: String?
    @Flag(help: "With --resume, continue even though other settings differ from the stored config.yaml (which is replaced).") var forceConfig = false
    @Option(help: "Override the budget, env steps (the config's totalSteps).") var steps: Int?
    @Option(help: "Domain randomization of the training episodes (a spec such as configs/randomization.yaml; the config's randomize).")
    var randomize: String?
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        eventOptions.activate()
        if resume != nil, configOptions.config != nil {
            throw ValidationError("--resume takes its settings from the run directory's config.yaml; leave out --config")
        }
        if let resume, runDir != nil, runDir != resume {
            throw ValidationError("--resume names the run directory; leave out --run-dir")
        }
        var options = configOptions
        var directory = runDir
        if let resume {
            let stored = RunDirectory(path: resume)
            guard stored.hasConfig else {
                throw ValidationError("\(resume) is not a training run directory: it has no \(RunDirectory.configFileName)")
            }
            options.config = stored.configURL.path
            directory = resume
        }
        var cfg = try options.load(TrainConfig(), extra: override("totalSteps", steps, option: "steps")
                                   + override("randomize", string: randomize, option: "randomize"))
        if !cfg.randomize.isEmpty { cfg.randomize = try options.locate(cfg.randomize) }
        switch cfg.env {
        case .armReach: cfg.arm.robot = try options.locate(cfg.arm.robot)
        case .quadrupedWalk: cfg.quadruped.robot = try options.locate(cfg.quadruped.robot)
        case .pendulumSwingUp: cfg.pendulum.robot = try options.locate(cfg.pendulum.robot)
        }
        let dir = RunDirectory(path: directory ?? RunDirectory.defaultPath(command: "\(cfg.algorithm.rawValue)-\(cfg.env.rawValue)"))
        try prepareRun(dir, config: cfg, defaults: TrainConfig(), command: "train", resume: resume != nil, forceConfig: forceConfig,
                       allowedChanges: ["totalSteps", "evaluationEpisodes", "evaluationInterval", "evaluationSeed"], resumable: true)
        let path = dir.url.path
        Interrupts.shared.install {
            "the run in \(path) keeps its last checkpoint (checkpoint.safetensors); continue it with: mbc train --resume \(path)"
        }
        switch cfg.env {
        case .quadrupedWalk:
            try train(QuadrupedWalkEnv(config: cfg.quadruped, seed: cfg.seed), QuadrupedWalkEnv(config: cfg.quadruped, seed: cfg.seed), cfg, dir)
        case .armReach:
            try train(ArmReachEnv(config: cfg.arm, seed: cfg.seed), ArmReachEnv(config: cfg.arm, seed: cfg.seed), cfg, dir)
        case .pendulumSwingUp:
            try train(PendulumSwingUpEnv(config: cfg.pendulum, seed: cfg.seed), PendulumSwingUpEnv(config: cfg.pendulum, seed: cfg.seed), cfg, dir)
        }
    }

    func train<T: ModelTaskProviding>(_ env: RobotEnv<T>, _ evaluationEnv: RobotEnv<T>, _ cfg: TrainConfig, _ dir: RunDirectory) throws {
        if !cfg.randomize.isEmpty {
            env.randomization = try ConfigLoader().load(DomainRandomization(), file: cfg.randomize)
            say("training episodes randomized by \(cfg.randomize); evaluations stay nominal")
        }
        let trainer = SACTrainer(config: cfg, env: env, evaluationEnv: evaluationEnv, directory: dir.url)
        if cfg.algorithm.isModelBased {
            let model = try MBPOModel.make(settings: cfg.mbpo, env: env)
            trainer.model = model
            let m = cfg.mbpo, e = m.ensemble
            say("model: \(e.members) members (\(e.elites) elites), \(e.hiddenLayers) \(e.activation.rawValue), on \(model.stateNames.count) state and "
                + "\(model.actionNames.count) action columns; refit every \(m.modelTrainInterval) env steps, \(m.rolloutsPerEnvStep * m.modelTrainInterval) "
                + "rollouts each, length schedule \(m.rolloutSchedule), \(Int(m.realRatio * 100)) % real data per batch")
        }
        say("\(cfg.algorithm.rawValue) on \(cfg.env.rawValue): \(cfg.totalSteps) env steps (\(cfg.randomSteps) random first), "
            + "\(cfg.updatesPerStep) update(s) per step, batch \(cfg.sac.batchSize), networks \(cfg.sac.hidden); run directory \(dir.url.path)")
        let bar = Progress(total: cfg.totalSteps, label: cfg.algorithm.rawValue)
        let start = Date()
        trainer.onProgress = { p in
            var suffix = ""
            if let r = p.lastEpisodeReturn { suffix += String(format: " return %.1f", r) }
            if let e = p.evaluationReturn { suffix += String(format: " eval %.1f", e) }
            if let l = p.lambda { suffix += String(format: " λ %.3f", l) }
            bar.suffix = suffix
            bar.update(p.envSteps)
            Events.shared.progress(step: p.envSteps, metrics: ["episodes": Double(p.episodes), "alpha": p.alpha]
                .merging(p.lastEpisodeReturn.map { ["episode_return": $0] } ?? [:]) { a, _ in a }
                .merging(p.lambda.map { ["lambda": $0] } ?? [:]) { a, _ in a })
        }
        trainer.onRow = { step, row in
            let values = Dictionary(row, uniquingKeysWith: { a, _ in a })
            Events.shared.emit("metrics", ["step": step, "metrics": values])
            if !bar.tty {
                var line = String(format: "step %d: episodes %.0f, return %.1f, cost %.2f, violations %.0f in all, α %.4f",
                                  step, values["train/episodes"] ?? 0, values["train/episode_return"] ?? .nan,
                                  values["train/episode_cost"] ?? .nan, values["train/violations_total"] ?? 0, values["alpha"] ?? .nan)
                if let l = values["lambda"], !l.isNaN { line += String(format: ", λ %.3f", l) }
                if let e = values["eval/return"], !e.isNaN {
                    line += String(format: "; evaluation return %.1f, speed %.3f m/s, falls %.0f", e, values["eval/forward_speed"] ?? .nan, values["eval/falls"] ?? .nan)
                }
                if let k = values["model/rollout_length"] {
                    line += String(format: "; model: holdout MSE %.4f, k %.0f, %.0f model transitions", values["model/holdout_mse"] ?? .nan, k,
                                   values["model/buffer_size"] ?? 0)
                }
                line += String(format: "; %.2f steps/s, %.0f updates/s", values["time/env_steps_per_second"] ?? 0, values["time/updates_per_second"] ?? 0)
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        trainer.onCheckpoint = { step, url in
            Events.shared.emit("checkpoint", ["step": step, "path": url.path])
        }
        let s = try trainer.run(resume: dir.hasConfig && resume != nil)
        if bar.tty { FileHandle.standardError.write(Data("\n".utf8)) }
        let ev = s.finalEvaluation
        say(String(format: "%@: %d env steps, %d updates, %d episodes, %d unsafe steps, %.0f s of training (%.0f s this process)",
                   cfg.algorithm.rawValue, s.envSteps, s.updates, s.episodes, s.violations, s.wallSeconds, Date().timeIntervalSince(start)))
        if let ev {
            say(String(format: "final evaluation (%d deterministic episodes): return %.2f, cost %.2f, %d unsafe steps, mean forward speed %.3f m/s, %d falls, success rate %.2f",
                       ev.episodes, ev.meanReturn, ev.meanCost, ev.violations, ev.meanForwardSpeed, ev.falls, ev.successRate))
        }
        if let best = s.bestEvaluationReturn, let step = s.bestEvaluationStep {
            say(String(format: "best evaluation: return %.2f at %d env steps (policy-best.safetensors)", best, step))
        }
        say("policy: \(s.policyURL.path); metrics: \(dir.url.path)/metrics/metrics.csv (tensorboard --logdir \(dir.url.path))")
        if common.json || eventOptions.events {
            var object: [String: Any] = ["algorithm": cfg.algorithm.rawValue, "env": cfg.env.rawValue, "env_steps": s.envSteps, "updates": s.updates,
                                         "episodes": s.episodes, "violations": s.violations, "wall_seconds": s.wallSeconds, "alpha": s.alpha,
                                         "policy": s.policyURL.path, "run_dir": dir.url.path]
            if let l = s.lambda { object["lambda"] = l }
            if let best = s.bestEvaluationReturn { object["best_eval_return"] = best; object["best_eval_step"] = s.bestEvaluationStep ?? 0 }
            if let ev {
                object["eval_return"] = ev.meanReturn; object["eval_cost"] = ev.meanCost; object["eval_violations"] = ev.violations
                object["eval_forward_speed"] = ev.meanForwardSpeed; object["eval_falls"] = ev.falls; object["eval_success_rate"] = ev.successRate
            }
            printJSON(object)
        }
    }
}
