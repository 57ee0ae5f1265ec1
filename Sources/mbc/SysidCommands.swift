import ArgumentParser
import Configuration
import ControlCore
import Environments
import Foundation
import Learning
import Physics
import Recording
import Robots
import SystemIdentification

/// `mbc excite`: an exciting trajectory for identification, run on the simulated robot and logged.
struct Excite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log a band-limited Fourier-series trajectory (Swevers et al. 1997) on a fixed-base robot, for mbc sysid.",
        discussion: """
        The trajectory stays within --amplitude of each joint's range around its middle, below --speed of its velocity
        limit and 0.1 m above the ground, and is tracked by PD + gravity compensation under torque control (effort
        limits from the URDF). The same trajectory (same --seed) can be run on a real robot and logged in the same
        columns: joint_state.position/velocity/effort.<joint> at the log's rate.
        Example: mbc excite --robot robots/arm.urdf --seconds 60 --record excite.csv
        """)
    @Option(help: "Robot (URDF), mounted on a fixed base.") var robot: String = "robots/arm.urdf"
    @Option(help: "Duration, s.") var seconds: Double = 60
    @Option(help: "Logging (and control) rate, Hz.") var rate: Double = 500
    @Option(help: "Seed of the Fourier coefficients.") var seed: UInt64 = 0
    @Option(help: "Fundamental frequency, Hz (the trajectory repeats every 1/f s).") var baseFrequency: Double = 0.1
    @Option(help: "Harmonics per joint.") var harmonics: Int = 5
    @Option(help: "Largest excursion, fraction of each joint's half-range.") var amplitude: Double = 0.7
    @Option(help: "Largest speed, fraction of each joint's velocity limit.") var speed: Double = 0.6
    @Option(help: "Output CSV log (written atomically).") var record: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard seconds > 0, seconds <= 36_000 else { throw ValidationError("--seconds must be in (0, 36000]") }
        guard rate >= 10, rate <= 10_000 else { throw ValidationError("--rate must be in 10…10000 Hz") }
        guard baseFrequency > 0, baseFrequency * Double(harmonics) < rate / 4 else {
            throw ValidationError("--base-frequency × --harmonics must be positive and below a quarter of --rate")
        }
        guard (1...50).contains(harmonics) else { throw ValidationError("--harmonics must be in 1…50") }
        guard amplitude > 0, amplitude <= 1, speed > 0, speed <= 1 else { throw ValidationError("--amplitude and --speed must be in (0, 1]") }
    }

    func run() throws {
        let model = try RobotModel(contentsOf: resolveResource(robot))
        var settings = ExcitationSettings()
        settings.baseFrequency = baseFrequency; settings.harmonics = harmonics; settings.amplitude = amplitude; settings.speedFraction = speed
        let trajectory = FourierTrajectory(model: model, settings: settings, seed: seed)
        let start = Date()
        let rows = try recordExcitation(model: model, trajectory: trajectory, seconds: seconds, rate: rate, to: URL(fileURLWithPath: record))
        say(String(format: "excite: %@, %d rows (%.0f s at %.0f Hz), %d harmonics of %.3g Hz, seed %llu → %@ (%.1f s)",
                   model.name, rows, seconds, rate, harmonics, baseFrequency, seed, record, Date().timeIntervalSince(start)))
        if common.json {
            printJSON(["command": "excite", "robot": robot, "rows": rows, "seconds": seconds, "rate": rate, "seed": seed, "record": record])
        }
    }
}

/// `mbc sysid`: inertial and friction parameters of a fixed-base arm from a log.
struct Sysid: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Identify a fixed-base robot's link inertial parameters and joint damping/friction from a log (inverse-dynamics regressor, weighted least squares).",
        discussion: """
        Prints every parameter with its nominal value (the URDF's), estimate and standard error; the ones the robot can
        only reveal in combination, never, or not with this log are named. Reports the torque residual and the 1-second
        open-loop joint-position error before and after, and writes the calibrated URDF (inertials and <dynamics>).
        docs/SYSID.md has the method.
        Example: mbc sysid --robot robots/arm.urdf --data excite.csv --out arm-identified.urdf --json
        With --params (ground.friction, motor.strength, latency) it matches simulated trajectories to the log instead
        (any robot, e.g. the quadruped): the simulator is set up as the quadruped-walk environment (--config, --set),
        restarted from the logged state every --segment control steps, and the parameters found by the cross-entropy
        method (every integer latency tried) and refined by golden-section search; --out-params writes them as YAML.
        Example: mbc sysid --robot robots/quadruped.urdf --data quad-log.csv --params ground.friction,motor.strength,latency
        """)
    @Option(help: "Robot (URDF) with the nominal parameters (mounted on a fixed base, unless --params).") var robot: String
    @Option(help: "Log (CSV): timestamp, joint_state.position.<joint>, joint_state.effort.<joint> (or action.<joint>), optionally joint_state.velocity.<joint>.")
    var data: String
    @Option(help: "Calibrated URDF to write.") var out: String?
    @Option(help: "Low-pass cutoff for positions, velocities and torques, Hz.") var cutoff: Double = 20
    @Option(help: "Regression sampling rate, Hz.") var sampleRate: Double = 100
    @Option(help: "Horizon of the open-loop prediction error, s.") var horizon: Double = 1
    @Option(help: "Trajectory matching of these parameters (comma-separated): ground.friction, motor.strength, latency.")
    var params: String?
    @Option(help: "With --params: control steps between restarts from the log.") var segment: Int = 50
    @Option(help: "With --params: the simulator's settings (a quadruped-walk config: physics step, solver iterations, PD gains, friction).")
    var config: String?
    @Option(name: .customLong("set"), help: "With --params: override one simulator setting (key=value, as in the config).")
    var overrides: [String] = []
    @Option(help: "With --params: write the estimates as YAML here.") var outParams: String?
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard cutoff > 0, sampleRate > 0, horizon > 0 else { throw ValidationError("--cutoff, --sample-rate and --horizon must be positive") }
        guard (1...1000).contains(segment) else { throw ValidationError("--segment must be in 1…1000") }
        if let params {
            for name in params.split(separator: ",") where MatchedParameter(rawValue: String(name)) == nil {
                throw ValidationError("unknown parameter '\(name)' in --params; choose from \(MatchedParameter.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        if let params { return try runMatching(Set(params.split(separator: ",").compactMap { MatchedParameter(rawValue: String($0)) })) }
        let model = try RobotModel(contentsOf: resolveResource(robot))
        let log = try JointLog.read(url: URL(fileURLWithPath: data), model: model)
        var settings = IdentificationSettings()
        settings.cutoff = cutoff; settings.sampleRate = sampleRate
        let nominal = try fixedBaseParameters(model)
        let start = Date()
        let result = try InverseDynamicsIdentification(model: model, nominal: nominal, settings: settings).identify(log)
        let seconds = Date().timeIntervalSince(start)
        let before = try openLoopError(model: model, parameters: nominal, log: log, horizon: horizon)
        let after = try openLoopError(model: model, parameters: result.parameters, log: log, horizon: horizon)
        if let out { try URDFWriter.write(model, parameters: result.parameters, to: URL(fileURLWithPath: out)) }
        say(String(format: "sysid: %@ from %@ (%.0f s, %d regression rows, torques from %@), %.1f s", model.name, data, log.duration, result.rows, log.torqueColumns, seconds))
        say(sysidTable(result))
        say(String(format: "open-loop joint-position RMSE over %.3g s: %.4g rad (nominal) → %.4g rad (identified), %.1f× smaller", horizon, before, after, before / after))
        if let out { say("calibrated URDF: \(out)") }
        if common.json {
            var object = sysidJSON(result)
            object["command"] = "sysid"
            object["open_loop_rmse_before"] = before; object["open_loop_rmse_after"] = after
            object["out"] = out
            printJSON(object)
        }
    }
}

extension Sysid {
    func runMatching(_ fit: Set<MatchedParameter>) throws {
        var settings = try ConfigLoader().load(QuadrupedWalkConfig(), file: config, overrides: overrides.map(ConfigOverride.init(parsing:)))
        settings.robot = robot
        let model = try RobotModel(contentsOf: resolveResource(robot))
        let log = try FloatingBaseLog.read(url: URL(fileURLWithPath: data), model: model)
        var matchingSettings = TrajectoryMatchingSettings()
        matchingSettings.segment = segment
        let matching = try quadrupedMatching(settings, log: log, matchingSettings)
        let start = Date()
        let result = matching.identify(fit) { say("sysid: \($0)") }
        let seconds = Date().timeIntervalSince(start)
        say(String(format: "sysid: %@ from %@ (%d episodes, %d rows), trajectory matching restarting every %d steps, %d simulations in %.1f s on %d workers",
                   model.name, data, log.episodes.count, log.episodes.reduce(0) { $0 + $1.count }, segment, result.evaluations, seconds, matching.simulations.count))
        say(matchingTable(result))
        if let outParams {
            var yaml = "# mbc sysid --params: \(fit.map(\.rawValue).sorted().joined(separator: ",")) from \(data)\n"
            for p in MatchedParameter.allCases { if let v = result.estimates[p] { yaml += "\(p.rawValue): \(p == .latency ? String(Int(v)) : String(v))\n" } }
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: outParams), options: .atomic)
            say("parameters: \(outParams)")
        }
        if common.json {
            var estimates: [String: Any] = [:], spread: [String: Any] = [:]
            for (k, v) in result.estimates { estimates[k.rawValue] = v }
            for (k, v) in result.spread { spread[k.rawValue] = v }
            printJSON(["command": "sysid", "method": "trajectory matching", "estimates": estimates, "spread": spread,
                       "not_excited": result.notExcited.map(\.rawValue), "error_before": result.errorBefore, "error_after": result.errorAfter,
                       "evaluations": result.evaluations, "seconds": seconds])
        }
    }
}

/// Trajectory matching on the quadruped-walk simulator of `config`, one simulation per core (at most 8).
func quadrupedMatching(_ config: QuadrupedWalkConfig, log: FloatingBaseLog,
                       _ settings: TrajectoryMatchingSettings = TrajectoryMatchingSettings()) throws -> TrajectoryMatching {
    let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
    let tasks = try (0..<workers).map { _ in try QuadrupedWalkTask(config: config) }
    return TrajectoryMatching(simulations: tasks.map(\.simulation), substeps: tasks[0].substeps, log: log, settings: settings)
}

/// The URDF's physical parameters of a robot mounted on a fixed base (what identification starts from).
func fixedBaseParameters(_ model: RobotModel) throws -> PhysicsParameters {
    var world = WorldSettings(); world.solver = .exact; world.ground = false
    return try RobotSimulation(model: model, settings: world, base: .fixed).nominalParameters
}

func matchingTable(_ r: MatchingResult) -> String {
    var lines = [String(format: "%-16@ %10@ %10@ %10@", "parameter" as NSString, "nominal" as NSString, "estimate" as NSString, "spread" as NSString)]
    for p in MatchedParameter.allCases {
        guard let v = r.estimates[p] else { continue }
        lines.append(String(format: "%-16@ %10.4g %10.4g %10.2g%@", p.rawValue as NSString, r.nominal[p] ?? .nan, v, r.spread[p] ?? 0,
                            r.notExcited.contains(p) ? "  (not excited by this log: kept nominal)" as NSString : "" as NSString))
    }
    lines.append(String(format: "prediction error per row (joint positions rad² + base position m²): %.4g → %.4g (%.1f× smaller)",
                        r.errorBefore, r.errorAfter, r.errorBefore / r.errorAfter))
    lines.append("best error by latency: " + r.errorByLatency.keys.sorted().map { String(format: "%d: %.4g", $0, r.errorByLatency[$0]!) }.joined(separator: ", "))
    return lines.joined(separator: "\n")
}

extension BenchSysid {
    /// The quadruped-walk robot with ground friction 1.0 → 0.5, every actuator at 85 % strength and 2 control steps
    /// (40 ms) of command latency, driven by a SAC walking policy for `seconds`; then trajectory matching of the
    /// three from the nominal simulator.
    func runQuadruped() throws {
        let config = QuadrupedWalkConfig()
        let env = try QuadrupedWalkEnv(config: config, seed: seed)
        var truth = env.task.simulation.nominalParameters
        truth.groundFriction = 0.5
        for i in truth.joints.indices { truth.joints[i].strength = 0.85 }
        truth.latency = 2
        try env.task.simulation.apply(truth)
        let file = try PolicyFile.read(url: resolveResource(policy))
        let actor = try checkedPolicy(file, path: policy, env: env, name: EnvironmentKind.quadrupedWalk.rawValue, seed: seed)
        let dir = URL(fileURLWithPath: outDir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let logURL = dir.appendingPathComponent("quadruped-walk.csv")
        let recorder = try RolloutRecorder(url: logURL, env: env)
        let steps = Int(seconds * config.controlFrequency)
        let t0 = Date()
        let rollout = try runEpisodes(env: env, policy: actor, steps: steps, seed: seed, deterministic: true, recorder: recorder)
        try recorder.close()
        say(String(format: "log: %d steps in %d episodes (%d falls), mean speed %.2f m/s → %@", rollout.steps, rollout.episodes.count, rollout.falls,
                   rollout.episodes.compactMap(\.meanForwardSpeed).reduce(0, +) / Double(max(rollout.episodes.count, 1)), logURL.path))
        let model = env.task.simulation.model
        let log = try FloatingBaseLog.read(url: logURL, model: model)
        let matching = try quadrupedMatching(config, log: log)
        let t1 = Date()
        let result = matching.identify(Set(MatchedParameter.allCases)) { say("  \($0)") }
        let t2 = Date()
        say(matchingTable(result))
        let frictionError = (result.estimates[.groundFriction] ?? .nan) / truth.groundFriction - 1
        let strengthError = (result.estimates[.strength] ?? .nan) / 0.85 - 1
        let latency = Int(result.estimates[.latency] ?? -1)
        say(String(format: "truth: friction 0.5, strength 0.85, latency 2 → errors %+.1f %%, %+.1f %%, latency %d (%@)", 100 * frictionError, 100 * strengthError,
                   latency, latency == 2 ? "exact" as NSString : "wrong" as NSString))
        say(String(format: "log %.1f s, identification %.1f s (%d simulations of the log on %d workers)", t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), result.evaluations, matching.simulations.count))
        if common.json {
            printJSON(["command": "bench sysid --quadruped", "friction": result.estimates[.groundFriction] ?? .nan, "strength": result.estimates[.strength] ?? .nan,
                       "latency": latency, "friction_error": frictionError, "strength_error": strengthError, "latency_exact": latency == 2,
                       "error_before": result.errorBefore, "error_after": result.errorAfter, "not_excited": result.notExcited.map(\.rawValue),
                       "identification_seconds": t2.timeIntervalSince(t1), "falls": rollout.falls, "steps": rollout.steps])
        }
    }
}

/// The parameter table of an identification, grouped by status.
func sysidTable(_ r: IdentificationResult) -> String {
    var lines = ["rank \(r.rank) of the robot's \(r.structuralRank) base parameters (\(r.names.count) parameters)",
                 String(format: "%-28@ %12@ %12@ %10@ %8@", "identified" as NSString, "nominal" as NSString, "estimate" as NSString,
                        "std err" as NSString, "change" as NSString)]
    for j in r.names.indices where r.status[j] == .identified {
        let change = r.nominal[j] != 0 ? String(format: "%+.1f %%", 100 * (r.estimate[j] / r.nominal[j] - 1)) : "—"
        lines.append(String(format: "%-28@ %12.5g %12.5g %10.2g %8@", r.names[j] as NSString, r.nominal[j], r.estimate[j],
                            r.standardError[j] ?? .nan, change as NSString))
    }
    for (status, text) in [(ParameterStatus.notExcited, "not excited by this log (kept near nominal)"),
                           (.combination, "only in combination with others (regrouped; estimate not individually meaningful)"),
                           (.noEffect, "no effect on this robot's torques (kept nominal)")] {
        let names = r.names.indices.filter { r.status[$0] == status }.map { r.names[$0] }
        if !names.isEmpty { lines.append("\(text): \(names.joined(separator: ", "))") }
    }
    lines.append("torque residual RMS per joint, N·m: " + zip(r.residualBefore, r.residualAfter).map { String(format: "%.3g → %.3g", $0, $1) }.joined(separator: ", "))
    if !r.projectedBodies.isEmpty { lines.append("inertia projected to a physical one: \(r.projectedBodies.joined(separator: ", "))") }
    return lines.joined(separator: "\n")
}

func sysidJSON(_ r: IdentificationResult) -> [String: Any] {
    var parameters: [[String: Any]] = []
    for j in r.names.indices {
        parameters.append(["name": r.names[j], "nominal": r.nominal[j], "estimate": r.estimate[j],
                           "standard_error": r.standardError[j] as Any, "status": r.status[j].rawValue])
    }
    return ["rank": r.rank, "base_parameters": r.structuralRank, "rows": r.rows, "parameters": parameters,
            "torque_residual_before": r.residualBefore, "torque_residual_after": r.residualAfter, "projected_bodies": r.projectedBodies]
}

/// `mbc bench sysid`: identification of a changed arm from its own exciting log, against the truth.
struct BenchSysid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysid",
        abstract: "Identify an arm whose masses (±30 %), damping (×2) and Coulomb friction were changed, from a simulated exciting log; errors against the truth and open-loop RMSE, also on a validation log.")
    @Option(help: "Robot (URDF).") var robot: String = "robots/arm.urdf"
    @Option(help: "Log duration, s.") var seconds: Double = 60
    @Option(help: "Log rate, Hz.") var rate: Double = 500
    @Option(help: "Seed of the trajectory and of the mass changes.") var seed: UInt64 = 0
    @Option(help: "Directory for the log and the true and identified URDFs.") var outDir: String = "bench-sysid"
    @Flag(help: "The quadruped instead: a walking log with ground friction, actuator strength and latency changed, identified by trajectory matching.")
    var quadruped = false
    @Option(help: "With --quadruped: the walking policy that makes the log.") var policy: String = "docs/results/sac-quadruped-seed1/policy.safetensors"
    @OptionGroup var common: CommonOptions

    func run() throws {
        if quadruped { return try runQuadruped() }
        let model = try RobotModel(contentsOf: resolveResource(robot))
        let nominal = try fixedBaseParameters(model)
        // the "real" robot: each body's mass (and inertia, same density) ×(1 ± 0.3), sign drawn per body;
        // damping ×2; Coulomb friction 0.05 → 0.12 N·m (×2.4)
        var rng = SeededRNG(seed: seed &+ 77)
        var truth = nominal
        for i in truth.bodies.indices { truth.bodies[i].scaleMass(by: rng.uniform() < 0.5 ? 0.7 : 1.3) }
        for i in truth.joints.indices { truth.joints[i].damping *= 2; truth.joints[i].friction = 0.12 }
        let dir = URL(fileURLWithPath: outDir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try URDFWriter.write(model, parameters: truth, to: dir.appendingPathComponent("truth.urdf"))
        let logURL = dir.appendingPathComponent("excite.csv")
        let t0 = Date()
        let trajectory = FourierTrajectory(model: model, seed: seed)
        try recordExcitation(model: model, trajectory: trajectory, seconds: seconds, rate: rate, parameters: truth, to: logURL)
        let t1 = Date()
        let log = try JointLog.read(url: logURL, model: model)
        let result = try InverseDynamicsIdentification(model: model, nominal: nominal).identify(log)
        let t2 = Date()
        try URDFWriter.write(model, parameters: result.parameters, to: dir.appendingPathComponent("identified.urdf"))
        let before = try openLoopError(model: model, parameters: nominal, log: log)
        let after = try openLoopError(model: model, parameters: result.parameters, log: log)
        // cross-validation: another trajectory of the same robot, not used for fitting
        let validationURL = dir.appendingPathComponent("validation.csv")
        try recordExcitation(model: model, trajectory: FourierTrajectory(model: model, seed: seed &+ 1000), seconds: 20, rate: rate,
                             parameters: truth, to: validationURL)
        let validation = try JointLog.read(url: validationURL, model: model)
        let validationBefore = try openLoopError(model: model, parameters: nominal, log: validation)
        let validationAfter = try openLoopError(model: model, parameters: result.parameters, log: validation)
        let regressor = try RigidBodyRegressor(model: model)
        let truthVector = try regressor.parameterVector(truth)
        var rows: [[String: Any]] = []
        var worst: [String: Double] = ["mass": 0, "damping": 0, "friction": 0]
        say(String(format: "%-26@ %10@ %10@ %10@ %8@", "parameter" as NSString, "nominal" as NSString, "truth" as NSString, "identified" as NSString, "error" as NSString))
        for j in result.names.indices where result.status[j] == .identified {
            let name = result.names[j]
            guard let kind = ["mass", "damping", "friction"].first(where: { name.hasSuffix(".\($0)") }) else { continue }
            let error = result.estimate[j] / truthVector[j] - 1
            worst[kind] = max(worst[kind]!, abs(error))
            say(String(format: "%-26@ %10.4g %10.4g %10.4g %+7.2f %%", name as NSString, result.nominal[j], truthVector[j], result.estimate[j], 100 * error))
            rows.append(["name": name, "nominal": result.nominal[j], "truth": truthVector[j], "estimate": result.estimate[j], "relative_error": error])
        }
        let unidentified = result.names.indices.filter { result.status[$0] != .identified && result.names[$0].hasSuffix(".mass") }.map { result.names[$0] }
        if !unidentified.isEmpty { say("masses the robot does not reveal individually: \(unidentified.joined(separator: ", "))") }
        say(String(format: "largest error: masses %.2f %%, damping %.2f %%, friction %.2f %%", 100 * worst["mass"]!, 100 * worst["damping"]!, 100 * worst["friction"]!))
        say(String(format: "open-loop 1-s joint-position RMSE: nominal %.4g rad → identified %.4g rad (%.1f× smaller)", before, after, before / after))
        say(String(format: "… on a 20-s validation log of another trajectory: %.4g rad → %.4g rad (%.1f× smaller)", validationBefore, validationAfter, validationBefore / validationAfter))
        say(String(format: "log %.1f s to simulate, identification %.1f s; files in %@", t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), outDir))
        if common.json {
            printJSON(["command": "bench sysid", "seconds": seconds, "rate": rate, "seed": seed, "parameters": rows,
                       "worst_mass_error": worst["mass"]!, "worst_damping_error": worst["damping"]!, "worst_friction_error": worst["friction"]!,
                       "masses_not_individually_identifiable": unidentified, "rank": result.rank, "base_parameters": result.structuralRank,
                       "open_loop_rmse_before": before, "open_loop_rmse_after": after,
                       "validation_open_loop_rmse_before": validationBefore, "validation_open_loop_rmse_after": validationAfter,
                       "identification_seconds": t2.timeIntervalSince(t1)])
        }
    }
}
