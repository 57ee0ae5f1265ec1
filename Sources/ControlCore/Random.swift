/// A small, fast, seedable random number generator (xoshiro256**, Blackman & Vigna 2018), seeded through
/// SplitMix64. Every stochastic part of the package takes one explicitly (`inout`) so runs are reproducible
/// from a seed, as Brax and Gymnasium do.
public struct SeededRNG: RandomNumberGenerator, Sendable, Hashable, Codable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Creates a generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&sm); s1 = splitmix(&sm); s2 = splitmix(&sm); s3 = splitmix(&sm)
    }

    /// The generator's four state words (for checkpoints: JSON numbers above 2⁵³ do not survive every
    /// decoder, so store them as text, e.g. `String(word, radix: 16)`).
    public var stateWords: [UInt64] { [s0, s1, s2, s3] }

    /// A generator in the given state (`stateWords` of another), nil unless four words, not all zero.
    public init?(stateWords w: [UInt64]) {
        guard w.count == 4, w.contains(where: { $0 != 0 }) else { return nil }
        s0 = w[0]; s1 = w[1]; s2 = w[2]; s3 = w[3]
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform `Double` in [0, 1).
    @inlinable public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    /// A uniform `Double` in [lo, hi).
    @inlinable public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }
    /// A standard normal sample (Box–Muller).
    public mutating func normal() -> Double {
        var u1 = uniform()
        while u1 <= .leastNormalMagnitude { u1 = uniform() }
        let u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
    /// A child generator for a sub-stream (e.g. one per worker), independent of later draws from `self`.
    public mutating func split() -> SeededRNG { SeededRNG(seed: next()) }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
