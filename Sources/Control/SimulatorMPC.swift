import ControlCore
import Dynamics
import Environments
import Foundation
import Physics
import Planning
import Robots

/// The simulator itself as a planning model: candidate action sequences are rolled out in worker copies of
/// the environment restored to the current snapshot (bit-exact), in parallel, one ODE world per worker.
/// A candidate's cost is −Σ reward over the horizon, plus `terminationPenalty` for every step left when
/// the rollout terminates (a fall), plus `safetyWeight` · Σ cost (the safety cost).
///
/// Planning worlds: the workers restore the controlled environment's snapshot, which carries its physical
/// parameters; `worlds` replaces them after every restore — one set (plan with the nominal model while the
/// controlled robot is randomized, so the planner does not see the true parameters), or several (robust MPC:
/// every candidate is rolled out in each world, the same worlds for every candidate, and its cost is the mean
/// over them, or the mean of the worst `cvarFraction` of them).
public final class SimulatorRollouts<E: RobotEnvironment>: @unchecked Sendable {
    public let workers: [E]
    public var terminationPenalty: Double
    public var safetyWeight: Double
    /// Physical parameters to plan in (nil: the snapshot's own); set by `plan(in:)`, which checks them.
    public private(set) var worlds: [PhysicsParameters]?
    /// CVaR level over the worlds: 1 averages all of them; 0.25 averages the worst quarter.
    public var cvarFraction: Double = 1

    /// - Parameters:
    ///   - make: builds one environment (same configuration as the controlled one).
    ///   - workers: parallel workers (one thread and one ODE world each).
    public init(workers count: Int, terminationPenalty: Double = 10, safetyWeight: Double = 1, make: () throws -> E) rethrows {
        workers = try (0..<max(1, count)).map { _ in try make() }
        self.terminationPenalty = terminationPenalty
        self.safetyWeight = safetyWeight
    }

    /// Plans in `worlds` from now on (nil: in the snapshot's own parameters). Every world is applied once to every
    /// worker here, so a world the simulation refuses, or workers that cannot take parameters, are an error now
    /// rather than a planner that silently falls back to the controlled robot's true parameters.
    /// - Throws: `SimulationError.invalidDescription` for workers without settable parameters;
    ///   `PhysicsParametersError` for a world that does not fit the robot.
    public func plan(in worlds: [PhysicsParameters]?) throws {
        if let worlds {
            guard !worlds.isEmpty else { throw SimulationError.invalidDescription("planning worlds: none given") }
            for env in workers {
                guard let settable = env as? any DomainRandomizable else {
                    throw SimulationError.invalidDescription("planning worlds need workers whose physical parameters can be set (\(E.self) cannot)")
                }
                for world in worlds { try settable.applyParameters(world) }
            }
        }
        self.worlds = worlds
    }

    /// Costs of `count` sequences (count × horizon × A, normalized actions) from `snapshot`.
    public func costs(from snapshot: E.Snapshot, population: [Double], count: Int, horizon: Int) -> [Double] {
        let A = workers[0].actionSpace.dimension
        var out = [Double](repeating: .infinity, count: count)
        let w = workers.count
        let start = UncheckedSendable(snapshot)
        out.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: w) { k in
                let env = self.workers[k]
                var c = k
                var action = [Double](repeating: 0, count: A)
                let worlds: [PhysicsParameters?] = self.worlds ?? [nil]
                var perWorld = [Double](repeating: 0, count: worlds.count)
                while c < count {
                    for (i, world) in worlds.enumerated() {
                        env.restore(start.value)
                        if let world {
                            do { try (env as! any DomainRandomizable).applyParameters(world) } catch {
                                preconditionFailure("planning world refused after plan(in:) accepted it: \(error)")
                            }
                        }
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
                        perWorld[i] = cost
                    }
                    box.value[c] = Self.aggregate(perWorld, cvarFraction: self.cvarFraction)
                    c += w
                }
            }
        }
        return out
    }
}

extension SimulatorRollouts {
    /// The mean of the worst ⌈fraction · n⌉ costs (CVaR; fraction 1: the mean).
    static func aggregate(_ costs: [Double], cvarFraction: Double) -> Double {
        guard costs.count > 1 else { return costs.first ?? 0 }
        let k = max(1, Int((cvarFraction * Double(costs.count)).rounded(.up)))
        let worst = costs.sorted(by: >).prefix(k)
        return worst.reduce(0, +) / Double(worst.count)
    }
}

/// Carries a value into a concurrent closure whose accesses are partitioned by index.
struct UncheckedSendable<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// Settings of an MPC run (`mbc mpc --config …`), every default written out in configs/mpc-*.yaml.
/// The model is the simulator itself unless `model` names an ensemble written by `fit-dynamics` or `pets`.
/// Ranges: `SimulatorMPCConfig+Ranges.swift`.
public struct SimulatorMPCConfig: Codable, Sendable {
    /// Environment: arm-reach or quadruped-walk.
    public var env: EnvironmentKind = .armReach
    /// Settings of the arm-reach environment. Planning on a learned model needs the settings its data were
    /// recorded with (the meaning of `action.<joint>`: torques or PD targets).
    public var arm = ArmReachConfig()
    /// Settings of the quadruped-walk environment (reward weights, commanded speed, limits …).
    public var quadruped = QuadrupedWalkConfig()
    /// Episodes (trials), each with seed `seed + i`.
    public var episodes: Int = 20
    public var seed: UInt64 = 0
    /// Control steps per episode (0: the environment's own limit).
    public var maxSteps: Int = 0
    /// Parallel rollout workers (simulator model).
    public var workers: Int = 2
    /// Cost per remaining step when a rollout terminates (falls), and weight of the safety cost.
    public var terminationPenalty: Double = 10
    public var safetyWeight: Double = 1
    /// End an episode at its first success (reach tasks), to save planning time in evaluations.
    public var stopOnSuccess: Bool = false
    /// A learned ensemble (safetensors from `fit-dynamics`/`pets`) to plan on instead of the simulator;
    /// empty: the simulator.
    public var model: String = ""
    /// Learned model: particles per candidate (PETS: 20) and propagation (ts-inf, ts-1, expectation).
    public var particles: Int = 20
    public var propagation: PropagationMode = .tsInfinity
    /// The planner: kind, horizon, replanning, and each optimizer's settings.
    public var planner = PlannerConfiguration(kind: .cem, horizon: 10, replanInterval: 1, warmStart: true,
                                              cem: CEMConfiguration(populationSize: 64, eliteCount: 8, iterations: 3))
    public init() {}
}

/// What MPC plans with: `prepare` is called with the environment and its observation before every plan
/// (take a snapshot, read the model state), `rollout` scores candidates as ``MPCController/Rollout``.
public struct MPCModel<E: RobotEnvironment> {
    public var prepare: (E, [Double]) -> Void
    public var rollout: MPCController.Rollout
    /// The model's own cost of the step just taken (normalized action, observation after it), called after
    /// every real step when set: a learned-model task scores the real transition with the formula it plans
    /// with (the return PETS reports).
    public var score: ((E, [Double], [Double]) -> Double)?
    public init(prepare: @escaping (E, [Double]) -> Void, rollout: @escaping MPCController.Rollout,
                score: ((E, [Double], [Double]) -> Double)? = nil) {
        self.prepare = prepare; self.rollout = rollout; self.score = score
    }

    /// The simulator itself: a snapshot of the controlled environment restored into each worker.
    public static func simulator(_ rollouts: SimulatorRollouts<E>) -> MPCModel<E> {
        let box = SnapshotBox<E.Snapshot>()
        return MPCModel(prepare: { env, _ in box.snapshot = env.snapshot() },
                        rollout: { _, population, count in
                            // the controller expands action-repeated plans: infer the control-step horizon
                            let steps = population.count / max(count * rollouts.workers[0].actionSpace.dimension, 1)
                            return rollouts.costs(from: box.snapshot!, population: population, count: count, horizon: steps)
                        })
    }

    /// A learned ensemble: the live state read in the model's columns, the task's context updated.
    public static func ensemble(_ rollouts: EnsembleRollouts) -> MPCModel<E> {
        let box = StateBox()
        return MPCModel(prepare: { env, obs in
                            rollouts.task.update()
                            box.previousAction = rollouts.task.previousAction.map(Double.init)
                            box.state = (try? env.modelState(names: rollouts.model.stateNames, observation: obs)) ?? []
                        },
                        rollout: { _, population, count in
                            guard box.state.count == rollouts.model.stateDimension else { return Array(repeating: .infinity, count: count) }
                            let steps = population.count / max(count * rollouts.task.actionDimension, 1)
                            return rollouts.costs(from: box.state, population: population, count: count, horizon: steps)
                        },
                        score: { env, action, obs in
                            guard let after = try? env.modelState(names: rollouts.model.stateNames, observation: obs) else { return .nan }
                            return rollouts.task.cost(state: box.state, action: action, next: after, previousAction: box.previousAction,
                                                      safetyWeight: Double(rollouts.safetyWeight))
                        })
    }
}

final class SnapshotBox<S> { var snapshot: S? }
final class StateBox { var state: [Double] = []; var previousAction: [Double] = [] }

/// Runs receding-horizon MPC on `env` through the episode loop (a fresh reset with seed `config.seed + i` per
/// episode) and reports each episode (`actSeconds` is the planning time per step); `recorder` (optional) logs
/// every step with episode index `episodeIndexOffset + i`. `progress` is called after every control step
/// with (episode, step, the step's result, planning seconds).
public func runMPC<E: RobotEnvironment>(env: E, model: MPCModel<E>, config: SimulatorMPCConfig, recorder: (any StepRecorder)? = nil,
                                        episodeIndexOffset: Int = 0,
                                        progress: ((Int, Int, StepResult, Double) -> Void)? = nil) throws -> [EpisodeResult] {
    let controller = MPCController(configuration: config.planner, actionBounds: env.actionSpace, seed: config.seed,
                                   rollout: model.rollout)
    let summary = try runEpisodes(env: env, policy: controller, episodes: config.episodes, seed: config.seed,
                                  maxStepsPerEpisode: config.maxSteps > 0 ? config.maxSteps : .max, stopOnSuccess: config.stopOnSuccess,
                                  deterministic: true, indexOffset: episodeIndexOffset, recorder: recorder,
                                  beforeAct: { env, obs in model.prepare(env, obs) },
                                  onStep: { step in
                                      progress?(step.episode - episodeIndexOffset, step.step, step.result, step.actSeconds)
                                      return model.score.map { $0(env, step.action, step.result.observation) }
                                  })
    return summary.episodes
}
