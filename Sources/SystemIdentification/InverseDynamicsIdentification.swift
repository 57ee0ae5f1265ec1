// InverseDynamicsIdentification.swift: weighted least squares on the inverse-dynamics regressor of a fixed-base
// arm (Atkeson, An and Hollerbach 1986; Gautier and Khalil's weighted least squares and base parameters),
// from a log of joint positions and torques.

import ControlCore
import Foundation
import LinAlg
import Physics
import Robots

/// Settings of `InverseDynamicsIdentification`, every default written out.
public struct IdentificationSettings: Codable, Sendable, Hashable {
    /// Cutoff of the zero-phase low-pass applied to positions, velocities and torques alike, Hz.
    public var cutoff: Double = 20
    /// Rate the filtered signals are sampled at for the regression, Hz (at most the log's rate).
    public var sampleRate: Double = 100
    /// Seconds dropped at both ends of each episode (the filter's edges).
    public var trim: Double = 0.5
    /// A joint slower than this (rad/s) may be sticking (its friction torque is then unknown within ±f): its
    /// row is left out of that sample.
    public var frictionVelocityThreshold: Double = 0.05
    /// Ridge toward the nominal values, relative to the mean diagonal of the scaled normal matrix: it only
    /// decides the directions the data leaves free (they stay nominal).
    public var regularization: Double = 1e-9
    /// An eigenvalue of the normal matrix scaled to unit diagonal below this fraction of the largest is a
    /// direction the data does not determine.
    public var identifiabilityTolerance: Double = 1e-8
    /// The shortest log accepted, s.
    public var minimumDuration: Double = 5
    /// How a row's torque relates to time: `hold`, the torque applied from this row's time to the next one (a
    /// controller's command, or `mbc excite`'s effort), or `sample`, an instantaneous reading at the row's time
    /// (a torque sensor sampled from a continuous signal).
    public var torqueTiming: TorqueTiming = .hold
    public enum TorqueTiming: String, Codable, Sendable, Hashable { case hold, sample }
    public init() {}
}

/// What the data says about one parameter.
public enum ParameterStatus: String, Codable, Sendable {
    /// Determined by the log on its own.
    case identified
    /// Only combinations with other parameters reach the torques (Gautier's base parameters regroup it); its
    /// estimate is the nominal value moved along the identified combinations.
    case combination
    /// Never reaches the torques of this robot (e.g. a link's inertia about axes its joints never turn).
    case noEffect = "no-effect"
    /// Identifiable in principle, but this log does not excite it: it stays near its nominal value.
    case notExcited = "not-excited"
}

/// The outcome of an identification.
public struct IdentificationResult: Sendable {
    public var names: [String]
    public var nominal: [Double]
    public var estimate: [Double]
    /// Standard error of each `.identified` parameter (nil for the others).
    public var standardError: [Double?]
    public var status: [ParameterStatus]
    /// Rank of the regression on this log, and the number of base parameters of the robot (random motions).
    public var rank: Int
    public var structuralRank: Int
    /// Regression rows (samples × joints) and the RMS torque residual per joint, N·m, before (nominal) and after.
    public var rows: Int
    public var residualBefore: [Double]
    public var residualAfter: [Double]
    /// The identified physical parameters (bodies: mass, centre of mass, inertia about it; joints: damping,
    /// friction) and the bodies whose inertia had to be projected to be physically consistent.
    public var parameters: PhysicsParameters
    public var projectedBodies: [String]
}

/// Identifies the inertial and friction parameters of a fixed-base arm from a log.
///
/// 1. Each joint's position, velocity (logged, or differentiated) and torque go through the same zero-phase
///    Butterworth low-pass (`ZeroPhaseLowPass`); a held torque is paired with the mean acceleration over its
///    interval and the state at the interval's middle (a sampled torque with central differences at its
///    time); the signals are sampled at `sampleRate` after dropping `trim` seconds at each end.
/// 2. Each sample gives `dof` rows of τ = Y(q, q̇, q̈) π (`RigidBodyRegressor`).
/// 3. Columns are scaled to the size of their nominal value, and π − π₀ solves ordinary least squares, then
///    weighted least squares with each joint's rows weighted by the inverse of its residual standard deviation
///    (Gautier), with a tiny ridge toward π₀ that only pins the directions the data leaves free.
/// 4. The eigenvectors of the normal matrix with (relatively) zero eigenvalues tell which parameters are
///    determined, which only in combination, which never act; the same analysis on random motions separates
///    "this robot cannot tell" from "this log does not excite".
/// 5. Each body's inertia about its centre of mass is projected to a physical one (principal moments
///    positive and satisfying the triangle inequality) when the estimate is not.
public struct InverseDynamicsIdentification: Sendable {
    public let regressor: RigidBodyRegressor
    public let settings: IdentificationSettings
    /// The starting point (the URDF's values).
    public let nominal: PhysicsParameters

    public init(model: RobotModel, nominal: PhysicsParameters, settings: IdentificationSettings = IdentificationSettings()) throws {
        regressor = try RigidBodyRegressor(model: model)
        self.settings = settings
        self.nominal = nominal
    }

    /// Column scales: the size of each parameter's nominal value (with floors), so the normal matrix is
    /// dimensionless.
    var scales: [Double] {
        let pi0 = (try? regressor.parameterVector(nominal)) ?? []
        var s: [Double] = []
        for k in regressor.bodies.indices {
            let m = max(pi0[10 * k], 0.1)
            let inertia = max((pi0[10 * k + 4] + pi0[10 * k + 7] + pi0[10 * k + 9]) / 3, 1e-3)
            s += [m, 0.1 * m, 0.1 * m, 0.1 * m] + Array(repeating: inertia, count: 6)
        }
        let n = regressor.dof, i0 = regressor.inertialParameterCount
        s += (0..<n).map { max(pi0[i0 + $0], 0.01) } + (0..<n).map { max(pi0[i0 + n + $0], 0.01) }
        return s
    }

    /// The regression rows of a log: scaled regressor rows, the torque, and the joint of each row.
    func regression(_ log: JointLog) throws -> (w: [Double], tau: [Double], joint: [Int]) {
        let n = regressor.dof, p = regressor.parameterCount, scale = scales
        var w: [Double] = [], tau: [Double] = [], joint: [Int] = []
        for episode in log.episodes {
            let rate = 1 / episode.dt
            let filter = settings.cutoff < rate / 2 ? ZeroPhaseLowPass(cutoff: settings.cutoff, sampleRate: rate) : nil
            func smooth(_ x: [Double]) -> [Double] { filter?.apply(x) ?? x }
            let q = episode.q.map(smooth)
            let qd = episode.qd.map { $0.map(smooth) } ?? q.map { centralDifference($0, dt: episode.dt) }
            let torque = episode.tau.map(smooth)
            let every = max(1, Int((rate / settings.sampleRate).rounded()))
            let skip = max(1, Int((settings.trim / episode.dt).rounded()))
            guard episode.count > 2 * skip + 1 else { continue }
            let hold = settings.torqueTiming == .hold
            for k in stride(from: skip, to: episode.count - skip, by: every) {
                // a held torque acts over [t_k, t_k+1]: pair it with the mean acceleration of that interval and the
                // state at its middle; a sampled one with the state at t_k and the central difference there
                let qk = (0..<n).map { hold ? 0.5 * (q[$0][k] + q[$0][k + 1]) : q[$0][k] }
                let qdk = (0..<n).map { hold ? 0.5 * (qd[$0][k] + qd[$0][k + 1]) : qd[$0][k] }
                let qddk = (0..<n).map { hold ? (qd[$0][k + 1] - qd[$0][k]) / episode.dt : (qd[$0][k + 1] - qd[$0][k - 1]) / (2 * episode.dt) }
                var y = regressor.rows(q: qk, qd: qdk, qdd: qddk)
                // a joint slower than the threshold may be sticking: its friction torque is then anything within
                // ±f, so its row is left out of this sample
                for i in 0..<n where abs(qdk[i]) > settings.frictionVelocityThreshold {
                    for c in 0..<p { y[i * p + c] *= scale[c] }
                    w += y[(i * p)..<((i + 1) * p)]
                    tau.append(torque[i][k])
                    joint.append(i)
                }
            }
        }
        return (w, tau, joint)
    }

    /// Identifies π from `log`.
    /// - Throws: `SystemIdentificationError` when the log is too short, excites nothing, or yields a body with
    ///   a non-positive mass (named).
    public func identify(_ log: JointLog) throws -> IdentificationResult {
        guard log.duration >= settings.minimumDuration else {
            throw SystemIdentificationError.invalidInput("\(log.source): \(String(format: "%.2f", log.duration)) s of data; identification needs at least \(settings.minimumDuration) s of exciting motion (mbc excite writes such a trajectory)")
        }
        let p = regressor.parameterCount, n = regressor.dof, scale = scales
        let pi0 = try regressor.parameterVector(nominal)
        let (w, tau, joint) = try regression(log)
        let rows = tau.count
        guard rows >= 2 * p else {
            throw SystemIdentificationError.invalidInput("\(log.source): \(rows / n) samples after filtering and trimming; at least \(2 * p / n) are needed")
        }
        // residual of the nominal parameters: r = τ − Y π₀ (z = S⁻¹(π − π₀) is the unknown)
        let z0 = pi0.enumerated().map { $0.element / scale[$0.offset] }
        var r = [Double](repeating: 0, count: rows)
        for row in 0..<rows {
            var s = 0.0
            for c in 0..<p { s += w[row * p + c] * z0[c] }
            r[row] = tau[row] - s
        }
        let before = jointRMS(r, joint, n)

        // ordinary, then weighted least squares (weights: 1 / residual std of each joint)
        var weights = [Double](repeating: 1, count: n)
        var ridgeScale = [Double](repeating: 1, count: p)
        var (normal, b) = assemble(w: w, r: r, joint: joint, weights: weights, p: p)
        var (ridge, z) = try solveNormal(normal, b, ridgeScale: ridgeScale, p: p)
        weights = jointRMS(residuals(w: w, r: r, z: z, p: p), joint, n).map { 1 / max($0, 1e-6) }
        (normal, b) = assemble(w: w, r: r, joint: joint, weights: weights, p: p)
        (ridge, z) = try solveNormal(normal, b, ridgeScale: ridgeScale, p: p)
        // physical consistency: the data fixes only the identifiable combinations, the ridge splits them among the
        // bodies; a body whose share is not physical gets a 1000× stiffer ridge toward its nominal values, which
        // moves the free share to the other bodies without changing the fit (up to 5 rounds)
        for _ in 0..<5 {
            let bad = unphysicalBodies(pi0.indices.map { pi0[$0] + scale[$0] * z[$0] })
            if bad.isEmpty { break }
            for k in bad { for c in (10 * k)..<(10 * k + 10) { ridgeScale[c] *= 1000 } }
            (ridge, z) = try solveNormal(normal, b, ridgeScale: ridgeScale, p: p)
        }
        let residual = residuals(w: w, r: r, z: z, p: p)
        let after = jointRMS(residual, joint, n)

        // identifiability: on this log and on random motions
        let logAnalysis = try analyze(normal: normal, p: p)
        let structural = try analyze(normal: structuralNormal(p: p, scale: scale), p: p)
        var status = [ParameterStatus](repeating: .identified, count: p)
        for j in 0..<p {
            if structural.noEffect[j] { status[j] = .noEffect }
            else if !structural.individual[j] { status[j] = .combination }
            else if !logAnalysis.individual[j] { status[j] = .notExcited }
        }
        // standard errors of the identified parameters: σ̂² (A + μI)⁻¹, σ̂² from the weighted residual
        var weightedRSS = 0.0
        for row in 0..<rows { let e = residual[row] * weights[joint[row]]; weightedRSS += e * e }
        let sigma2 = weightedRSS / Double(max(rows - logAnalysis.rank, 1))
        var regularized = normal
        for j in 0..<p { regularized[j * p + j] += ridge }
        var identity = [Double](repeating: 0, count: p * p)
        for j in 0..<p { identity[j * p + j] = 1 }
        var covariance = [Double](repeating: 0, count: p * p)
        guard la_solve_spd(Int32(p), Int32(p), regularized, identity, &covariance) == 0 else {
            throw SystemIdentificationError.notExcited("\(log.source): the regression is singular even with the ridge")
        }
        let estimate = (0..<p).map { pi0[$0] + scale[$0] * z[$0] }
        let standardError: [Double?] = (0..<p).map { j in
            status[j] == .identified ? scale[j] * (sigma2 * covariance[j * p + j]).squareRoot() : nil
        }
        let (parameters, projected) = try physical(estimate)
        return IdentificationResult(names: regressor.parameterNames, nominal: pi0, estimate: estimate, standardError: standardError,
                                    status: status, rank: logAnalysis.rank, structuralRank: structural.rank, rows: rows,
                                    residualBefore: before, residualAfter: after, parameters: parameters, projectedBodies: projected)
    }

    func residuals(w: [Double], r: [Double], z: [Double], p: Int) -> [Double] {
        (0..<r.count).map { row in
            var s = 0.0
            for c in 0..<p { s += w[row * p + c] * z[c] }
            return r[row] - s
        }
    }

    func jointRMS(_ e: [Double], _ joint: [Int], _ n: Int) -> [Double] {
        var sum = [Double](repeating: 0, count: n), count = sum
        for (k, v) in e.enumerated() { sum[joint[k]] += v * v; count[joint[k]] += 1 }
        return (0..<n).map { (sum[$0] / max(count[$0], 1)).squareRoot() }
    }

    /// WᵀΩW and WᵀΩr (Ω: each row's joint weight squared).
    func assemble(w: [Double], r: [Double], joint: [Int], weights: [Double], p: Int) -> ([Double], [Double]) {
        var a = [Double](repeating: 0, count: p * p), b = [Double](repeating: 0, count: p)
        w.withUnsafeBufferPointer { wp in
            for row in 0..<r.count {
                let omega = weights[joint[row]] * weights[joint[row]], base = row * p
                for i in 0..<p {
                    let wi = wp[base + i] * omega
                    if wi == 0 { continue }
                    b[i] += wi * r[row]
                    for j in 0...i { a[i * p + j] += wi * wp[base + j] }
                }
            }
        }
        for i in 0..<p { for j in 0..<i { a[j * p + i] = a[i * p + j] } }
        return (a, b)
    }

    /// Solves (A + μ diag(ridgeScale)) z = b, μ = `regularization` × the mean diagonal of A; returns μ and z.
    func solveNormal(_ a: [Double], _ b: [Double], ridgeScale: [Double], p: Int) throws -> (Double, [Double]) {
        let meanDiagonal = (0..<p).reduce(0) { $0 + a[$1 * p + $1] } / Double(p)
        let ridge = settings.regularization * max(meanDiagonal, 1e-12)
        var regularized = a
        for i in 0..<p { regularized[i * p + i] += ridge * ridgeScale[i] }
        var z = [Double](repeating: 0, count: p)
        guard la_solve_spd(Int32(p), 1, regularized, b, &z) == 0 else {
            throw SystemIdentificationError.notExcited("the regression could not be solved (non-finite data?)")
        }
        return (ridge, z)
    }

    /// Positions (in `regressor.bodies`) of the bodies whose parameters are not physical: mass ≤ 0, or an inertia
    /// about the centre of mass that `physicalInertia` would change.
    func unphysicalBodies(_ pi: [Double]) -> [Int] {
        let params = regressor.physicsParameters(pi, base: nominal)
        return regressor.bodies.indices.filter { k in
            guard pi[10 * k] > 0 else { return true }
            let name = regressor.model.bodies[regressor.bodies[k]].name
            guard let body = params.bodies.first(where: { $0.name == name }) else { return false }
            return Self.physicalInertia(body.inertia) != nil
        }
    }

    /// The nearest physical inertia tensor when `inertia` is not one (nil when it is): principal moments raised to
    /// at least 10⁻⁶ of their sum and each lowered to at most the sum of the other two (the triangle inequality),
    /// principal axes kept.
    static func physicalInertia(_ inertia: Mat3) -> Mat3? {
        var values = [0.0, 0, 0], vectors = [Double](repeating: 0, count: 9)
        _ = la_symmetric_eigen(3, inertia.rowMajor, &values, &vectors)
        var fixed = values.map { max($0, 1e-6 * max(values.reduce(0, +), 1e-6)) }
        for e in 0..<3 { fixed[e] = min(fixed[e], fixed[(e + 1) % 3] + fixed[(e + 2) % 3]) }
        guard fixed != values else { return nil }
        var m = Mat3.zero
        for e in 0..<3 {
            let v = Vec3(vectors[e], vectors[3 + e], vectors[6 + e])
            m = m + fixed[e] * RigidBodyRegressor.outer(v, v)
        }
        return m
    }

    /// Which parameters a normal matrix determines individually, which never act, and its rank.
    func analyze(normal: [Double], p: Int) throws -> (individual: [Bool], noEffect: [Bool], rank: Int) {
        // unit diagonal first, so eigenvalues measure collinearity and not the columns' sizes
        let largestDiagonal = (0..<p).map { normal[$0 * p + $0] }.max() ?? 0
        let noEffect = (0..<p).map { j in normal[j * p + j] <= 1e-14 * largestDiagonal }
        let d = (0..<p).map { noEffect[$0] ? 0 : 1 / normal[$0 * p + $0].squareRoot() }
        var correlation = [Double](repeating: 0, count: p * p)
        for i in 0..<p { for j in 0..<p { correlation[i * p + j] = normal[i * p + j] * d[i] * d[j] } }
        var values = [Double](repeating: 0, count: p), vectors = [Double](repeating: 0, count: p * p)
        guard la_symmetric_eigen(Int32(p), correlation, &values, &vectors) == 0 else {
            throw SystemIdentificationError.notExcited("the normal matrix has non-finite entries")
        }
        let largest = max(values.last ?? 0, 1e-300)
        let null = (0..<p).filter { values[$0] < settings.identifiabilityTolerance * largest }
        var individual = [Bool](repeating: true, count: p)
        for j in 0..<p {
            var weight = 0.0
            for k in null { weight += vectors[j * p + k] * vectors[j * p + k] }
            individual[j] = weight < 1e-6
        }
        return (individual, noEffect, p - null.count)
    }

    /// The (unweighted, scaled) normal matrix of 2,000 random states within the joint limits: what the robot
    /// can reveal at all.
    func structuralNormal(p: Int, scale: [Double]) -> [Double] {
        var rng = SeededRNG(seed: 20_260_101)
        let model = regressor.model, n = regressor.dof
        var a = [Double](repeating: 0, count: p * p)
        for _ in 0..<2000 {
            let q = model.actuatedJoints.map { k -> Double in
                let r = model.joints[k].range ?? (-Double.pi)...Double.pi
                return rng.uniform(r.lowerBound, r.upperBound)
            }
            let qd = (0..<n).map { _ in rng.uniform(-2, 2) }, qdd = (0..<n).map { _ in rng.uniform(-5, 5) }
            var y = regressor.rows(q: q, qd: qd, qdd: qdd)
            for i in 0..<n { for c in 0..<p { y[i * p + c] *= scale[c] } }
            for i in 0..<n {
                for c1 in 0..<p where y[i * p + c1] != 0 {
                    for c2 in 0...c1 { a[c1 * p + c2] += y[i * p + c1] * y[i * p + c2] }
                }
            }
        }
        for i in 0..<p { for j in 0..<i { a[j * p + i] = a[i * p + j] } }
        return a
    }

    /// The physical parameters of an estimate, with inertias projected to physical ones where needed.
    func physical(_ pi: [Double]) throws -> (PhysicsParameters, [String]) {
        var params = regressor.physicsParameters(pi, base: nominal)
        var projected: [String] = []
        for (k, b) in regressor.bodies.enumerated() {
            let name = regressor.model.bodies[b].name
            guard pi[10 * k] > 0 else {
                throw SystemIdentificationError.notExcited("body '\(name)': mass estimated at \(pi[10 * k]) kg; the log does not determine it — excite the joints that carry it, or keep it fixed")
            }
            guard let i = params.bodies.firstIndex(where: { $0.name == name }) else { continue }
            if let inertia = Self.physicalInertia(params.bodies[i].inertia) {
                params.bodies[i].inertia = inertia
                projected.append(name)
            }
        }
        for i in params.joints.indices {
            params.joints[i].damping = max(0, params.joints[i].damping)
            params.joints[i].friction = max(0, params.joints[i].friction)
        }
        return (params, projected)
    }
}
