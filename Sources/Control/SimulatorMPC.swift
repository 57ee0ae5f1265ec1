import ControlCore
import Environments
import Foundation
import Planning

/// The simulator itself as a planning model: candidate action sequences are rolled out in worker copies of
/// the environment restored to the current snapshot (bit-exact), in parallel, one ODE world per worker.
/// A candidate's cost is −Σ reward over the horizon, plus `terminationPenalty` for every step left when
/// the rollout terminates (a fall), plus `safetyWeight` · Σ cost (the safety cost).
public final class SimulatorRollouts<E: RobotEnvironment>: @unchecked Sendable {
    public let workers: [E]
    public var terminationPenalty: Double
    public var safetyWeight: Double

    /// - Parameters:
    ///   - make: builds one environment (same configuration as the controlled one).
    ///   - workers: parallel workers (one thread and one ODE world each).
    public init(workers count: Int, terminationPenalty: Double = 10, safetyWeight: Double = 1, make: () throws -> E) rethrows {
        workers = try (0..<max(1, count)).map { _ in try make() }
        self.terminationPenalty = terminationPenalty
        self.safetyWeight = safetyWeight
    }

    /// Costs of `count` sequences (count × horizon × A, normalized actions) from `snapshot`.
    public func costs(from snapshot: RobotEnvSnapshot, population: [Double], count: Int, horizon: Int) -> [Double] {
        let A = workers[0].actionSpace.dimension
        var out = [Double](repeating: .infinity, count: count)
        let w = workers.count
        out.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: w) { k in
                let env = self.workers[k]
                var c = k
                var action = [Double](repeating: 0, count: A)
                while c < count {
                    env.restore(snapshot)
                    var cost = 0.0
                    for t in 0..<horizon {
                        let base = (c * horizon + t) * A
                        for d in 0..<A { action[d] = population[base + d] }
                        let r = env.step(action)
                        cost -= r.reward
                        cost += self.safetyWeight * r.cost
                        if r.terminated { cost += self.terminationPenalty * Double(horizon - t); break }
                        if r.truncated { break }
                    }
                    box.value[c] = cost
                    c += w
                }
            }
        }
        return out
    }
}

/// Carries a value into a concurrent closure whose accesses are partitioned by index.
struct UncheckedSendable<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// Settings of a simulator-MPC run (`mbc mpc --config …`), every default written out in configs/mpc-*.yaml.
public struct SimulatorMPCConfig: Codable, Sendable {
    /// Environment: arm-reach or quadruped-walk.
    public var env: String = "arm-reach"
    /// Episodes (trials), each with seed `seed + i`.
    public var episodes: Int = 20
    public var seed: UInt64 = 0
    /// Control steps per episode (0: the environment's own limit).
    public var maxSteps: Int = 0
    /// Parallel rollout workers.
    public var workers: Int = 2
    /// Cost per remaining step when a rollout terminates (falls), and weight of the safety cost.
    public var terminationPenalty: Double = 10
    public var safetyWeight: Double = 1
    /// The planner: kind, horizon, replanning, and each optimizer's settings.
    public var planner = PlannerConfiguration(kind: .cem, horizon: 10, replanInterval: 1, warmStart: true,
                                              cem: CEMConfiguration(populationSize: 64, eliteCount: 8, iterations: 3))
    public init() {}
}

/// One episode of simulator MPC.
public struct MPCEpisode: Sendable {
    public var seed: UInt64
    public var steps: Int
    public var totalReturn: Double
    public var success: Bool
    /// Simulated seconds until success (nil when not reached).
    public var timeToSuccess: Double?
    public var fell: Bool
    public var safetyViolations: Int
    public var meanForwardSpeed: Double?
    public var planningSeconds: [Double]
}

/// Runs MPC with the simulator as the model on `env` (a fresh reset per episode) and reports each episode.
/// `progress` is called after every control step with (episode, step, last step's result, planning s).
public func runSimulatorMPC<E: RobotEnvironment>(env: E, rollouts: SimulatorRollouts<E>, config: SimulatorMPCConfig,
                                                 progress: ((Int, Int, StepResult, Double) -> Void)? = nil) -> [MPCEpisode] {
    var episodes: [MPCEpisode] = []
    let bounds = env.actionSpace
    var snapshot = env.snapshot()
    let horizon = config.planner.horizon
    let controller = MPCController(configuration: config.planner, actionBounds: bounds, seed: config.seed) { _, population, count in
        rollouts.costs(from: snapshot, population: population, count: count, horizon: horizon)
    }
    for i in 0..<config.episodes {
        let seed = config.seed &+ UInt64(i)
        var obs = env.reset(seed: seed)
        controller.reset(seed: seed)
        var result = MPCEpisode(seed: seed, steps: 0, totalReturn: 0, success: false, timeToSuccess: nil, fell: false,
                                safetyViolations: 0, meanForwardSpeed: nil, planningSeconds: [])
        var speed = 0.0
        let limit = config.maxSteps > 0 ? config.maxSteps : Int.max
        while result.steps < limit {
            snapshot = env.snapshot()
            let start = Date()
            let action = controller.act(obs, deterministic: true)
            let planning = Date().timeIntervalSince(start)
            result.planningSeconds.append(planning)
            let r = env.step(action)
            result.steps += 1
            result.totalReturn += r.reward
            if r.cost > 0 { result.safetyViolations += 1 }
            if let v = r.info["forward_velocity"] { speed += v }
            if r.info["success"] == 1 && !result.success {
                result.success = true
                result.timeToSuccess = Double(result.steps) * env.controlTimeStep
            }
            progress?(i, result.steps, r, planning)
            obs = r.observation
            if r.terminated { result.fell = r.endReason == "fall"; break }
            if r.truncated { break }
        }
        if env is QuadrupedWalkEnv { result.meanForwardSpeed = speed / Double(max(result.steps, 1)) }
        episodes.append(result)
    }
    return episodes
}
