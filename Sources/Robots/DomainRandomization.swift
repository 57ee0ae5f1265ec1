// DomainRandomization.swift: distributions over a robot's physical parameters, sampled per episode (Tan et al.
// 2018, "Sim-to-Real: Learning Agile Locomotion For Quadruped Robots"; Peng et al. 2018, "Sim-to-Real Transfer
// of Robotic Control with Dynamics Randomization").

import ControlCore
import Foundation

/// How one parameter is drawn.
public enum SamplingDistribution: String, ConfigChoice, Sendable, Hashable {
    /// Not randomized: the nominal value.
    case none
    /// Uniform on [low, high].
    case uniform
    /// log x uniform on [log low, log high] (low > 0): scales spread evenly in ratio.
    case logUniform = "log-uniform"
    /// Normal with mean (low + high)/2 and standard deviation `std`, clipped to [low, high].
    case normal
}

/// One randomized parameter: a distribution and its bounds.
public struct ParameterDistribution: Codable, Sendable, Hashable, ConfigRanges {
    public var distribution: SamplingDistribution
    public var low: Double
    public var high: Double
    /// Standard deviation of `normal` (ignored otherwise).
    public var std: Double

    public init(_ distribution: SamplingDistribution, _ low: Double, _ high: Double, std: Double = 0) {
        self.distribution = distribution; self.low = low; self.high = high; self.std = std
    }

    public static var ranges: [String: ConfigRange] {
        ["low": ConfigRange(-1e6, 1e6), "high": ConfigRange(-1e6, 1e6), "std": ConfigRange(0, 1e6)]
    }

    public func crossChecks() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        if low > high { out.append(ConfigViolation(keyPath: "low", message: "\(low) is above high (\(high))", related: ["high"])) }
        if distribution == .logUniform && low <= 0 {
            out.append(ConfigViolation(keyPath: "low", message: "log-uniform needs low > 0, not \(low)", related: ["distribution"]))
        }
        return out
    }

    /// A draw, or nil when not randomized.
    public func sample(_ rng: inout SeededRNG) -> Double? {
        switch distribution {
        case .none: return nil
        case .uniform: return rng.uniform(low, high)
        case .logUniform: return exp(rng.uniform(log(low), log(high)))
        case .normal: return min(high, max(low, 0.5 * (low + high) + std * rng.normal()))
        }
    }
}

/// Distributions over the fields of `PhysicsParameters`, sampled at each episode's reset from the episode's seed
/// (reproducible), applied to the live world (never by rebuilding the robot). Every body and every joint draws
/// its own value. The defaults are Tan et al. 2018's ranges for a quadruped (`configs/randomization.yaml` writes
/// them out): mass 80–120 %, inertia 50–150 %, motor strength 80–120 %, motor damping 0–0.05 N·m·s/rad, latency
/// 0–40 ms (0–2 control steps at 50 Hz), ground friction 0.5–1.25, joint Coulomb friction 0–0.05 N·m. Not yet
/// randomized: observation and action noise and pushes.
public struct DomainRandomization: Codable, Sendable, Hashable, ConfigRanges {
    /// Scale of each body's mass and inertia together (same shape, other density).
    public var massScale = ParameterDistribution(.uniform, 0.8, 1.2)
    /// Scale of each body's inertia alone (mass unchanged).
    public var inertiaScale = ParameterDistribution(.uniform, 0.5, 1.5)
    /// Offset of each body's centre of mass along each axis of its frame, m.
    public var comOffset = ParameterDistribution(.none, -0.01, 0.01)
    /// Ground friction coefficient μ (absolute).
    public var groundFriction = ParameterDistribution(.uniform, 0.5, 1.25)
    /// Each joint's viscous damping, N·m·s/rad (absolute).
    public var jointDamping = ParameterDistribution(.uniform, 0, 0.05)
    /// Each joint's Coulomb friction, N·m (absolute).
    public var jointFriction = ParameterDistribution(.uniform, 0, 0.05)
    /// Each actuator's strength (scale of its output).
    public var strength = ParameterDistribution(.uniform, 0.8, 1.2)
    /// Scale of each position servo's PD gains.
    public var gainScale = ParameterDistribution(.none, 0.8, 1.2)
    /// Command latency, control steps (rounded to the nearest integer).
    public var latency = ParameterDistribution(.uniform, 0, 2)
    /// Mixed into the episode seed, so the parameters do not share the reset's random stream.
    public var seedOffset: UInt64 = 0x5EED_D0_5EED

    public init() {}

    public static var ranges: [String: ConfigRange] { ["seedOffset": .seed] }

    public func crossChecks() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        for (key, d, lowest) in [("massScale", massScale, 0.0), ("inertiaScale", inertiaScale, 0.0), ("groundFriction", groundFriction, 0.0),
                                 ("strength", strength, 0.0), ("gainScale", gainScale, 0.0)] where d.distribution != .none && d.low <= lowest {
            out.append(ConfigViolation(keyPath: "\(key).low", message: "must be positive, not \(d.low)"))
        }
        for (key, d) in [("jointDamping", jointDamping), ("jointFriction", jointFriction), ("latency", latency)] where d.distribution != .none && d.low < 0 {
            out.append(ConfigViolation(keyPath: "\(key).low", message: "must be at least 0, not \(d.low)"))
        }
        if latency.distribution != .none && latency.high > Double(PhysicsParameters.maximumLatency) {
            out.append(ConfigViolation(keyPath: "latency.high", message: "at most \(PhysicsParameters.maximumLatency) control steps"))
        }
        return out
    }

    /// The parameters of the episode with seed `seed`: `nominal` with every randomized field drawn.
    public func sample(nominal: PhysicsParameters, seed: UInt64) -> PhysicsParameters {
        var rng = SeededRNG(seed: seed ^ seedOffset)
        var p = nominal
        for i in p.bodies.indices {
            if let s = massScale.sample(&rng) { p.bodies[i].scaleMass(by: s) }
            if let s = inertiaScale.sample(&rng) { p.bodies[i].scaleInertia(by: s) }
            if comOffset.distribution != .none {
                let d = Vec3(comOffset.sample(&rng)!, comOffset.sample(&rng)!, comOffset.sample(&rng)!)
                p.bodies[i].centerOfMass += d
            }
        }
        if let mu = groundFriction.sample(&rng) { p.groundFriction = mu }
        for i in p.joints.indices {
            if let d = jointDamping.sample(&rng) { p.joints[i].damping = d }
            if let f = jointFriction.sample(&rng) { p.joints[i].friction = f }
            if let s = strength.sample(&rng) { p.joints[i].strength = s }
            if let g = gainScale.sample(&rng), let gains = p.joints[i].gains {
                p.joints[i].gains = PhysicsParameters.PDGains(kp: gains.kp * g, kd: gains.kd * g)
            }
        }
        if let l = latency.sample(&rng) { p.latency = Int(l.rounded()) }
        return p
    }

    /// A few numbers that summarize a draw, for robustness tables: total mass relative to nominal, ground
    /// friction, mean actuator strength, latency (control steps), mean joint damping.
    public static func summary(_ p: PhysicsParameters, nominal: PhysicsParameters) -> [(name: String, value: Double)] {
        let mass = p.bodies.reduce(0) { $0 + $1.mass } / max(nominal.bodies.reduce(0) { $0 + $1.mass }, 1e-12)
        let n = Double(max(p.joints.count, 1))
        return [("mass scale (total)", mass), ("ground friction", p.groundFriction),
                ("strength (mean)", p.joints.reduce(0) { $0 + $1.strength } / n), ("latency (steps)", Double(p.latency)),
                ("joint damping (mean)", p.joints.reduce(0) { $0 + $1.damping } / n)]
    }
}
