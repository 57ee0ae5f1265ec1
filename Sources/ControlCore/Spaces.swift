/// A box-shaped space `[low, high]` per dimension, as Gymnasium's `spaces.Box` (float64 here).
/// Unbounded dimensions use ±infinity.
public struct BoxSpace: Sendable, Hashable, Codable {
    /// Lower bounds, shape (dimension).
    public var low: [Double]
    /// Upper bounds, shape (dimension).
    public var high: [Double]

    /// - Precondition: `low.count == high.count` and `low[i] <= high[i]`.
    public init(low: [Double], high: [Double]) {
        precondition(low.count == high.count, "BoxSpace: low and high differ in length")
        self.low = low; self.high = high
    }
    /// The symmetric box `[-bound, bound]^dimension`.
    public init(dimension: Int, bound: Double) {
        self.init(low: Array(repeating: -bound, count: dimension), high: Array(repeating: bound, count: dimension))
    }
    /// Number of dimensions.
    public var dimension: Int { low.count }
    /// True when `x` has the right length and lies inside the bounds.
    public func contains(_ x: [Double]) -> Bool {
        x.count == dimension && zip(x, zip(low, high)).allSatisfy { $0.0 >= $0.1.0 && $0.0 <= $0.1.1 }
    }
    /// Clamps `x` into the box.
    public func clip(_ x: [Double]) -> [Double] {
        var y = x
        for i in y.indices { y[i] = Swift.min(Swift.max(y[i], low[i]), high[i]) }
        return y
    }
    /// A uniform sample (finite bounds required).
    public func sample(using rng: inout SeededRNG) -> [Double] {
        (0..<dimension).map { rng.uniform(low[$0], high[$0]) }
    }
}
