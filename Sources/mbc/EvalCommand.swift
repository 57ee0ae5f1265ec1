import ArgumentParser
import Configuration
import ControlCore
import Environments
import Foundation
import Learning
import Robots

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
    @Option(help: "Domain randomization spec (YAML, e.g. configs/randomization.yaml): physical parameters drawn per episode from its seed; prints a robustness table.")
    var randomize: String?
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
        let nominal = env.simulation.parameters
        if let randomize { env.randomization = try ConfigLoader().load(DomainRandomization(), file: randomize) }
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
        var robustness: [[String: Any]] = []
        if let spec = env.randomization {
            let draws = summary.episodes.map { DomainRandomization.summary(spec.sample(nominal: nominal, seed: $0.seed), nominal: nominal) }
            let (table, rows) = robustnessTable(draws: draws, episodes: summary.episodes)
            say("robustness under \(randomize!) (per value of a parameter with few values, else per third of its draws):\n" + table)
            robustness = rows
        }
        if common.json || eventOptions.events {
            printJSON(["env": kind.rawValue, "policy": policy, "episodes": ev.episodes, "mean_return": ev.meanReturn,
                       "returns": summary.returns, "mean_cost": ev.meanCost, "safety_violations": ev.violations,
                       "mean_forward_speed": ev.meanForwardSpeed,
                       "forward_speeds": summary.episodes.map { $0.meanForwardSpeed ?? Double.nan },
                       "falls": ev.falls, "success_rate": ev.successRate, "deterministic": !stochastic, "seed": seed,
                       "randomize": randomize as Any, "robustness": robustness])
        }
    }
}

/// Return, cost, falls and success per bin of each randomized parameter's draws: one bin per value when it takes
/// at most 5 values (latency), else thirds of the episodes in order of the value; parameters that did not vary are
/// left out.
func robustnessTable(draws: [[(name: String, value: Double)]], episodes: [EpisodeResult]) -> (String, [[String: Any]]) {
    guard let names = draws.first?.map(\.name) else { return ("", []) }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    var lines = ["  " + pad("parameter", 22) + pad("values", 16) + pad("episodes", 9) + pad("return", 9) + pad("cost", 8) + pad("falls", 6) + "success"]
    var rows: [[String: Any]] = []
    for (k, name) in names.enumerated() {
        let values = draws.map { $0[k].value }
        let distinct = Array(Set(values)).sorted()
        guard distinct.count > 1 else { continue }
        let order = values.indices.sorted { values[$0] < values[$1] }
        let bins: [[Int]] = distinct.count <= 5
            ? distinct.map { v in order.filter { values[$0] == v } }
            : (0..<3).map { b in Array(order[(b * order.count / 3)..<((b + 1) * order.count / 3)]) }
        for members in bins where !members.isEmpty {
            let low = values[members.first!], high = values[members.last!]
            let ret = members.reduce(0) { $0 + episodes[$1].totalReturn } / Double(members.count)
            let cost = members.reduce(0) { $0 + episodes[$1].totalCost } / Double(members.count)
            let falls = members.filter { episodes[$0].fell }.count
            let success = Double(members.filter { episodes[$0].success }.count) / Double(members.count)
            let range = low == high ? String(format: "%.3g", low) : String(format: "%.3g–%.3g", low, high)
            lines.append("  " + pad(name, 22) + pad(range, 16) + pad("\(members.count)", 9) + pad(String(format: "%.1f", ret), 9)
                         + pad(String(format: "%.2f", cost), 8) + pad("\(falls)", 6) + String(format: "%.2f", success))
            rows.append(["parameter": name, "low": low, "high": high, "episodes": members.count, "mean_return": ret, "mean_cost": cost,
                         "falls": falls, "success_rate": success])
        }
    }
    return (lines.joined(separator: "\n"), rows)
}
