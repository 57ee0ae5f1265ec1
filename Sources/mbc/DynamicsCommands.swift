import ArgumentParser
import Configuration
import ControlCore
import Datasets
import Dynamics
import Foundation

/// Loads a log (CSV in the log format, or NPZ with D4RL array names) as transitions.
func loadTransitions(_ path: String, spec: TransitionSpec) throws -> TransitionDataset {
    let url = URL(fileURLWithPath: path)
    if path.lowercased().hasSuffix(".npz") {
        let d = try D4RLDataset.read(url: url)
        // D4RL arrays carry no names: states are observation.state.<k>, actions action.<k>
        return TransitionDataset(stateNames: (0..<d.observationDimension).map { "observation.state.\($0)" },
                                 actionNames: (0..<d.actionDimension).map { "action.\($0)" },
                                 states: d.observations, actions: d.actions, nextStates: d.nextObservations,
                                 episodes: d.episodes)
    }
    var table = try LogReader.read(url: url)
    table.source = path
    return try TransitionDataset(table: table, spec: spec)
}

struct FitDynamics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-dynamics",
        abstract: "Train a probabilistic ensemble (PETS/MBPO) on logged transitions and write it as safetensors.")
    @Option(help: "Log: CSV in the log format (docs/LOG_FORMAT.md) or NPZ with D4RL names.") var data: String
    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Output safetensors file (default: model.safetensors in the run directory).") var out: String?
    @Option(help: "Comma-separated state columns (default: joint positions and velocities, + base state).") var state: String?
    @Option(help: "Comma-separated action columns (default: action.*).") var action: String?
    @OptionGroup var runOptions: RunOptions
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        eventOptions.activate()
        Interrupts.shared.install()
        let cfg = try configOptions.load(EnsembleConfig())
        let spec = TransitionSpec(state: state?.split(separator: ",").map(String.init) ?? [],
                                  action: action?.split(separator: ",").map(String.init) ?? [])
        let dataset = try loadTransitions(data, spec: spec)
        // the run directory (config.yaml, and the model unless --out) once the inputs are known to be good
        let runDirectory = runOptions.directory(command: "fit-dynamics")
        try prepareRun(runDirectory, config: cfg, defaults: EnsembleConfig(), command: "fit-dynamics")
        let out = self.out ?? runDirectory.url.appendingPathComponent("model.safetensors").path
        say("\(dataset.count) transitions from \(Set(dataset.episodes).count) episode(s); state \(dataset.stateDimension), action \(dataset.actionDimension)")
        let model = try ProbabilisticEnsemble(config: cfg, stateNames: dataset.stateNames, actionNames: dataset.actionNames)
        // a bar when training has an epoch cap; without one (the default) a status line per epoch
        let bar = cfg.maxEpochs > 0 ? Progress(total: cfg.maxEpochs, label: "fit-dynamics") : nil
        let tty = isatty(2) != 0
        let start = Date()
        let reports = try model.fit(dataset) { r in
            Events.shared.progress(step: r.epoch, metrics: ["train_nll": r.trainLoss, "holdout_mse": r.holdoutMSE.min() ?? .nan])
            let best = r.holdoutMSE.min() ?? .nan
            if let bar { bar.update(r.epoch) } else if tty {
                FileHandle.standardError.write(String(format: "\rfit-dynamics epoch %d  holdout MSE (best member) %.5f  %d without improvement  %.1f s",
                                                      r.epoch, best, r.epochsWithoutImprovement, Date().timeIntervalSince(start)).data(using: .utf8)!)
            }
            if !tty { say(String(format: "epoch %3d  train NLL %.4f  holdout MSE (best member) %.5f", r.epoch, r.trainLoss, best)) }
        }
        if let bar { bar.update(cfg.maxEpochs) } else if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        try model.save(to: URL(fileURLWithPath: out))
        let wall = Date().timeIntervalSince(start)
        for r in reports where tty {
            say(String(format: "epoch %3d  train NLL %.4f  holdout MSE (best member) %.5f", r.epoch, r.trainLoss, r.holdoutMSE.min() ?? .nan))
        }
        let stop = model.lastStoppedBy ?? .maxEpochs
        let rule: String
        switch stop {
        case .holdout: rule = "the holdout criterion (no member improved its holdout MSE by more than \(cfg.minImprovement * 100) % for \(cfg.patience) epochs)"
        case .maxEpochs: rule = cfg.maxEpochs > 0 ? "the epoch cap (maxEpochs \(cfg.maxEpochs))" : "the safety cap of \(EnsembleConfig.epochSafetyCap) epochs"
        case .timeBudget: rule = "the time budget (maxSeconds \(cfg.maxSeconds))"
        }
        say("training stopped after \(reports.count) epochs by \(rule)")
        say("elites \(model.eliteMembers) with holdout MSE \(model.eliteMembers.map { String(format: "%.5f", model.lastHoldoutMSE[$0]) }.joined(separator: ", ")) (normalized); wrote \(out) in \(String(format: "%.1f", wall)) s")
        if common.json || eventOptions.events {
            printJSON(["transitions": dataset.count, "epochs": reports.count, "stopped_by": stop.rawValue,
                       "elites": model.eliteMembers, "holdout_mse": model.lastHoldoutMSE,
                       "train_loss": reports.last?.trainLoss ?? 0, "out": out, "wall_seconds": wall])
        }
    }
}

struct EvalDynamics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-dynamics",
        abstract: "One-step MSE and NLL, open-loop error per horizon step and calibration of a dynamics model on a log.")
    @Option(help: "Model written by fit-dynamics.") var model: String
    @Option(help: "Log to evaluate on (CSV or NPZ).") var data: String
    @Option(help: "Open-loop horizon, steps.") var horizon: Int = 20
    @OptionGroup var common: CommonOptions

    func run() throws {
        guard horizon >= 1 else { throw ValidationError("--horizon must be at least 1") }
        let ensemble = try ProbabilisticEnsemble.load(from: URL(fileURLWithPath: model))
        let dataset = try loadTransitions(data, spec: TransitionSpec(state: ensemble.stateNames, action: ensemble.actionNames))
        let r = evaluateDynamics(ensemble, on: dataset, horizon: horizon)
        say("\(r.transitions) transitions, \(r.windows) open-loop windows of \(horizon) steps")
        say(String(format: "one-step MSE %.6g (physical units, mean over %d state dims), normalized %.5f, NLL %.4f",
                   r.oneStepMSE, ensemble.stateDimension, r.oneStepNormalizedMSE, r.oneStepNLL))
        say(String(format: "calibration: %.3f within 1σ (ideal 0.683), %.3f within 2σ (ideal 0.954)", r.calibration1Sigma, r.calibration2Sigma))
        say("step  open-loop RMSE  normalized")
        for (k, e) in r.openLoopRMSE.enumerated() {
            say(String(format: "%4d  %14.6g  %10.4f", k + 1, e, r.openLoopNormalizedRMSE[k]))
        }
        if common.json {
            printJSON(["one_step_mse": r.oneStepMSE, "one_step_mse_per_dimension": Dictionary(uniqueKeysWithValues: zip(ensemble.stateNames, r.oneStepMSEPerDimension)),
                       "one_step_normalized_mse": r.oneStepNormalizedMSE, "one_step_nll": r.oneStepNLL,
                       "open_loop_rmse": r.openLoopRMSE, "open_loop_normalized_rmse": r.openLoopNormalizedRMSE,
                       "calibration": ["1sigma": r.calibration1Sigma, "2sigma": r.calibration2Sigma],
                       "transitions": r.transitions, "windows": r.windows])
        }
    }
}
