/// What one `Env.step` returns, with Gymnasium's semantics (`terminated` for a true end of the task such
/// as a fall, `truncated` for a time limit), plus a safety `cost` for constrained RL (≥ 0, 0 when safe).
public struct StepResult: Sendable {
    /// Observation after the step, shape (observation dimension).
    public var observation: [Double]
    public var reward: Double
    /// Safety cost of this step (Ha et al. 2020 style constraint signal); 0 when the step is safe.
    public var cost: Double
    public var terminated: Bool
    public var truncated: Bool
    /// Extra named values (e.g. `"forward_velocity"`, `"distance"`) and a reason when the episode ended.
    public var info: [String: Double]
    /// Why the episode ended (`"fall"`, `"diverged: …"`, `"success"`, `"time_limit"`), nil while running.
    public var endReason: String?

    public init(observation: [Double], reward: Double, cost: Double = 0, terminated: Bool, truncated: Bool,
                info: [String: Double] = [:], endReason: String? = nil) {
        self.observation = observation; self.reward = reward; self.cost = cost
        self.terminated = terminated; self.truncated = truncated; self.info = info; self.endReason = endReason
    }
    /// `terminated || truncated`.
    public var done: Bool { terminated || truncated }
}

/// An environment with Gymnasium's reset/step contract. Actions are normalized to [-1, 1] per dimension.
/// Implementations are deterministic for a given seed and support bit-exact `snapshot()`/`restore(_:)`, so
/// planners can use the simulator itself as a model.
public protocol Env: AnyObject {
    /// The type of a full-state snapshot.
    associatedtype Snapshot
    var observationSpace: BoxSpace { get }
    /// Normalized action space, `[-1, 1]^actionDimension`.
    var actionSpace: BoxSpace { get }
    /// Seconds of simulated time per `step`.
    var controlTimeStep: Double { get }
    /// Starts a new episode; `seed` re-seeds the environment's generator (nil keeps the current stream).
    func reset(seed: UInt64?) -> [Double]
    /// Advances one control step with a normalized action.
    func step(_ action: [Double]) -> StepResult
    /// Full simulator + task state.
    func snapshot() -> Snapshot
    /// Puts the environment back exactly into a snapshotted state.
    func restore(_ snapshot: Snapshot)
}

/// Anything that maps an observation to a normalized action: learned actors, MPC controllers, scripted and
/// random policies.
public protocol Policy: AnyObject {
    /// Called at the start of each episode.
    func reset(seed: UInt64)
    /// The action for `observation`, in [-1, 1]^A; `deterministic` asks for the mode where that means something.
    func act(_ observation: [Double], deterministic: Bool) -> [Double]
}

extension Policy {
    public func reset(seed: UInt64) {}
}

/// Uniformly random actions in [-1, 1].
public final class RandomPolicy: Policy {
    private var rng: SeededRNG
    private let dimension: Int
    public init(actionDimension: Int, seed: UInt64) { dimension = actionDimension; rng = SeededRNG(seed: seed) }
    public func reset(seed: UInt64) { rng = SeededRNG(seed: seed) }
    public func act(_ observation: [Double], deterministic: Bool) -> [Double] {
        (0..<dimension).map { _ in rng.uniform(-1, 1) }
    }
}

/// Always the zero action (for PD environments: hold the nominal pose; for torque control: no torque).
public final class ZeroPolicy: Policy {
    private let dimension: Int
    public init(actionDimension: Int) { dimension = actionDimension }
    public func act(_ observation: [Double], deterministic: Bool) -> [Double] { Array(repeating: 0, count: dimension) }
}
