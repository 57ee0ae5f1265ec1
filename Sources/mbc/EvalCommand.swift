import ArgumentParser
import Configuration
import ControlCore
import Environments
import Foundation
import Learning

/// Reads a policy file and checks it against the environment it will drive.
/// - Throws: `DataFormatError`/`LearningError` naming the file and what does not fit.
func loadPolicy<E: RobotEnvironment>(_ path: String, env: E, name: String, seed: UInt64) throws -> ActorPolicy {
    try checkedPolicy(PolicyFile.read(url: URL(fileURLWithPath: path)), path: path, env: env, name: name, seed: seed)
}

/// A policy file already read, checked against the environment it will drive.
func checkedPolicy<E: RobotEnvironment>(_ file: PolicyFile, path: String, env: E, name: String, seed: UInt64) throws -> ActorPolicy {
    try file.checkCompatible(env: name, observationNames: env.observationNames, actionNames: env.actionNames, file: path)
    return ActorPolicy(file, seed: seed)
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained policy (policy.safetensors from mbc train) over episodes: return, safety cost, speed, falls, success.",
        discussion: """
        The environment's settings are the ones the policy was trained with (its metadata), then --config and --set.
        Example: mbc eval --policy runs/sac/policy.safetensors --env quadruped-walk --episodes 10 --json
        """)
    @Option(help: "Policy file (policy.safetensors).") var policy: String
    @Option(help: "Environment (default: the one the policy was trained on); a policy for another environment is refused.")
    var env: String?
    @Option(help: "Episodes (seeds seed, seed+1, …).") var episodes: Int = 10
    @Flag(help: "Sample actions from the policy instead of its deterministic mean.") var stochastic = false
    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var eventOptions: EventOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if !(1...1_000_000).contains(episodes) { throw ValidationError("--episodes must be in 1…1000000, not \(episodes)") }
    }

    func run() throws {
        eventOptions.activate()
        Interrupts.shared.install()
        let file = try PolicyFile.read(url: URL(fileURLWithPath: policy))
        let kindName = env ?? file.environment ?? ""
        guard let kind = EnvironmentKind(rawValue: kindName) else {
            throw ValidationError("unknown environment '\(kindName)'; choose one of \(EnvironmentKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let seed = configOptions.seed ?? 0
        // the settings the policy was trained with, unless it was trained on another kind (then refused below)
        let stored = file.environment == kind.rawValue ? file.metadata["env_config"] : nil
        func settings<T: Codable & ConfigRanges>(_ defaults: T) throws -> T {
            var base = defaults
            if let stored { base = try ConfigLoader().load(defaults, yaml: stored, source: "\(policy) (env_config)") }
            var all: [ConfigOverride] = []
            all += try configOptions.overrides.map(ConfigOverride.init(parsing:))
            return try ConfigLoader().load(base, file: configOptions.config, overrides: all)
        }
        switch kind {
        case .quadrupedWalk:
            var c = try settings(QuadrupedWalkConfig()); c.robot = try configOptions.locate(c.robot)
            try evaluate(QuadrupedWalkEnv(config: c, seed: seed), kind, seed, file)
        case .armReach:
            var c = try settings(ArmReachConfig()); c.robot = try configOptions.locate(c.robot)
            try evaluate(ArmReachEnv(config: c, seed: seed), kind, seed, file)
        case .pendulumSwingUp:
            var c = try settings(PendulumSwingUpConfig()); c.robot = try configOptions.locate(c.robot)
            try evaluate(PendulumSwingUpEnv(config: c, seed: seed), kind, seed, file)
        }
    }

    func evaluate<T: RobotTask>(_ env: RobotEnv<T>, _ kind: EnvironmentKind, _ seed: UInt64, _ file: PolicyFile) throws {
        let actor = try checkedPolicy(file, path: policy, env: env, name: kind.rawValue, seed: seed)
        let bar = Progress(total: episodes * env.task.maxEpisodeSteps, label: "eval \(kind.rawValue)")
        let summary = try runEpisodes(env: env, policy: actor, episodes: episodes, seed: seed, deterministic: !stochastic,
                                      progress: { steps, _ in bar.update(steps) })
        if bar.tty { FileHandle.standardError.write(Data("\n".utf8)) }
        let ev = EvaluationSummary(summary)
        for e in summary.episodes {
            var line = String(format: "  seed %llu: return %.2f, cost %.2f, %d steps", e.seed, e.totalReturn, e.totalCost, e.steps)
            if let v = e.meanForwardSpeed { line += String(format: ", mean forward speed %.3f m/s", v) }
            if e.safetyViolations > 0 { line += ", \(e.safetyViolations) unsafe steps" }
            line += e.fell ? ", fell" : (e.success ? ", success" : "")
            say(line)
        }
        say(String(format: "%@ over %d episodes: mean return %.2f, mean cost %.2f, %d unsafe steps, mean forward speed %.3f m/s, %d falls, success rate %.2f",
                   kind.rawValue, ev.episodes, ev.meanReturn, ev.meanCost, ev.violations, ev.meanForwardSpeed, ev.falls, ev.successRate))
        if common.json || eventOptions.events {
            printJSON(["env": kind.rawValue, "policy": policy, "episodes": ev.episodes, "mean_return": ev.meanReturn,
                       "returns": summary.returns, "mean_cost": ev.meanCost, "safety_violations": ev.violations,
                       "mean_forward_speed": ev.meanForwardSpeed,
                       "forward_speeds": summary.episodes.map { $0.meanForwardSpeed ?? Double.nan },
                       "falls": ev.falls, "success_rate": ev.successRate, "deterministic": !stochastic, "seed": seed])
        }
    }
}
