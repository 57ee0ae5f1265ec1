import ArgumentParser
import Control
import ControlCore
import Environments
import Foundation
import Planning

struct MPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpc",
        abstract: "Model-predictive control with the simulator itself as the model (CEM/iCEM/MPPI, parallel rollouts).")
    @Option(help: "YAML run settings (see configs/mpc-arm.yaml).") var config: String?
    @Option(help: "Override the environment (arm-reach, quadruped-walk).") var env: String?
    @Option(help: "Override the planner (cem, icem, mppi).") var planner: String?
    @Option(help: "Override the number of episodes.") var episodes: Int?
    @Option(help: "Override the number of rollout workers.") var workers: Int?
    @OptionGroup var common: CommonOptions

    func run() throws {
        var cfg = try config.map { try loadConfig(SimulatorMPCConfig(), from: $0) } ?? SimulatorMPCConfig()
        if let env { cfg.env = env }
        if let episodes { cfg.episodes = episodes }
        if let workers { cfg.workers = workers }
        if let planner {
            guard let kind = PlannerKind(rawValue: planner) else { throw ValidationError("--planner must be cem, icem or mppi") }
            cfg.planner.kind = kind
        }
        guard let kind = EnvironmentKind(rawValue: cfg.env) else { throw ValidationError("unknown environment '\(cfg.env)'") }
        switch kind {
        case .armReach:
            try go(ArmReachEnv(seed: cfg.seed), rollouts: SimulatorRollouts(workers: cfg.workers, terminationPenalty: cfg.terminationPenalty,
                                                                            safetyWeight: cfg.safetyWeight) { try ArmReachEnv(seed: cfg.seed) }, cfg)
        case .quadrupedWalk:
            try go(QuadrupedWalkEnv(seed: cfg.seed), rollouts: SimulatorRollouts(workers: cfg.workers, terminationPenalty: cfg.terminationPenalty,
                                                                                 safetyWeight: cfg.safetyWeight) { try QuadrupedWalkEnv(seed: cfg.seed) }, cfg)
        }
    }

    func go<E: RobotEnvironment>(_ env: E, rollouts: SimulatorRollouts<E>, _ cfg: SimulatorMPCConfig) throws {
        let tty = isatty(1) != 0
        let episodes = runSimulatorMPC(env: env, rollouts: rollouts, config: cfg) { ep, step, r, planning in
            if step % 10 == 0 || r.done {
                let line = String(format: "episode %d step %d cost %.3f planning %.0f ms real-time factor %.2f",
                                  ep, step, -r.reward, planning * 1000, env.controlTimeStep / max(planning, 1e-9))
                if tty { FileHandle.standardError.write(("\r" + line).data(using: .utf8)!) } else { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
            }
        }
        if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        let planning = episodes.flatMap(\.planningSeconds).sorted()
        let mean = planning.reduce(0, +) / Double(max(planning.count, 1))
        let p95 = planning.isEmpty ? 0 : planning[min(planning.count - 1, Int((0.95 * Double(planning.count)).rounded(.up)) - 1)]
        let successes = episodes.filter(\.success).count
        for e in episodes {
            say(String(format: "seed %llu: %@ in %d steps, return %.2f%@", e.seed, e.success ? "success" : (e.fell ? "fell" : "no success"),
                       e.steps, e.totalReturn, e.timeToSuccess.map { String(format: ", reached at %.2f s", $0) } ?? ""))
        }
        say(String(format: "%d episodes: success rate %.2f, mean return %.2f, falls %d, safety violations %d, planning %.1f ms mean / %.1f ms p95 (%@, horizon %d, %d workers)",
                   episodes.count, Double(successes) / Double(max(episodes.count, 1)),
                   episodes.map(\.totalReturn).reduce(0, +) / Double(max(episodes.count, 1)),
                   episodes.filter(\.fell).count, episodes.map(\.safetyViolations).reduce(0, +), mean * 1000, p95 * 1000,
                   cfg.planner.kind.rawValue, cfg.planner.horizon, cfg.workers))
        if common.json {
            var o: [String: Any] = ["episodes": episodes.count, "success_rate": Double(successes) / Double(max(episodes.count, 1)),
                                    "mean_return": episodes.map(\.totalReturn).reduce(0, +) / Double(max(episodes.count, 1)),
                                    "falls": episodes.filter(\.fell).count,
                                    "safety_violations": episodes.map(\.safetyViolations).reduce(0, +),
                                    "planning_ms_mean": mean * 1000, "planning_ms_p95": p95 * 1000,
                                    "time_to_success": episodes.compactMap(\.timeToSuccess)]
            let speeds = episodes.compactMap(\.meanForwardSpeed)
            if !speeds.isEmpty { o["mean_forward_speed"] = speeds.reduce(0, +) / Double(speeds.count) }
            printJSON(o)
        }
    }
}
