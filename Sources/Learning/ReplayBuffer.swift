// ReplayBuffer.swift: SAC's uniform experience replay (a ring buffer of transitions).

import ControlCore
import Foundation
import NeuralNets

/// A ring buffer of transitions (s, a, r, c, s′, terminated) stored flat in `Float`, sampled uniformly
/// with replacement (Haarnoja et al. 2018; capacity 10⁶ by default). Observations are stored raw
/// (unnormalized), so the normalizer can keep learning; `terminated` is a true end (a fall), not a time
/// limit: SAC bootstraps through truncations (Pardo et al. 2018).
public struct ReplayBuffer: Sendable, Equatable {
    public let capacity: Int
    public let observationDimension: Int
    public let actionDimension: Int
    /// Transitions held (≤ capacity).
    public private(set) var count = 0
    /// Where the next transition goes.
    public private(set) var position = 0
    public private(set) var observations: [Float]
    public private(set) var actions: [Float]
    public private(set) var rewards: [Float]
    public private(set) var costs: [Float]
    public private(set) var nextObservations: [Float]
    public private(set) var terminals: [Float]

    public init(capacity: Int, observationDimension: Int, actionDimension: Int) {
        precondition(capacity > 0 && observationDimension > 0 && actionDimension > 0)
        self.capacity = capacity
        self.observationDimension = observationDimension
        self.actionDimension = actionDimension
        observations = []; actions = []; rewards = []; costs = []; nextObservations = []; terminals = []
    }

    /// Restores a buffer from its arrays (a checkpoint), validating every size.
    public init(capacity: Int, observationDimension: Int, actionDimension: Int, count: Int, position: Int,
                observations: [Float], actions: [Float], rewards: [Float], costs: [Float],
                nextObservations: [Float], terminals: [Float]) throws {
        self.init(capacity: capacity, observationDimension: observationDimension, actionDimension: actionDimension)
        guard count >= 0, count <= capacity, position >= 0, position < capacity, count == capacity || position == count,
              observations.count == count * observationDimension, nextObservations.count == count * observationDimension,
              actions.count == count * actionDimension, rewards.count == count, costs.count == count, terminals.count == count
        else {
            throw LearningError.corruptCheckpoint("replay buffer: \(count) transitions at position \(position) (capacity \(capacity)) "
                                                  + "do not match its arrays (\(observations.count) observation values, \(actions.count) action values, \(rewards.count) rewards)")
        }
        self.count = count; self.position = position
        self.observations = observations; self.actions = actions; self.rewards = rewards; self.costs = costs
        self.nextObservations = nextObservations; self.terminals = terminals
    }

    /// Appends one transition (overwriting the oldest when full).
    public mutating func append(observation: [Double], action: [Double], reward: Double, cost: Double,
                                nextObservation: [Double], terminated: Bool) {
        precondition(observation.count == observationDimension && nextObservation.count == observationDimension
                     && action.count == actionDimension)
        if count < capacity {
            observations += observation.map(Float.init); actions += action.map(Float.init)
            rewards.append(Float(reward)); costs.append(Float(cost))
            nextObservations += nextObservation.map(Float.init); terminals.append(terminated ? 1 : 0)
            count += 1
        } else {
            let o = position * observationDimension, a = position * actionDimension
            for i in 0..<observationDimension {
                observations[o + i] = Float(observation[i]); nextObservations[o + i] = Float(nextObservation[i])
            }
            for i in 0..<actionDimension { actions[a + i] = Float(action[i]) }
            rewards[position] = Float(reward); costs[position] = Float(cost); terminals[position] = terminated ? 1 : 0
        }
        position = (position + 1) % capacity
    }

    /// Appends `n` transitions given as row-major `Float` blocks (model rollouts), overwriting the oldest when full.
    public mutating func append(rows n: Int, observations o: UnsafePointer<Float>, actions a: UnsafePointer<Float>,
                                rewards r: UnsafePointer<Float>, costs c: UnsafePointer<Float>,
                                nextObservations o2: UnsafePointer<Float>, terminals t: UnsafePointer<Float>) {
        let d = observationDimension, m = actionDimension
        for i in 0..<n {
            if count < capacity {
                observations.append(contentsOf: UnsafeBufferPointer(start: o + i * d, count: d))
                actions.append(contentsOf: UnsafeBufferPointer(start: a + i * m, count: m))
                rewards.append(r[i]); costs.append(c[i]); terminals.append(t[i])
                nextObservations.append(contentsOf: UnsafeBufferPointer(start: o2 + i * d, count: d))
                count += 1
            } else {
                observations.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: position * d).update(from: o + i * d, count: d) }
                nextObservations.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: position * d).update(from: o2 + i * d, count: d) }
                actions.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: position * m).update(from: a + i * m, count: m) }
                rewards[position] = r[i]; costs[position] = c[i]; terminals[position] = t[i]
            }
            position = (position + 1) % capacity
        }
    }

    /// The same transitions in a buffer of another capacity: the newest `min(count, capacity)` of them, oldest
    /// first (MBPO's model buffer grows with the rollout length and keeps what it can).
    public func resized(capacity newCapacity: Int) -> ReplayBuffer {
        var out = ReplayBuffer(capacity: newCapacity, observationDimension: observationDimension, actionDimension: actionDimension)
        let keep = min(count, newCapacity)
        let oldest = count < capacity ? 0 : position  // chronological order starts here
        let first = (oldest + count - keep) % capacity
        var i = 0
        while i < keep {
            let start = (first + i) % capacity
            let run = min(keep - i, capacity - start)  // contiguous stretch before the ring wraps
            observations.withUnsafeBufferPointer { o in nextObservations.withUnsafeBufferPointer { o2 in
                actions.withUnsafeBufferPointer { a in rewards.withUnsafeBufferPointer { r in
                    costs.withUnsafeBufferPointer { c in terminals.withUnsafeBufferPointer { t in
                        out.append(rows: run, observations: o.baseAddress! + start * observationDimension, actions: a.baseAddress! + start * actionDimension,
                                   rewards: r.baseAddress! + start, costs: c.baseAddress! + start,
                                   nextObservations: o2.baseAddress! + start * observationDimension, terminals: t.baseAddress! + start)
                    } }
                } }
            } }
            i += run
        }
        return out
    }

    /// Mean cost of the `n` most recent transitions (fewer when the buffer holds fewer; 0 when empty).
    public func meanRecentCost(_ n: Int) -> Double {
        let m = min(n, count)
        guard m > 0 else { return 0 }
        var total = 0.0
        for k in 1...m { total += Double(costs[(position - k + capacity) % capacity]) }
        return total / Double(m)
    }

    /// A minibatch: row-major matrices of the sampled transitions.
    public struct Batch: Sendable {
        public var observations: Matrix
        public var actions: Matrix
        public var rewards: [Float]
        public var costs: [Float]
        public var nextObservations: Matrix
        public var terminals: [Float]
    }

    /// `size` transitions, `real` of them from this buffer and the rest from `other` (all from this buffer when
    /// `other` is empty), rows in that order: MBPO's minibatch of real and model data (Janner et al. 2019).
    public func sample(_ size: Int, real: Int, other: ReplayBuffer, rng: inout SeededRNG, normalizer: RunningNormalizer?) -> Batch {
        guard other.count > 0, real < size else { return sample(size, rng: &rng, normalizer: normalizer) }
        let a = real > 0 ? sample(real, rng: &rng, normalizer: normalizer) : nil
        let b = other.sample(size - real, rng: &rng, normalizer: normalizer)
        guard let a else { return b }
        return Batch(observations: a.observations.concatenatingRows(b.observations), actions: a.actions.concatenatingRows(b.actions),
                     rewards: a.rewards + b.rewards, costs: a.costs + b.costs,
                     nextObservations: a.nextObservations.concatenatingRows(b.nextObservations), terminals: a.terminals + b.terminals)
    }

    /// `size` transitions drawn uniformly with replacement; observations normalized by `normalizer` if given.
    public func sample(_ size: Int, rng: inout SeededRNG, normalizer: RunningNormalizer? = nil) -> Batch {
        precondition(count > 0, "ReplayBuffer: empty")
        precondition(normalizer == nil || normalizer!.dimension == observationDimension)
        let d = observationDimension, a = actionDimension
        let index = (0..<size).map { _ in Int(rng.next() % UInt64(count)) }
        func gather(_ source: [Float], _ width: Int, normalized: Bool) -> Matrix {
            Matrix(rows: size, cols: width) { out in
                source.withUnsafeBufferPointer { src in
                    for (r, i) in index.enumerated() {
                        (out.baseAddress! + r * width).update(from: src.baseAddress! + i * width, count: width)
                    }
                }
                if normalized, let normalizer { normalizer.normalizeRows(out) }
            }
        }
        return Batch(observations: gather(observations, d, normalized: true), actions: gather(actions, a, normalized: false),
                     rewards: index.map { rewards[$0] }, costs: index.map { costs[$0] },
                     nextObservations: gather(nextObservations, d, normalized: true), terminals: index.map { terminals[$0] })
    }
}

/// Running mean and variance of observations (Welford/Chan in `Double`), used to normalize the inputs of
/// the actor and critics: x̂ = clip((x − mean) / √(var + ε), ±clip). Frozen into the exported policy.
public struct RunningNormalizer: Sendable, Equatable, Codable {
    public private(set) var count: Double = 0
    public private(set) var mean: [Double]
    /// Σ (x − mean)², per dimension.
    public private(set) var sumSquares: [Double]
    public var epsilon: Double = 1e-8
    public var clip: Double = 10

    public init(dimension: Int) {
        mean = Array(repeating: 0, count: dimension)
        sumSquares = Array(repeating: 0, count: dimension)
    }

    /// A frozen normalizer (a policy file): x̂ = clip((x − mean) / std, ±clip).
    public init(mean: [Double], std: [Double], clip: Double = 10) {
        precondition(mean.count == std.count)
        count = 1; self.mean = mean; sumSquares = std.map { $0 * $0 }
        frozenStd = std; self.clip = clip
    }

    /// The divisor of a frozen normalizer (nil while it is learning).
    public private(set) var frozenStd: [Double]?

    /// √(var + ε) per dimension (or the frozen divisor).
    public var std: [Double] { frozenStd ?? variance.map { ($0 + epsilon).squareRoot() } }

    public var dimension: Int { mean.count }
    /// Population variance per dimension (1 before any data).
    public var variance: [Double] { count > 0 ? sumSquares.map { $0 / count } : Array(repeating: 1, count: dimension) }

    /// Adds one observation.
    public mutating func update(_ x: [Double]) {
        precondition(x.count == dimension)
        count += 1
        for i in 0..<dimension {
            let delta = x[i] - mean[i]
            mean[i] += delta / count
            sumSquares[i] += delta * (x[i] - mean[i])
        }
    }

    /// Normalizes one observation.
    public func normalize(_ x: [Double]) -> [Float] {
        let s = std
        return (0..<dimension).map { i in Self.scaled(x[i], mean: mean[i], std: s[i], clip: clip) }
    }

    /// Normalizes a row-major block of `Float` observations in place (the replay buffer's minibatches), in
    /// `Double` as `normalize(_:)`. - Precondition: the block holds whole rows of `dimension` values.
    public func normalizeRows(_ block: UnsafeMutableBufferPointer<Float>) {
        let d = dimension
        precondition(d > 0 && block.count % d == 0, "RunningNormalizer: \(block.count) values are not rows of \(d)")
        let s = std, c = clip
        mean.withUnsafeBufferPointer { m in
            s.withUnsafeBufferPointer { s in
                var k = 0
                while k < block.count {
                    for i in 0..<d { block[k + i] = Self.scaled(Double(block[k + i]), mean: m[i], std: s[i], clip: c) }
                    k += d
                }
            }
        }
    }

    /// clip((x − mean) / std, ±clip) as `Float`.
    @inline(__always)
    static func scaled(_ x: Double, mean: Double, std: Double, clip: Double) -> Float {
        Float(max(-clip, min(clip, (x - mean) / std)))
    }
}

/// What training can refuse: a damaged checkpoint or policy file, a policy for another environment, a
/// diverging update.
public enum LearningError: Error, CustomStringConvertible, Equatable {
    case corruptCheckpoint(String)
    case invalidPolicy(file: String, reason: String)
    case incompatiblePolicy(file: String, reason: String)
    case diverged(String)

    public var description: String {
        switch self {
        case .corruptCheckpoint(let m): "corrupt checkpoint: \(m)"
        case .invalidPolicy(let f, let r): "\(f): not a policy file this tool can use: \(r)"
        case .incompatiblePolicy(let f, let r): "\(f): the policy does not fit this environment: \(r)"
        case .diverged(let m): "training diverged: \(m)"
        }
    }
}
