import ControlCore
import Foundation

// MARK: - Timing statistics

/// Wall-clock time spent in the optimizer per planning call.
public struct PlanningTimeStatistics: Sendable, Equatable {
    /// Planning calls measured.
    public var calls: Int
    /// Mean seconds per call (0 when no call was measured).
    public var meanSeconds: Double
    /// 95th percentile in seconds (nearest rank; 0 when no call was measured).
    public var p95Seconds: Double
    /// Longest call in seconds.
    public var maxSeconds: Double

    /// Summarizes `durations` (seconds, one per call).
    public init(durations: [Double]) {
        calls = durations.count
        guard !durations.isEmpty else { meanSeconds = 0; p95Seconds = 0; maxSeconds = 0; return }
        let sorted = durations.sorted()
        meanSeconds = sorted.reduce(0, +) / Double(sorted.count)
        let rank = Int((0.95 * Double(sorted.count)).rounded(.up))
        p95Seconds = sorted[min(max(rank, 1), sorted.count) - 1]
        maxSeconds = sorted[sorted.count - 1]
    }
}

// MARK: - Controller

/// Receding-horizon model-predictive control (the PETS control loop of Chua et al.
/// 2018, §4): observe s_t, optimize a_{t:t+H} with a ``TrajectoryOptimizer`` against a model, execute the
/// first k actions of the plan (k = `replanInterval`), then replan from the new observation.
///
/// The model enters only through `rollout(observation, population, count) -> costs`, so any model
/// (the exact simulator, a learned ensemble with trajectory sampling, …) can be plugged in; the controller
/// and the optimizer never see states. Warm start: the previous plan shifted left by k steps, the vacated
/// tail filled with the bound midpoint (zero for symmetric bounds), and the optimizer told to shift its kept
/// candidates (`advance(by:)`, iCEM's elites) the same way.
///
/// As a ``Policy`` the actions are expected in [−1, 1]^A, i.e. the optimizer's bounds should be the
/// normalized action space. `deterministic` is ignored: planning is always stochastic but reproducible from
/// the seed.
public final class MPCController: Policy {
    /// Rolls each candidate sequence out from `observation` with a model and returns its cost.
    /// Shapes: `population` (count × horizon × A) as in ``BatchCost``; returns (count) costs, lower is
    /// better, NaN/±∞ meaning infeasible.
    public typealias Rollout = (_ observation: [Double], _ population: [Double], _ count: Int) -> [Double]

    /// The optimizer used for every plan.
    public let optimizer: any TrajectoryOptimizer
    /// Decisions executed per plan, k ≥ 1 (≤ horizon).
    public let replanInterval: Int
    /// Control steps each decision is held for, r ≥ 1; the model sees horizon · r control steps.
    public let actionRepeat: Int
    /// Wall-clock budget per plan in seconds, nil for none (see ``PlannerConfiguration/deadline``).
    public let deadline: Double?
    /// Whether plans start from the shifted previous plan.
    public let warmStart: Bool

    private let rollout: Rollout
    private var rng: SeededRNG
    /// The current plan, shape (horizon × A); nil before the first call and after `reset`.
    private var plan: [Double]?
    /// Control steps of `plan` already executed.
    private var executed = 0
    /// Seconds per planning call since the last reset.
    private var durations: [Double] = []

    /// The result of the most recent optimization, nil before the first plan.
    public private(set) var lastResult: OptimizationResult?

    /// - Parameters:
    ///   - optimizer: a trajectory optimizer; its horizon and bounds define the plan.
    ///   - replanInterval: k, decisions executed per plan (1 ≤ k ≤ horizon).
    ///   - actionRepeat: r, control steps per decision (the rollout sees each candidate expanded to
    ///     horizon · r control steps).
    ///   - deadline: seconds per plan, nil for none.
    ///   - warmStart: start each plan from the previous one shifted by k.
    ///   - seed: seed of the planning generator.
    ///   - rollout: the model-based cost of candidate sequences from an observation.
    public init(optimizer: any TrajectoryOptimizer, replanInterval: Int = 1, actionRepeat: Int = 1, deadline: Double? = nil,
                warmStart: Bool = true, seed: UInt64, rollout: @escaping Rollout) {
        precondition(replanInterval >= 1 && replanInterval <= optimizer.horizon,
                     "MPC: need 1 ≤ replanInterval ≤ horizon")
        precondition(actionRepeat >= 1, "MPC: need actionRepeat ≥ 1")
        self.optimizer = optimizer; self.replanInterval = replanInterval; self.warmStart = warmStart
        self.actionRepeat = actionRepeat; self.deadline = deadline.flatMap { $0 > 0 ? $0 : nil }
        self.rollout = rollout; self.rng = SeededRNG(seed: seed)
    }

    /// Builds the optimizer from `configuration` (kind, horizon and its section) and uses its replanning
    /// settings.
    public convenience init(configuration: PlannerConfiguration, actionBounds: BoxSpace, seed: UInt64,
                            rollout: @escaping Rollout) {
        let opt = configuration.kind.makeOptimizer(horizon: configuration.horizon, actionBounds: actionBounds,
                                                   configuration: configuration)
        self.init(optimizer: opt, replanInterval: configuration.replanInterval, actionRepeat: configuration.actionRepeat,
                  deadline: configuration.deadline, warmStart: configuration.warmStart, seed: seed, rollout: rollout)
    }

    /// Starts an episode: forgets the plan, resets the optimizer's kept state and the timing statistics,
    /// and re-seeds the planning generator.
    public func reset(seed: UInt64) {
        rng = SeededRNG(seed: seed)
        plan = nil; executed = 0; durations = []; lastResult = nil
        optimizer.reset()
    }

    /// The next action, shape (A): the current decision of the plan (each held for r control steps),
    /// replanning first when k decisions of it have been executed (or there is no plan yet).
    public func act(_ observation: [Double], deterministic: Bool) -> [Double] {
        let a = optimizer.actionDimension
        if plan == nil || executed >= replanInterval * actionRepeat { replan(from: observation) }
        let t = executed / actionRepeat
        executed += 1
        return Array(plan![(t * a)..<((t + 1) * a)])
    }

    /// Planning-time statistics since the last reset.
    public var timing: PlanningTimeStatistics { PlanningTimeStatistics(durations: durations) }

    // MARK: Planning

    /// Optimizes a new plan from `observation`, warm-started from the shifted previous plan.
    private func replan(from observation: [Double]) {
        let a = optimizer.actionDimension, h = optimizer.horizon
        let midpoint = optimizer.midpointSequence
        // warm start: shift the previous plan by the executed steps, fill the tail with the midpoint
        var initial = midpoint
        let shift = executed / actionRepeat
        if let previous = plan, warmStart {
            for k in 0..<((h - shift) * a) { initial[k] = previous[k + shift * a] }
            optimizer.advance(by: shift)
        } else if plan != nil {
            optimizer.advance(by: shift)
        }
        // optimize against the model, timing the call
        let rollout = self.rollout, r = actionRepeat
        var generator = rng
        let clock = ContinuousClock()
        if let deadline {
            let end = clock.now.advanced(by: .nanoseconds(Int64(deadline * 1e9)))
            optimizer.shouldStop = { clock.now >= end }
        } else {
            optimizer.shouldStop = nil
        }
        var result: OptimizationResult?
        let elapsed = clock.measure {
            result = optimizer.optimize(cost: { population, count in
                                            r == 1 ? rollout(observation, population, count)
                                                : rollout(observation, repeated(population, count: count, horizon: h, actionDimension: a, times: r), count)
                                        },
                                        initialMean: initial, using: &generator)
        }
        rng = generator
        let c = elapsed.components
        durations.append(Double(c.seconds) + Double(c.attoseconds) * 1e-18)
        lastResult = result
        plan = result!.solution
        executed = 0
    }
}

/// Each candidate's decisions held for `times` control steps: (count × horizon × A) → (count × horizon·times × A).
func repeated(_ population: [Double], count: Int, horizon: Int, actionDimension a: Int, times: Int) -> [Double] {
    var out = [Double](repeating: 0, count: count * horizon * times * a)
    for c in 0..<count {
        for t in 0..<horizon {
            let src = (c * horizon + t) * a
            for k in 0..<times {
                let dst = ((c * horizon + t) * times + k) * a
                for d in 0..<a { out[dst + d] = population[src + d] }
            }
        }
    }
    return out
}
