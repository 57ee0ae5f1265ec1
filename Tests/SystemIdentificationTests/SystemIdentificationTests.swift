import ControlCore
import Datasets
import Foundation
import Physics
import Robots
import Testing
@testable import SystemIdentification

/// A robot file of the repository (tests run from the package root).
func robotURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../robots/\(name)").standardized
}

func loadArm() throws -> RobotModel { try RobotModel(contentsOf: robotURL("arm.urdf")) }

/// The arm with its link masses (and inertias, same density) changed by ±30 % in turn, damping doubled and
/// Coulomb friction raised from 0.05 to 0.12 N·m: the "real" robot of the identification checks.
func perturbedArm(_ nominal: PhysicsParameters) -> PhysicsParameters {
    var p = nominal
    for i in p.bodies.indices { p.bodies[i].scaleMass(by: i % 2 == 0 ? 1.3 : 0.7) }
    for i in p.joints.indices { p.joints[i].damping *= 2; p.joints[i].friction = 0.12 }
    return p
}

func temporaryFile(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("mbc-sysid-\(UUID().uuidString)-\(name)")
}

@Suite struct RegressorTests {
    /// Y(q, q̇, q̈)·π equals the torques ODE applied: from random states, random constant torques drive the
    /// exact solver at 0.1 ms steps; 6 ms later the state and the acceleration (the velocity's change over the
    /// 2 ms around it: ODE's maximal-coordinate step adds transients to single-step accelerations), put into
    /// the regressor with the URDF's π, give back the torques — gravity, Coriolis and centrifugal, inertia,
    /// damping and Coulomb friction all included — to 1 % (N·m floor 1).
    @Test func regressorReproducesTheSimulatorsTorques() throws {
        let model = try loadArm()
        var settings = WorldSettings(); settings.solver = .exact; settings.timeStep = 1e-4; settings.ground = false
        let sim = try RobotSimulation(model: model, settings: settings, base: .fixed)
        let regressor = try RigidBodyRegressor(model: model)
        // every body's inertia turned by a random rotation and its centre of mass moved, so the products of
        // inertia and all first moments are non-zero and take part
        var changed = sim.nominalParameters
        var rng = SeededRNG(seed: 11)
        for i in changed.bodies.indices {
            let axis = Vec3(rng.normal(), rng.normal(), rng.normal()).normalized
            let r = Quat(axis: axis, angle: rng.uniform(0.3, 1.2)).matrix
            changed.bodies[i].inertia = r * changed.bodies[i].inertia * r.transposed
            changed.bodies[i].centerOfMass += Vec3(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02))
        }
        try sim.apply(changed)
        let pi = try regressor.parameterVector(changed)
        #expect(pi.count == 7 * 10 + 14)
        var worst = 0.0, checked = 0
        for _ in 0..<20 {
            let q = model.actuatedJoints.map { k in rng.uniform(model.joints[k].range!.lowerBound + 0.3, model.joints[k].range!.upperBound - 0.3) }
            let qd = (0..<7).map { _ in rng.uniform(0.3, 1.2) * (rng.uniform() < 0.5 ? -1 : 1) }
            let tau = model.actuatedJoints.map { k in rng.uniform(-0.05, 0.05) * (model.joints[k].limit?.effort ?? 10) }
            sim.setState(q: q, qd: qd)
            var history: [(q: [Double], qd: [Double])] = []
            var applied: [Double] = []
            for _ in 0..<70 { applied = try sim.step(commands: tau, substeps: 1); history.append(sim.jointState()) }
            let state = history[59]
            let qdd = zip(history[69].qd, history[49].qd).map { ($0 - $1) / (20 * settings.timeStep) }
            guard history[40...].allSatisfy({ $0.qd.allSatisfy { abs($0) > 0.05 } }) else { continue }  // a joint near rest may stick
            checked += 1
            let predicted = regressor.torques(q: state.q, qd: state.qd, qdd: qdd, parameters: pi)
            for i in 0..<7 { worst = max(worst, abs(predicted[i] - applied[i]) / max(abs(applied[i]), 1)) }
        }
        #expect(checked >= 10 && worst > 0 && worst < 0.01, "largest torque mismatch \(worst) (relative, N·m floor 1) over \(checked) states")
    }

    /// π → physical parameters → π is the identity, and the first moment and inertia about the origin
    /// follow the parallel-axis theorem.
    @Test func parameterVectorRoundTrip() throws {
        let model = try loadArm()
        let sim = try RobotSimulation(model: model, base: .fixed)
        let regressor = try RigidBodyRegressor(model: model)
        let nominal = sim.nominalParameters
        let pi = try regressor.parameterVector(nominal)
        let back = try regressor.parameterVector(regressor.physicsParameters(pi, base: nominal))
        for (a, b) in zip(pi, back) { #expect(abs(a - b) < 1e-12 * max(1, abs(a))) }
        let body = nominal.bodies[0], c = body.centerOfMass
        #expect(abs(pi[1] - body.mass * c.x) < 1e-12)
        #expect(abs(pi[9] - (body.inertia.r2.z + body.mass * (c.x * c.x + c.y * c.y))) < 1e-12)
    }

    /// A floating base is refused with the reason.
    @Test func floatingBaseIsRefused() throws {
        let quadruped = try RobotModel(contentsOf: robotURL("quadruped.urdf"))
        #expect { _ = try RigidBodyRegressor(model: quadruped, base: .floating) } throws: { "\($0)".contains("trajectory matching") }
    }
}

@Suite struct SignalTests {
    /// The zero-phase low-pass keeps a slow sine with no delay and removes a fast one.
    @Test func zeroPhaseLowPassHasNoLag() {
        let filter = ZeroPhaseLowPass(cutoff: 10, sampleRate: 500)
        let t = (0..<2000).map { Double($0) / 500 }
        let slow = t.map { sin(2 * .pi * 0.5 * $0) }, fast = t.map { 0.3 * sin(2 * .pi * 80 * $0) }
        let out = filter.apply(zip(slow, fast).map { $0 + $1 })
        let interior = 100..<1900
        let worst = interior.map { abs(out[$0] - slow[$0]) }.max()!
        #expect(worst < 2e-3, "largest deviation from the slow sine \(worst)")
    }
}

/// A log made from the regressor itself along a Fourier trajectory (exact q, q̇, torques; no filter).
func syntheticLog(model: RobotModel, parameters pi: [Double], seconds: Double, rate: Double,
                  noise: (q: Double, tau: Double) = (0, 0), seed: UInt64 = 3) throws -> JointLog {
    let regressor = try RigidBodyRegressor(model: model)
    let trajectory = FourierTrajectory(model: model, seed: seed)
    var rng = SeededRNG(seed: seed + 100)
    let n = model.dof, count = Int(seconds * rate)
    var q = [[Double]](repeating: [], count: n), qd = q, tau = q
    for k in 0..<count {
        let s = trajectory.state(at: Double(k) / rate)
        let t = regressor.torques(q: s.q, qd: s.qd, qdd: s.qdd, parameters: pi)
        for i in 0..<n {
            q[i].append(s.q[i] + noise.q * rng.normal()); qd[i].append(s.qd[i]); tau[i].append(t[i] + noise.tau * rng.normal())
        }
    }
    return JointLog(episodes: [.init(dt: 1 / rate, q: q, qd: qd, tau: tau)], source: "synthetic", torqueColumns: "joint_state.effort")
}

@Suite struct IdentificationTests {
    /// Noiseless synthetic data: every identified parameter comes back to 10⁻³ relative, in seconds.
    @Test func exactRecoveryFromNoiselessData() throws {
        let model = try loadArm()
        let nominal = try RobotSimulation(model: model, base: .fixed).nominalParameters
        let regressor = try RigidBodyRegressor(model: model)
        let truth = try regressor.parameterVector(perturbedArm(nominal))
        let log = try syntheticLog(model: model, parameters: truth, seconds: 30, rate: 200)
        var settings = IdentificationSettings()
        settings.cutoff = 1e9  // no filter: the signals are exact
        settings.frictionVelocityThreshold = 0
        settings.torqueTiming = .sample  // the torques are the inverse dynamics at each row's time
        let result = try InverseDynamicsIdentification(model: model, nominal: nominal, settings: settings).identify(log)
        var checked = 0
        for j in result.names.indices where result.status[j] == .identified {
            #expect(abs(result.estimate[j] - truth[j]) < 1e-3 * max(abs(truth[j]), 0.05), "\(result.names[j]): \(result.estimate[j]) for \(truth[j])")
            checked += 1
        }
        #expect(checked >= 30, "only \(checked) parameters identified individually")
        // every joint's damping and friction and the masses of the outer links are among them
        for name in model.jointNames { #expect(result.status[result.names.firstIndex(of: "\(name).damping")!] == .identified) }
        #expect(result.status[result.names.firstIndex(of: "link1.mass")!] == .noEffect || result.status[result.names.firstIndex(of: "link1.mass")!] == .combination)
        #expect(result.rank == result.structuralRank)
    }

    /// With noise on positions (0.2 mrad) and torques (0.05 N·m): damping within 5 %, Coulomb friction within
    /// 10 %, and the identified model predicts another trajectory's torques to 1 %.
    @Test func recoveryWithNoise() throws {
        let model = try loadArm()
        let nominal = try RobotSimulation(model: model, base: .fixed).nominalParameters
        let regressor = try RigidBodyRegressor(model: model)
        let perturbed = perturbedArm(nominal)
        let truth = try regressor.parameterVector(perturbed)
        let log = try syntheticLog(model: model, parameters: truth, seconds: 60, rate: 500, noise: (2e-4, 0.05))
        var settings = IdentificationSettings()
        settings.torqueTiming = .sample
        let result = try InverseDynamicsIdentification(model: model, nominal: nominal, settings: settings).identify(log)
        // no link mass of this arm is identifiable on its own (each regroups with the next link's first moments),
        // so the inertial part is judged by what it predicts: the torques of another trajectory, to 1 %
        let validation = FourierTrajectory(model: model, seed: 9)
        var error = 0.0, total = 0.0
        for k in 0..<500 {
            let state = validation.state(at: Double(k) * 0.02)
            let predicted = regressor.torques(q: state.q, qd: state.qd, qdd: state.qdd, parameters: result.estimate)
            let actual = regressor.torques(q: state.q, qd: state.qd, qdd: state.qdd, parameters: truth)
            for i in 0..<7 { error += (predicted[i] - actual[i]) * (predicted[i] - actual[i]); total += actual[i] * actual[i] }
        }
        #expect((error / total).squareRoot() < 0.01, "relative RMS torque error on another trajectory \((error / total).squareRoot())")
        #expect(!result.names.indices.contains { result.names[$0].hasSuffix(".mass") && result.status[$0] == .identified })
        for (i, joint) in perturbed.joints.enumerated() {
            let d = result.names.firstIndex(of: "\(joint.name).damping")!, f = result.names.firstIndex(of: "\(joint.name).friction")!
            #expect(abs(result.estimate[d] / joint.damping - 1) < 0.05, "joint \(i) damping \(result.estimate[d]) for \(joint.damping)")
            #expect(abs(result.estimate[f] / joint.friction - 1) < 0.10, "joint \(i) friction \(result.estimate[f]) for \(joint.friction)")
        }
    }

    /// A log that is too short, one that lacks a joint, and one that logs a joint the URDF lacks are refused
    /// with the reason and the file.
    @Test func badLogsAreRefused() throws {
        let model = try loadArm()
        let nominal = try RobotSimulation(model: model, base: .fixed).nominalParameters
        let identification = try InverseDynamicsIdentification(model: model, nominal: nominal)
        let pi = try identification.regressor.parameterVector(nominal)
        let short = try syntheticLog(model: model, parameters: pi, seconds: 2, rate: 100)
        #expect { try identification.identify(short) } throws: { "\($0)".contains("needs at least 5.0 s") }

        let joints = model.jointNames
        var columns = [LogColumns.timestamp] + joints.map(LogColumns.jointPosition) + joints.map(LogColumns.jointEffort)
        let row = [Double](repeating: 0, count: columns.count)
        let table = try LogTable(columns: columns, values: columns.indices.map { c in (0..<10).map { Double($0) * 0.01 * (c == 0 ? 1 : 0) + row[c] } })
        _ = try JointLog(table: table, model: model, source: "ok.csv")
        var withNaN = columns.indices.map { c in (0..<10).map { Double($0) * 0.01 * (c == 0 ? 1 : 0) } }
        withNaN[2][3] = .nan
        let nanTable = try LogTable(columns: columns, values: withNaN)
        #expect { _ = try JointLog(table: nanTable, model: model, source: "n.csv") } throws: { "\($0)".contains("n.csv: line 5: \(columns[2]) is nan") }
        columns.removeAll { $0 == LogColumns.jointPosition("joint3") }
        let missing = try LogTable(columns: columns, values: columns.indices.map { c in (0..<10).map { Double($0) * 0.01 * (c == 0 ? 1 : 0) } })
        #expect { _ = try JointLog(table: missing, model: model, source: "m.csv") } throws: { "\($0)".contains("joint_state.position.joint3") && "\($0)".contains("m.csv") }
        let extra = try LogTable(columns: columns + [LogColumns.jointPosition("gripper")], values: (0...columns.count).map { c in (0..<10).map { Double($0) * 0.01 * (c == 0 ? 1 : 0) } })
        #expect { _ = try JointLog(table: extra, model: model, source: "x.csv") } throws: { "\($0)".contains("gripper") }
    }
}

import Environments

@Suite struct TrajectoryMatchingTests {
    /// A 6-s log of the quadruped stepping in place (sinusoidal PD targets) on a robot with 2 control steps of
    /// latency and 80 % actuator strength: trajectory matching from the nominal simulator finds the latency
    /// exactly and the strength within 10 %, and at least halves the prediction error.
    @Test func recoversLatencyAndStrength() throws {
        let config = QuadrupedWalkConfig()
        let task = try QuadrupedWalkTask(config: config)
        let sim = task.simulation
        var truth = sim.nominalParameters
        for i in truth.joints.indices { truth.joints[i].strength = 0.8 }
        truth.latency = 2
        try sim.apply(truth)
        var rng = SeededRNG(seed: 4)
        task.reset(rng: &rng)
        var e = FloatingBaseLog.Episode(dt: 1 / config.controlFrequency, basePosition: [], baseOrientation: [], baseLinearVelocity: [],
                                        baseAngularVelocity: [], q: [], qd: [], command: [])
        for t in 0..<300 {
            let action = (0..<12).map { j in 0.6 * sin(Double(t) * 0.35 + Double(j % 3) + (j / 3 % 2 == 0 ? 0 : .pi)) }
            let command = task.commands(for: action)
            let pose = sim.basePose, velocity = sim.baseVelocity, joints = sim.jointState()
            e.basePosition.append(pose.position); e.baseOrientation.append(pose.orientation)
            e.baseLinearVelocity.append(velocity.linear); e.baseAngularVelocity.append(velocity.angular)
            e.q.append(joints.q); e.qd.append(joints.qd); e.command.append(command)
            try sim.step(commands: command, substeps: task.substeps)
        }
        let log = FloatingBaseLog(episodes: [e], source: "stepping in place")
        var settings = TrajectoryMatchingSettings()
        settings.population = 8; settings.elites = 3; settings.iterations = 3; settings.latencyRange = 0...3; settings.refinementSteps = 8
        let fresh = try (0..<2).map { _ in try QuadrupedWalkTask(config: config).simulation }
        let result = TrajectoryMatching(simulations: fresh, substeps: task.substeps, log: log, settings: settings).identify([.strength, .latency])
        #expect(result.estimates[.latency] == 2, "latency \(result.estimates[.latency] ?? -1), errors \(result.errorByLatency)")
        #expect(abs((result.estimates[.strength] ?? 0) / 0.8 - 1) < 0.1, "strength \(result.estimates[.strength] ?? .nan)")
        #expect(result.errorAfter < 0.5 * result.errorBefore, "error \(result.errorBefore) → \(result.errorAfter)")
    }
}
