import ArgumentParser
import Configuration
import ControlCore
import Datasets
import Environments
import Foundation
import Physics
import Recording
import Robots

@main
struct MBC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mbc",
        abstract: "Model-based control and robotics on the Open Dynamics Engine.",
        subcommands: [Simulate.self, Info.self, Replay.self, FitDynamics.self, EvalDynamics.self, MPC.self, PETS.self, Train.self, Eval.self, Excite.self, Sysid.self, View.self, Plot.self, Bench.self],
        defaultSubcommand: Simulate.self)
}

// MARK: - info

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a URDF robot's kinematic tree, masses, DOF and limits.")
    @Argument(help: "URDF file.") var urdf: String
    @OptionGroup var common: CommonOptions

    func run() throws {
        let model = try RobotModel(contentsOf: resolveResource(urdf))
        say("robot \(model.name): \(model.dof) DOF, \(model.bodies.count) rigid bodies (fixed links merged), total mass \(String(format: "%.3f", model.totalMass)) kg")
        say("root link: \(model.urdf.rootLink)")
        say("kinematic tree:")
        func printBody(_ b: Int, depth: Int) {
            let body = model.bodies[b]
            let links = body.links.count > 1 ? " (+ \(body.links.dropFirst().joined(separator: ", ")))" : ""
            say(String(repeating: "  ", count: depth + 1) + "\(body.name)\(links)  mass \(String(format: "%.3f", body.mass)) kg")
            for (k, j) in model.joints.enumerated() where j.parentBody == b {
                var limit = ""
                if let r = j.range { limit += String(format: " range [%.3f, %.3f]", r.lowerBound, r.upperBound) }
                if let l = j.limit { limit += String(format: " effort %.1f velocity %.2f", l.effort, l.velocity) }
                say(String(repeating: "  ", count: depth + 2) + "└ joint \(j.name) (\(j.type.rawValue), axis \(j.axis))\(limit) damping \(j.damping) friction \(j.friction)")
                _ = k
                printBody(j.childBody, depth: depth + 2)
            }
        }
        printBody(0, depth: 0)
        for w in model.warnings { say("warning: \(w)") }
        if common.json {
            printJSON(["robot": model.name, "dof": model.dof, "bodies": model.bodies.count, "links": model.urdf.links.count,
                       "total_mass": model.totalMass, "root": model.urdf.rootLink, "joints": model.jointNames,
                       "limits": model.actuatedJoints.map { k -> [String: Any] in
                           let j = model.joints[k]
                           var d: [String: Any] = ["name": j.name, "type": j.type.rawValue]
                           if let r = j.range { d["lower"] = r.lowerBound; d["upper"] = r.upperBound }
                           if let l = j.limit { d["effort"] = l.effort; d["velocity"] = l.velocity }
                           return d
                       }, "warnings": model.warnings, "parameters": nominalParameters(model)])
        }
    }
}

/// The robot's nominal physical parameters (`PhysicsParameters`, as built with default world settings) as a JSON
/// object, or the reason they could not be read.
func nominalParameters(_ model: RobotModel) -> Any {
    do {
        let sim = try RobotSimulation(model: model)
        let data = try JSONEncoder().encode(sim.nominalParameters)
        return try JSONSerialization.jsonObject(with: data)
    } catch {
        return "unavailable: \(error)"
    }
}

// MARK: - simulate

enum PolicyKind: String, ExpressibleByArgument, CaseIterable { case random, zero }

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a policy in an environment (or any URDF) and optionally record the rollout as CSV.")
    @Option(help: "Environment: \(EnvironmentKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var env: String = "quadruped-walk"
    @Option(help: "Simulate any URDF instead of an environment (torque control, normalized by effort limits).")
    var robot: String?
    @Option(help: "Base of --robot: automatic, floating or fixed.") var base: String = "automatic"
    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Policy: random, zero, or a trained policy file (policy.safetensors from mbc train; acts deterministically unless --stochastic).")
    var policy: String = "random"
    @Flag(help: "With a policy file: sample actions from the policy instead of its deterministic mean.") var stochastic = false
    @Option(help: "Domain randomization spec (YAML, e.g. configs/randomization.yaml): physical parameters drawn per episode from its seed.")
    var randomize: String?
    @Option(help: "Control steps to run.") var steps: Int?
    @Option(help: "Episodes to run.") var episodes: Int?
    @Option(help: "Write the rollout to this CSV in the log format (docs/LOG_FORMAT.md); the run directory gets config.yaml.") var record: String?
    @OptionGroup var viewOptions: ViewOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions
    /// Seed of the environment and the policy.
    var seed: UInt64 { configOptions.seed ?? 1 }

    func validate() throws {
        if let steps, !(1...1_000_000_000).contains(steps) { throw ValidationError("--steps must be in 1…1000000000, not \(steps)") }
        if let episodes, !(1...1_000_000).contains(episodes) { throw ValidationError("--episodes must be in 1…1000000, not \(episodes)") }
        if robot != nil, configOptions.config != nil || !configOptions.overrides.isEmpty {
            throw ValidationError("--config and --set set an environment's settings (--env); --robot takes none")
        }
    }

    /// Writes config.yaml when the command writes outputs (`--record`) or a run directory is named.
    func prepare<T: Codable & ConfigRanges>(_ cfg: T, defaults: T, in runDirectory: RunDirectory) throws {
        guard record != nil || runOptions.runDir != nil || viewOptions.view != nil else { return }
        try prepareRun(runDirectory, config: cfg, defaults: defaults, command: "simulate")
    }

    func run() throws {
        eventOptions.activate()
        Interrupts.shared.install()
        let runDirectory = runOptions.directory(command: "simulate")
        if let robot {
            guard let mode = BaseMode(rawValue: base) else { throw ValidationError("--base must be automatic, floating or fixed") }
            let model = try RobotModel(contentsOf: resolveResource(robot))
            for w in model.warnings { FileHandle.standardError.write("warning: \(w)\n".data(using: .utf8)!) }
            try go(GenericRobotEnv(model: model, base: mode), name: model.name, runDirectory: runDirectory)
            return
        }
        guard let kind = EnvironmentKind(rawValue: env) else {
            throw ValidationError("unknown environment '\(env)'; choose one of \(EnvironmentKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        switch kind {
        case .quadrupedWalk:
            var cfg = try configOptions.load(QuadrupedWalkConfig(), seedKey: nil)
            cfg.robot = try configOptions.locate(cfg.robot)
            try prepare(cfg, defaults: QuadrupedWalkConfig(), in: runDirectory)
            try go(QuadrupedWalkEnv(config: cfg, seed: seed), name: kind.rawValue, runDirectory: runDirectory)
        case .armReach:
            var cfg = try configOptions.load(ArmReachConfig(), seedKey: nil)
            cfg.robot = try configOptions.locate(cfg.robot)
            try prepare(cfg, defaults: ArmReachConfig(), in: runDirectory)
            try go(ArmReachEnv(config: cfg, seed: seed), name: kind.rawValue, runDirectory: runDirectory)
        case .pendulumSwingUp:
            var cfg = try configOptions.load(PendulumSwingUpConfig(), seedKey: nil)
            cfg.robot = try configOptions.locate(cfg.robot)
            try prepare(cfg, defaults: PendulumSwingUpConfig(), in: runDirectory)
            try go(PendulumSwingUpEnv(config: cfg, seed: seed), name: kind.rawValue, runDirectory: runDirectory)
        }
    }

    func go<E: RobotEnvironment>(_ env: E, name: String, runDirectory: RunDirectory) throws {
        if let randomize {
            guard let randomizable = env as? any DomainRandomizable else {
                throw ValidationError("this environment cannot be randomized")
            }
            randomizable.randomization = try ConfigLoader().load(DomainRandomization(), file: randomize)
        }
        let policy: any Policy
        var deterministic = false
        switch PolicyKind(rawValue: self.policy) {
        case .random: policy = RandomPolicy(actionDimension: env.actionSpace.dimension, seed: seed)
        case .zero: policy = ZeroPolicy(actionDimension: env.actionSpace.dimension)
        case nil:
            policy = try loadPolicy(self.policy, env: env, name: name, seed: seed)
            deterministic = !stochastic
        }
        let totalSteps = steps ?? (episodes == nil ? 1000 : nil)
        let recordPath = try viewOptions.recordPath(record: record, runDirectory: runDirectory.url)
        let recorder = try recordPath.map { try RolloutRecorder(url: URL(fileURLWithPath: $0), env: env) }
        let bar = Progress(total: totalSteps ?? (episodes ?? 1) * 1000, label: "simulate \(name)")
        let summary = try runEpisodes(env: env, policy: policy, episodes: episodes, steps: totalSteps, seed: seed,
                                      deterministic: deterministic, recorder: recorder, progress: { done, total in
                                          bar.update(done)
                                          if done % 100 == 0 { Events.shared.progress(step: done, metrics: [:], ["total": total]) }
                                      })
        bar.update(totalSteps ?? summary.steps)
        try recorder?.close()
        try viewOptions.write(env: env, recordPath: recordPath)
        say("\(name): \(summary.episodes.count) episode(s), \(summary.steps) steps, \(String(format: "%.2f", summary.simulatedSeconds)) s simulated in \(String(format: "%.2f", summary.wallSeconds)) s wall")
        say("mean return \(String(format: "%.3f", summary.meanReturn)), mean cost \(String(format: "%.3f", summary.meanCost)), falls \(summary.falls), diverged \(summary.diverged), successes \(summary.successes)")
        if let recordPath { say("recorded \(summary.steps) rows to \(recordPath)") }
        if common.json || eventOptions.events {
            var o: [String: Any] = ["env": name, "episodes": summary.episodes.count, "steps": summary.steps,
                                    "mean_return": summary.meanReturn, "returns": summary.returns, "mean_cost": summary.meanCost,
                                    "falls": summary.falls, "diverged": summary.diverged, "successes": summary.successes,
                                    "success_rate": summary.successRate, "safety_violations": summary.safetyViolations,
                                    "simulated_seconds": summary.simulatedSeconds, "wall_seconds": summary.wallSeconds]
            if let v = summary.meanForwardSpeed { o["mean_forward_speed"] = v }
            if let record { o["record"] = record }
            printJSON(o)
        }
    }
}

// MARK: - replay

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive a robot open loop with the torques of a log and compare its joint trajectories with the log.")
    @Option(help: "URDF of the robot.") var robot: String
    @Option(help: "Log CSV (docs/LOG_FORMAT.md).") var data: String
    @Option(help: "Restart from the logged state every N rows.") var resetEvery: Int = 100
    @Option(help: "Torques from: automatic, effort or action.") var torques: String = "automatic"
    @Option(help: "Base: automatic, floating or fixed.") var base: String = "automatic"
    @Option(help: "Physics time step, s.") var timeStep: Double = 0.002
    @Option(help: "Constraint solver: iterative (QuickStep) or exact (dWorldStep; what arm-reach uses).")
    var solver: String = "iterative"
    @Option(help: "QuickStep iterations.") var iterations: Int = 20
    @Option(help: "Record the replayed trajectory to this CSV.") var record: String?
    @OptionGroup var common: CommonOptions

    func run() throws {
        guard resetEvery >= 1 else { throw ValidationError("--reset-every must be at least 1") }
        guard let source = ReplayOptions.TorqueSource(rawValue: torques) else { throw ValidationError("--torques must be automatic, effort or action") }
        guard let mode = BaseMode(rawValue: base) else { throw ValidationError("--base must be automatic, floating or fixed") }
        let model = try RobotModel(contentsOf: resolveResource(robot))
        var table = try LogReader.read(url: URL(fileURLWithPath: data))
        table.source = data
        var options = ReplayOptions()
        options.resetEvery = resetEvery
        options.torqueSource = source
        options.settings.timeStep = timeStep
        guard let solverKind = ConstraintSolver(rawValue: solver) else { throw ValidationError("--solver must be iterative or exact") }
        options.settings.solver = solverKind
        options.settings.solverIterations = iterations
        options.base = mode
        let result = try replayLog(model: model, table: table, options: options, record: record.map { URL(fileURLWithPath: $0) })
        say("replayed \(result.rows) rows of \(data) on \(model.name) with \(result.torqueColumns) torques, \(result.resets) restart(s), \(result.predictedRows) predicted rows")
        say("joint".padding(toLength: 24, withPad: " ", startingAt: 0) + "position RMSE   velocity RMSE")
        for (i, j) in result.joints.enumerated() {
            say(j.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%13.6f   %13.6f", result.positionRMSE[i], result.velocityRMSE[i]))
        }
        if let record { say("recorded the replay to \(record)") }
        if common.json {
            printJSON(["rows": result.rows, "predicted_rows": result.predictedRows, "resets": result.resets,
                       "torques": result.torqueColumns,
                       "position_rmse": Dictionary(uniqueKeysWithValues: zip(result.joints, result.positionRMSE)),
                       "velocity_rmse": Dictionary(uniqueKeysWithValues: zip(result.joints, result.velocityRMSE))])
        }
    }
}
