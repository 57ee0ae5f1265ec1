// TrajectoryMatching.swift: identification of parameters that no regressor reaches — ground friction, actuator
// strength, command latency — by matching simulated trajectories to a log (multiple shooting: the simulator
// restarts from the logged state every few steps), with the cross-entropy method over the continuous
// parameters, every integer latency tried, and a final golden-section refinement.

import ControlCore
import Datasets
import Foundation
import Physics
import Robots

/// A log of a floating-base robot: base pose and twist, joint states and the commands sent, per row.
public struct FloatingBaseLog: Sendable {
    public struct Episode: Sendable {
        public var dt: Double
        public var basePosition: [Vec3]
        public var baseOrientation: [Quat]
        public var baseLinearVelocity: [Vec3]
        public var baseAngularVelocity: [Vec3]
        /// [sample][joint].
        public var q: [[Double]]
        public var qd: [[Double]]
        /// The command sent at each row (`action.<joint>`: a PD target or a torque), before any latency.
        public var command: [[Double]]
        public var count: Int { q.count }
        public init(dt: Double, basePosition: [Vec3], baseOrientation: [Quat], baseLinearVelocity: [Vec3], baseAngularVelocity: [Vec3],
                    q: [[Double]], qd: [[Double]], command: [[Double]]) {
            self.dt = dt; self.basePosition = basePosition; self.baseOrientation = baseOrientation
            self.baseLinearVelocity = baseLinearVelocity; self.baseAngularVelocity = baseAngularVelocity
            self.q = q; self.qd = qd; self.command = command
        }
    }
    public var episodes: [Episode]
    public var source: String
    public init(episodes: [Episode], source: String) { self.episodes = episodes; self.source = source }

    /// Reads the standard columns (docs/LOG_FORMAT.md) for `model`'s joints.
    /// - Throws: `SystemIdentificationError.invalidInput` naming the file and the missing column or the bad row.
    public static func read(url: URL, model: RobotModel) throws -> FloatingBaseLog {
        let table = try LogReader.read(url: url)
        let source = url.path
        let joints = try loggedJoints(table, model: model, source: source)
        let needed = [LogColumns.timestamp] + LogColumns.basePosition + LogColumns.baseOrientation + LogColumns.baseLinearVelocity
            + LogColumns.baseAngularVelocity + joints.map(LogColumns.jointPosition) + joints.map(LogColumns.jointVelocity) + joints.map(LogColumns.action)
        let missing = needed.filter { !table.hasColumn($0) }
        guard missing.isEmpty else {
            throw SystemIdentificationError.invalidInput("\(source): missing columns \(missing.prefix(6).joined(separator: ", "))\(missing.count > 6 ? " … (\(missing.count) in all)" : "") (trajectory matching needs the base state, the joint states and the commands)")
        }
        let columns = try finiteColumns(table, needed, source: source)
        func col(_ name: String) -> [Double] { columns[name]! }
        let time = col(LogColumns.timestamp)
        let episodes = try uniformEpisodes(table, time: time, source: source).map { range, dt -> Episode in
            func vec(_ names: [String], _ r: Int) -> Vec3 { Vec3(col(names[0])[r], col(names[1])[r], col(names[2])[r]) }
            return Episode(
                dt: dt,
                basePosition: range.map { vec(LogColumns.basePosition, $0) },
                baseOrientation: range.map { r in
                    let o = LogColumns.baseOrientation.map { col($0)[r] }
                    return Quat(w: o[0], x: o[1], y: o[2], z: o[3]).normalized
                },
                baseLinearVelocity: range.map { vec(LogColumns.baseLinearVelocity, $0) },
                baseAngularVelocity: range.map { vec(LogColumns.baseAngularVelocity, $0) },
                q: range.map { r in joints.map { col(LogColumns.jointPosition($0))[r] } },
                qd: range.map { r in joints.map { col(LogColumns.jointVelocity($0))[r] } },
                command: range.map { r in joints.map { col(LogColumns.action($0))[r] } })
        }
        guard !episodes.isEmpty else { throw SystemIdentificationError.invalidInput("\(source): no rows") }
        return FloatingBaseLog(episodes: episodes, source: source)
    }
}

/// The parameters trajectory matching can estimate.
public enum MatchedParameter: String, CaseIterable, Codable, Sendable {
    /// Ground (contact) friction coefficient μ.
    case groundFriction = "ground.friction"
    /// One scale on every actuator's output (PD gains and effort limit together).
    case strength = "motor.strength"
    /// Command latency in control steps (an integer, tried exhaustively).
    case latency
}

/// Settings of `TrajectoryMatching`, every default written out.
public struct TrajectoryMatchingSettings: Codable, Sendable, Hashable {
    /// Control steps simulated from each logged state before restarting from the log (multiple shooting).
    public var segment: Int = 50
    /// Cross-entropy method: candidates per iteration, elites, iterations.
    public var population: Int = 16
    public var elites: Int = 4
    public var iterations: Int = 6
    /// Search ranges.
    public var frictionRange: ClosedRange<Double> = 0.1...2.0
    public var strengthRange: ClosedRange<Double> = 0.3...2.0
    public var latencyRange: ClosedRange<Int> = 0...4
    /// Golden-section steps of the final refinement, per continuous parameter.
    public var refinementSteps: Int = 12
    /// A parameter whose whole range changes the error by less than this fraction is reported as not
    /// excited by the log (and kept at its nominal value).
    public var sensitivityThreshold: Double = 0.01
    public var seed: UInt64 = 0
    public init() {}
}

/// What trajectory matching found.
public struct MatchingResult: Sendable {
    /// Estimate and spread (standard deviation of the final elites, 0 for the latency) per parameter.
    public var estimates: [MatchedParameter: Double]
    public var spread: [MatchedParameter: Double]
    public var nominal: [MatchedParameter: Double]
    /// Parameters whose range does not move the error (kept nominal).
    public var notExcited: [MatchedParameter]
    /// Mean squared prediction error (joint positions, rad², and base position, m², per row) before and after.
    public var errorBefore: Double
    public var errorAfter: Double
    /// The error of the best candidate at each latency tried.
    public var errorByLatency: [Int: Double]
    public var evaluations: Int
}

/// Estimates ground friction, actuator strength and latency of a simulated robot from a log by matching
/// trajectories. One simulation per worker (built by the caller exactly as the log's robot was simulated:
/// same URDF, time step, solver, actuators), run in parallel over candidates.
public final class TrajectoryMatching: @unchecked Sendable {
    public let simulations: [RobotSimulation]
    public let substeps: Int
    public let log: FloatingBaseLog
    public let settings: TrajectoryMatchingSettings
    public let nominal: PhysicsParameters
    private let maxLatency: Int

    public init(simulations: [RobotSimulation], substeps: Int, log: FloatingBaseLog, settings: TrajectoryMatchingSettings = TrajectoryMatchingSettings()) {
        precondition(!simulations.isEmpty)
        self.simulations = simulations
        self.substeps = substeps
        self.log = log
        self.settings = settings
        nominal = simulations[0].parameters
        maxLatency = settings.latencyRange.upperBound
    }

    /// The physical parameters of a candidate.
    public func parameters(friction: Double, strength: Double, latency: Int) -> PhysicsParameters {
        var p = nominal
        p.groundFriction = friction
        for i in p.joints.indices { p.joints[i].strength = strength }
        p.latency = 0  // the latency is applied to the logged commands instead
        return p
    }

    /// Mean squared error per row of the multiple-shooting prediction with these parameters.
    public func error(friction: Double, strength: Double, latency: Int, worker: Int = 0) -> Double {
        let sim = simulations[worker]
        do { try sim.apply(parameters(friction: friction, strength: strength, latency: latency)) } catch { return .infinity }
        var sum = 0.0, rows = 0
        for e in log.episodes {
            var k = maxLatency
            while k + 1 < e.count {
                sim.setState(basePose: Pose(position: e.basePosition[k], orientation: e.baseOrientation[k]),
                             baseLinearVelocity: e.baseLinearVelocity[k], baseAngularVelocity: e.baseAngularVelocity[k],
                             q: e.q[k], qd: e.qd[k])
                for t in k..<min(k + settings.segment, e.count - 1) {
                    do { try sim.step(commands: e.command[max(0, t - latency)], substeps: substeps) } catch { return .infinity }
                    let q = sim.jointState().q, base = sim.basePose.position
                    var s = 0.0
                    for i in q.indices { let d = q[i] - e.q[t + 1][i]; s += d * d }
                    let d = base - e.basePosition[t + 1]
                    sum += s + d.dot(d); rows += 1
                }
                k += settings.segment
            }
        }
        return rows > 0 ? sum / Double(rows) : .nan
    }

    /// Errors of many candidates, spread over the workers.
    func errors(_ candidates: [(friction: Double, strength: Double, latency: Int)]) -> [Double] {
        var out = [Double](repeating: .infinity, count: candidates.count)
        let workers = simulations.count
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let b = buffer
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for c in stride(from: w, to: candidates.count, by: workers) {
                    b[c] = error(friction: candidates[c].friction, strength: candidates[c].strength, latency: candidates[c].latency, worker: w)
                }
            }
        }
        return out
    }

    /// Estimates the parameters in `fit` (the others stay nominal).
    public func identify(_ fit: Set<MatchedParameter>, progress: ((String) -> Void)? = nil) -> MatchingResult {
        let friction0 = nominal.groundFriction, strength0 = nominal.joints.first?.strength ?? 1, latency0 = nominal.latency
        var evaluations = 0
        let before = error(friction: friction0, strength: strength0, latency: latency0)
        evaluations += 1
        var rng = SeededRNG(seed: settings.seed)
        let fitFriction = fit.contains(.groundFriction), fitStrength = fit.contains(.strength)
        let latencies = fit.contains(.latency) ? Array(settings.latencyRange) : [latency0]
        var best = (friction: friction0, strength: strength0, latency: latency0, error: Double.infinity)
        var spreads = (friction: 0.0, strength: 0.0)
        var byLatency: [Int: Double] = [:]
        for latency in latencies {
            // CEM over (friction, strength) in the unit box of their ranges
            var mean = (f: unit(friction0, settings.frictionRange), s: unit(strength0, settings.strengthRange)), sigma = (f: 0.3, s: 0.3)
            var latencyBest = (f: friction0, s: strength0, e: Double.infinity)
            for _ in 0..<(fitFriction || fitStrength ? settings.iterations : 1) {
                let samples = (0..<settings.population).map { _ -> (Double, Double) in
                    (fitFriction ? clamp01(mean.f + sigma.f * rng.normal()) : mean.f, fitStrength ? clamp01(mean.s + sigma.s * rng.normal()) : mean.s)
                }
                let candidates = samples.map { (friction: value($0.0, settings.frictionRange), strength: value($0.1, settings.strengthRange), latency: latency) }
                let e = errors(candidates)
                evaluations += candidates.count
                let order = e.indices.sorted { e[$0] < e[$1] }
                let elite = order.prefix(settings.elites).map { samples[$0] }
                if e[order[0]] < latencyBest.e { latencyBest = (candidates[order[0]].friction, candidates[order[0]].strength, e[order[0]]) }
                let mf = elite.map(\.0).reduce(0, +) / Double(elite.count), ms = elite.map(\.1).reduce(0, +) / Double(elite.count)
                let sf = (elite.map { ($0.0 - mf) * ($0.0 - mf) }.reduce(0, +) / Double(elite.count)).squareRoot()
                let ss = (elite.map { ($0.1 - ms) * ($0.1 - ms) }.reduce(0, +) / Double(elite.count)).squareRoot()
                mean = (mf, ms); sigma = (max(sf, 0.005), max(ss, 0.005))
                if !fitFriction && !fitStrength { break }
            }
            byLatency[latency] = latencyBest.e
            progress?(String(format: "latency %d: error %.4g at friction %.3f, strength %.3f", latency, latencyBest.e, latencyBest.f, latencyBest.s))
            if latencyBest.e < best.error {
                best = (latencyBest.f, latencyBest.s, latency, latencyBest.e)
                spreads = (sigma.f * (settings.frictionRange.upperBound - settings.frictionRange.lowerBound),
                           sigma.s * (settings.strengthRange.upperBound - settings.strengthRange.lowerBound))
            }
        }
        // golden-section refinement of each continuous parameter around the best, the other fixed
        func refine(_ x0: Double, _ range: ClosedRange<Double>, width: Double, _ f: (Double) -> Double) -> Double {
            var a = max(range.lowerBound, x0 - width), b = min(range.upperBound, x0 + width)
            let g = (5.0.squareRoot() - 1) / 2
            var c = b - g * (b - a), d = a + g * (b - a), fc = f(c), fd = f(d)
            for _ in 0..<settings.refinementSteps {
                if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c) } else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d) }
            }
            return fc < fd ? c : d
        }
        if fitFriction {
            let x = refine(best.friction, settings.frictionRange, width: max(3 * spreads.friction, 0.05)) { f in
                evaluations += 1; return error(friction: f, strength: best.strength, latency: best.latency)
            }
            let e = error(friction: x, strength: best.strength, latency: best.latency)
            if e < best.error { best.friction = x; best.error = e }
        }
        if fitStrength {
            let x = refine(best.strength, settings.strengthRange, width: max(3 * spreads.strength, 0.05)) { s in
                evaluations += 1; return error(friction: best.friction, strength: s, latency: best.latency)
            }
            let e = error(friction: best.friction, strength: x, latency: best.latency)
            if e < best.error { best.strength = x; best.error = e }
        }
        // sensitivity: does the parameter's whole range move the error at the optimum?
        var notExcited: [MatchedParameter] = []
        if fitFriction {
            let ends = errors([(settings.frictionRange.lowerBound, best.strength, best.latency), (settings.frictionRange.upperBound, best.strength, best.latency)])
            evaluations += 2
            if (ends.max()! - best.error) < settings.sensitivityThreshold * best.error { notExcited.append(.groundFriction); best.friction = friction0 }
        }
        if fitStrength {
            let ends = errors([(best.friction, settings.strengthRange.lowerBound, best.latency), (best.friction, settings.strengthRange.upperBound, best.latency)])
            evaluations += 2
            if (ends.max()! - best.error) < settings.sensitivityThreshold * best.error { notExcited.append(.strength); best.strength = strength0 }
        }
        let after = error(friction: best.friction, strength: best.strength, latency: best.latency)
        var estimates: [MatchedParameter: Double] = [:], spread: [MatchedParameter: Double] = [:]
        if fitFriction { estimates[.groundFriction] = best.friction; spread[.groundFriction] = spreads.friction }
        if fitStrength { estimates[.strength] = best.strength; spread[.strength] = spreads.strength }
        if fit.contains(.latency) { estimates[.latency] = Double(best.latency); spread[.latency] = 0 }
        return MatchingResult(estimates: estimates, spread: spread,
                              nominal: [.groundFriction: friction0, .strength: strength0, .latency: Double(latency0)],
                              notExcited: notExcited, errorBefore: before, errorAfter: after, errorByLatency: byLatency,
                              evaluations: evaluations)
    }

    private func unit(_ x: Double, _ r: ClosedRange<Double>) -> Double { clamp01((x - r.lowerBound) / (r.upperBound - r.lowerBound)) }
    private func value(_ u: Double, _ r: ClosedRange<Double>) -> Double { r.lowerBound + u * (r.upperBound - r.lowerBound) }
    private func clamp01(_ x: Double) -> Double { min(1, max(0, x)) }
}
