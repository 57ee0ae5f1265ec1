// Excitation.swift: exciting trajectories for identification (Swevers, Ganseman, Tükel, De Schutter and Van
// Brussel 1997, "Optimal robot excitation and identification": finite Fourier series), and the open-loop
// prediction error that judges an identified model against a log.

import ControlCore
import Datasets
import Foundation
import Physics
import Robots

/// Settings of an exciting trajectory, every default written out.
public struct ExcitationSettings: Codable, Sendable, Hashable {
    /// Fundamental frequency ω_f / 2π, Hz: the trajectory repeats every 1 / this seconds.
    public var baseFrequency: Double = 0.1
    /// Harmonics per joint (the highest frequency is harmonics × baseFrequency).
    public var harmonics: Int = 5
    /// Largest excursion from the middle of each joint's range, as a fraction of its half-range.
    public var amplitude: Double = 0.7
    /// Largest speed, as a fraction of each joint's velocity limit.
    public var speedFraction: Double = 0.6
    /// Servo gains per N·m of the joint's effort limit: kp = this × effort (N·m/rad), kd = kdPerEffort × effort
    /// (N·m·s/rad).
    public var kpPerEffort: Double = 5
    public var kdPerEffort: Double = 0.5
    /// Lowest height of any link frame above the ground (z = 0, the robot's base frame), m: the excursions
    /// shrink until the whole trajectory keeps it.
    public var clearance: Double = 0.1
    public init() {}
}

/// A band-limited joint trajectory q_i(t) = c_i + Σ_l [a_il sin(l ω_f t) − b_il cos(l ω_f t)] / (l ω_f), random
/// coefficients scaled so every joint stays within `amplitude` of its range around the middle and below
/// `speedFraction` of its velocity limit (checked on a 1 ms grid over one period), then shrunk together until
/// every link frame stays `clearance` above the ground (a 10 ms grid). Nothing else about collisions is checked.
public struct FourierTrajectory: Sendable {
    public let settings: ExcitationSettings
    public let center: [Double]
    /// a_il, b_il per joint.
    public let a: [[Double]]
    public let b: [[Double]]

    public init(model: RobotModel, settings: ExcitationSettings = ExcitationSettings(), seed: UInt64) {
        self.settings = settings
        var rng = SeededRNG(seed: seed)
        let wf = 2 * Double.pi * settings.baseFrequency, period = 1 / settings.baseFrequency
        var center: [Double] = [], a: [[Double]] = [], b: [[Double]] = []
        for k in model.actuatedJoints {
            let joint = model.joints[k]
            let range = joint.range ?? (-Double.pi)...Double.pi
            let mid = 0.5 * (range.lowerBound + range.upperBound), half = 0.5 * (range.upperBound - range.lowerBound)
            var aj = (1...settings.harmonics).map { _ in rng.uniform(-1, 1) }
            var bj = (1...settings.harmonics).map { _ in rng.uniform(-1, 1) }
            // peak excursion and speed over one period at unit scale
            var peak = 0.0, peakSpeed = 0.0
            for t in stride(from: 0.0, to: period, by: 0.001) {
                let (x, v) = Self.excursion(aj, bj, wf: wf, t: t)
                peak = max(peak, abs(x)); peakSpeed = max(peakSpeed, abs(v))
            }
            let limitSpeed = (joint.limit?.velocity ?? 0) > 0 ? joint.limit!.velocity : 2.0
            let scale = min(settings.amplitude * half / max(peak, 1e-9), settings.speedFraction * limitSpeed / max(peakSpeed, 1e-9))
            aj = aj.map { $0 * scale }; bj = bj.map { $0 * scale }
            center.append(mid); a.append(aj); b.append(bj)
        }
        // keep every body's origin at least `clearance` above the ground: shrink all excursions until it is
        var shrink = 1.0
        for _ in 0..<20 {
            var lowest = Double.infinity
            for t in stride(from: 0.0, to: period, by: 0.01) {
                let q = center.indices.map { i in center[i] + shrink * Self.excursion(a[i], b[i], wf: wf, t: t).x }
                for pose in model.forwardKinematics(base: .identity, q: q).dropFirst() { lowest = min(lowest, pose.position.z) }
            }
            if lowest >= settings.clearance { break }
            shrink *= 0.8
        }
        self.center = center; self.a = a.map { $0.map { $0 * shrink } }; self.b = b.map { $0.map { $0 * shrink } }
    }

    /// One joint's series without its centre at time t: Σ_l (a_l sin lω_f t − b_l cos lω_f t)/(lω_f) and its
    /// derivative Σ_l (a_l cos lω_f t + b_l sin lω_f t).
    static func excursion(_ a: [Double], _ b: [Double], wf: Double, t: Double) -> (x: Double, v: Double) {
        var x = 0.0, v = 0.0
        for l in 1...a.count {
            let w = Double(l) * wf
            x += (a[l - 1] * sin(w * t) - b[l - 1] * cos(w * t)) / w
            v += a[l - 1] * cos(w * t) + b[l - 1] * sin(w * t)
        }
        return (x, v)
    }

    /// Desired positions, velocities and accelerations at time t (s).
    public func state(at t: Double) -> (q: [Double], qd: [Double], qdd: [Double]) {
        let wf = 2 * Double.pi * settings.baseFrequency
        var q = center, qd = [Double](repeating: 0, count: center.count), qdd = qd
        for i in center.indices {
            for l in 1...settings.harmonics {
                let w = Double(l) * wf, s = sin(w * t), c = cos(w * t)
                q[i] += (a[i][l - 1] * s - b[i][l - 1] * c) / w
                qd[i] += a[i][l - 1] * c + b[i][l - 1] * s
                qdd[i] += w * (-a[i][l - 1] * s + b[i][l - 1] * c)
            }
        }
        return (q, qd, qdd)
    }
}

/// Runs an exciting trajectory on a simulated fixed-base robot and logs it at `rate` Hz in the standard log
/// format: `joint_state.position/velocity/effort.<joint>` at the start of each step (the effort being the torque
/// the actuator applied during the step) and `action.<joint>`, the position target. The joints track the
/// trajectory with the simulator's position servos (a PD law with implicit damping, stable at any gain:
/// kp = kpPerEffort × effort limit, kd = kdPerEffort × effort limit, clamped at the effort limit); an explicit
/// PD at the log's rate chattered at the Nyquist frequency on the light wrist links.
/// - Parameters: `parameters`: the simulated robot's physical parameters (nil: the URDF's), so a log of a
///   robot that differs from its URDF can be made. `physicsStep`: the largest physics step, s (0.5 ms: ODE's
///   first-order step leaves O(step) errors in the velocity-dependent torques, which a log meant to stand for
///   a real robot should not carry into the damping estimates).
/// - Returns: the number of rows written.
/// - Throws: `SimulationError` if the simulation diverges, file errors from the writer (written atomically).
@discardableResult
public func recordExcitation(model: RobotModel, trajectory: FourierTrajectory, seconds: Double, rate: Double,
                             parameters: PhysicsParameters? = nil, physicsStep: Double = 0.0005, to url: URL) throws -> Int {
    var settings = WorldSettings()
    settings.solver = .exact
    settings.ground = false  // the trajectory keeps its clearance; contacts are not part of the model
    let substeps = max(1, Int((1 / rate / physicsStep).rounded(.up)))
    settings.timeStep = 1 / rate / Double(substeps)
    let limits = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? 0 }
    let servos = limits.map { effort -> ActuatorMode in
        let e = effort > 0 ? effort : 10
        return .position(kp: e * trajectory.settings.kpPerEffort, kd: e * trajectory.settings.kdPerEffort)
    }
    let sim = try RobotSimulation(model: model, settings: settings, base: .fixed, actuators: servos)
    if let parameters {
        var p = parameters
        let servoed = sim.nominalParameters.joints
        for i in p.joints.indices where p.joints[i].gains == nil { p.joints[i].gains = servoed[i].gains }
        try sim.apply(p)
    }
    let joints = model.jointNames
    let start = trajectory.state(at: 0)
    sim.setState(q: start.q, qd: start.qd)
    let columns = LogColumns.standard(joints: joints, floatingBase: false, observationDimension: 0)
    let writer = try LogWriter(url: url, columns: columns)
    let steps = Int((seconds * rate).rounded())
    do {
        for k in 0..<steps {
            let t = Double(k) / rate
            let (q, qd) = sim.jointState()
            let target = trajectory.state(at: t + 1 / rate).q
            let applied = try sim.step(commands: target, substeps: substeps)
            try writer.append([0, Double(k), t] + q + qd + applied + target + [0, 0, k == steps - 1 ? 1 : 0])
        }
        try writer.close()
    } catch {
        writer.discard()
        throw error
    }
    return steps
}

/// Open-loop prediction error of a model on a log: from the logged state at the start of every `horizon`
/// seconds, the simulator (exact solver, steps of at most `physicsStep`) is driven by the logged torques and its joint positions
/// are compared with the logged ones until the next restart. Returns the RMS position error over all joints and
/// samples, rad (m for sliders).
public func openLoopError(model: RobotModel, parameters: PhysicsParameters, log: JointLog, horizon: Double = 1,
                          physicsStep: Double = 0.0005) throws -> Double {
    var sum = 0.0, count = 0
    for episode in log.episodes {
        var settings = WorldSettings()
        settings.solver = .exact
        settings.ground = false
        let substeps = max(1, Int((episode.dt / physicsStep).rounded(.up)))
        settings.timeStep = episode.dt / Double(substeps)
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        try sim.apply(parameters)
        let n = model.dof, h = max(1, Int((horizon / episode.dt).rounded()))
        let velocity = episode.qd ?? episode.q.map { centralDifference($0, dt: episode.dt) }
        var start = 0
        while start + h < episode.count {
            sim.setState(q: (0..<n).map { episode.q[$0][start] }, qd: (0..<n).map { velocity[$0][start] })
            for k in start..<(start + h) {
                try sim.step(commands: (0..<n).map { episode.tau[$0][k] }, substeps: substeps)
                let q = sim.jointState().q
                for i in 0..<n { let e = q[i] - episode.q[i][k + 1]; sum += e * e; count += 1 }
            }
            start += h
        }
    }
    return count > 0 ? (sum / Double(count)).squareRoot() : .nan
}
