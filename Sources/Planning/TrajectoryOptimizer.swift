import ControlCore
import Foundation

// MARK: - Cost contract

/// A batched objective over candidate action sequences; lower is better.
///
/// - Parameters:
///   - population: the candidates, row-major, shape (count × horizon × actionDimension): candidate `j`,
///     time step `t`, action dimension `a` sits at `population[(j * horizon + t) * actionDimension + a]`.
///   - count: number of candidates in `population`.
/// - Returns: one cost per candidate, shape (count). NaN, +∞ and −∞ are all read as +∞ ("infeasible"):
///   such a candidate is never an elite, never receives weight and never becomes the best solution
///   (a NaN must not be able to win, unlike mbrl-lib's replacement of NaN scores by a near-zero number).
public typealias BatchCost = (_ population: [Double], _ count: Int) -> [Double]

// MARK: - Result

/// What one call of ``TrajectoryOptimizer/optimize(cost:initialMean:using:)`` returns.
public struct OptimizationResult: Sendable, Equatable {
    /// The optimized action sequence, shape (horizon × actionDimension), inside the bounds.
    public var solution: [Double]
    /// The lowest finite cost of any candidate evaluated during the call; +∞ when none was finite. This is
    /// the cost of a sampled candidate, not necessarily of `solution` (CEM and MPPI return a mean).
    public var bestCost: Double
    /// Optimizer iterations performed.
    public var iterations: Int
    /// Candidate sequences passed to the cost function (sum of the `count` arguments).
    public var evaluations: Int

    public init(solution: [Double], bestCost: Double, iterations: Int, evaluations: Int) {
        self.solution = solution; self.bestCost = bestCost
        self.iterations = iterations; self.evaluations = evaluations
    }
}

// MARK: - Protocol

/// A sampling-based optimizer of a flat action sequence of shape (horizon × actionDimension) within
/// per-action-dimension bounds (the same box at every time step).
///
/// The optimizer knows nothing about control (as mbrl-lib's `optimize(objective, x0)`): it sees only
/// a batched cost and a warm-start mean. The time axis matters only for iCEM's colored noise and for
/// ``advance(by:)``. Scratch buffers are allocated once, at construction.
///
/// Lifecycle: `optimize` any number of times; `advance(by:)` when the caller has executed steps and will
/// pass a time-shifted mean next; `reset()` at an episode boundary. State kept between calls (only iCEM's
/// elites) is cleared by `reset()`, so the same seed after `reset()` gives the same result.
public protocol TrajectoryOptimizer: AnyObject {
    /// Number of time steps H in a sequence.
    var horizon: Int { get }
    /// Per-action-dimension bounds, dimension A; every sample lies inside them.
    var actionBounds: BoxSpace { get }
    /// Checked before every iteration after the first: returning true ends the optimization early with
    /// what it has (MPC's per-step deadline). Nil: always run every iteration.
    var shouldStop: (() -> Bool)? { get set }

    /// Minimizes `cost` over sequences in the bounds.
    ///
    /// - Parameters:
    ///   - cost: the batched objective (see ``BatchCost``); must return exactly `count` values.
    ///   - initialMean: the warm start, shape (horizon × actionDimension); clamped into the bounds.
    ///   - rng: the only source of randomness; the result is a pure function of the inputs, the generator's
    ///     state and the optimizer's kept state.
    /// - Returns: the sequence and diagnostics. When no candidate had a finite cost the solution is the
    ///   (clamped) initial mean and `bestCost` is +∞.
    func optimize(cost: BatchCost, initialMean: [Double], using rng: inout SeededRNG) -> OptimizationResult

    /// Tells the optimizer that the caller executed `steps` time steps since the last call, so that kept
    /// candidates (iCEM's elites) are shifted left by `steps`; their vacated tail is re-sampled at the next
    /// call. Optimizers without kept state ignore it.
    func advance(by steps: Int)

    /// Clears everything kept between calls (iCEM's elites). After `reset()` the optimizer behaves exactly
    /// as a freshly constructed one.
    func reset()
}

extension TrajectoryOptimizer {
    /// Number of action dimensions A.
    public var actionDimension: Int { actionBounds.dimension }
    /// Length of a flat sequence, horizon × actionDimension.
    public var sequenceLength: Int { horizon * actionDimension }

    /// The sequence holding every action at the midpoint of the bounds, shape (horizon × actionDimension):
    /// the neutral initial mean (zero for symmetric bounds).
    public var midpointSequence: [Double] {
        var x = [Double](repeating: 0, count: sequenceLength)
        for t in 0..<horizon {
            for a in 0..<actionDimension {
                x[t * actionDimension + a] = 0.5 * (actionBounds.low[a] + actionBounds.high[a])
            }
        }
        return x
    }

    /// Default: nothing is kept, nothing to shift.
    public func advance(by steps: Int) {}
}

// MARK: - Shared helpers (internal)

/// Reads a reported cost the way every optimizer must: NaN and ±∞ become +∞.
@inline(__always)
func sanitizedCost(_ c: Double) -> Double { c.isFinite ? c : .infinity }

/// Indices of the finite costs, sorted by ascending cost (ties by index, so the order is deterministic).
func rankFinite(_ costs: [Double]) -> [Int] {
    var idx: [Int] = []
    idx.reserveCapacity(costs.count)
    for i in costs.indices where costs[i].isFinite { idx.append(i) }
    idx.sort { costs[$0] < costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }
    return idx
}

/// Calls `cost` and checks its contract (exactly `count` values), returning sanitized costs.
func evaluate(_ cost: BatchCost, _ population: [Double], _ count: Int) -> [Double] {
    let raw = cost(population, count)
    precondition(raw.count == count, "BatchCost returned \(raw.count) costs for \(count) candidates")
    return raw.map(sanitizedCost)
}

/// Bounds expanded over the horizon: lower and upper, each shape (horizon × actionDimension).
func expandedBounds(_ bounds: BoxSpace, horizon: Int) -> (low: [Double], high: [Double]) {
    precondition(bounds.dimension > 0 && horizon > 0, "planner needs horizon ≥ 1 and actionDimension ≥ 1")
    for a in 0..<bounds.dimension {
        precondition(bounds.low[a].isFinite && bounds.high[a].isFinite && bounds.low[a] <= bounds.high[a],
                     "planner bounds must be finite with low ≤ high")
    }
    var low = [Double](), high = [Double]()
    low.reserveCapacity(horizon * bounds.dimension); high.reserveCapacity(horizon * bounds.dimension)
    for _ in 0..<horizon { low += bounds.low; high += bounds.high }
    return (low, high)
}

/// Clamps `x` elementwise into [low, high]; a non-finite entry becomes the midpoint.
func clamped(_ x: [Double], low: [Double], high: [Double]) -> [Double] {
    precondition(x.count == low.count, "initial mean has \(x.count) entries, expected \(low.count)")
    var y = x
    for i in y.indices {
        y[i] = y[i].isFinite ? min(max(y[i], low[i]), high[i]) : 0.5 * (low[i] + high[i])
    }
    return y
}
