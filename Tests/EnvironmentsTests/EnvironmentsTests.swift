import ControlCore
import Environments
import Foundation
import Physics
import Robots
import Testing
@testable import Environments

@Suite("Gymnasium-style environments")
struct EnvironmentsTests {
    @Test("quadruped-walk: spaces, standing start, a zero action keeps it standing without cost")
    func quadrupedStands() throws {
        let env = try QuadrupedWalkEnv(seed: 3)
        #expect(env.observationSpace.dimension == 46)
        #expect(env.actionSpace.dimension == 12)
        #expect(abs(env.controlTimeStep - 0.02) < 1e-12)
        var obs = env.reset(seed: 3)
        #expect(obs.count == 46)
        var cost = 0.0
        for _ in 0..<100 {
            let r = env.step(Array(repeating: 0, count: 12))
            #expect(!r.terminated, "\(r.endReason ?? "")")
            cost += r.cost
            obs = r.observation
        }
        #expect(cost == 0)
        #expect(obs[0] > 0.25, "trunk height \(obs[0])")
        // gravity in the body frame points down
        #expect(obs[3] < -0.99)
    }

    @Test("the same seed gives the same episode; a different seed a different one")
    func determinism() throws {
        func run(_ seed: UInt64) throws -> [Double] {
            let env = try QuadrupedWalkEnv(seed: seed)
            let policy = RandomPolicy(actionDimension: 12, seed: seed)
            var obs = env.reset(seed: seed)
            for _ in 0..<50 { obs = env.step(policy.act(obs, deterministic: false)).observation }
            return obs
        }
        #expect(try run(5) == run(5))
        #expect(try run(5) != run(6))
    }

    @Test("environment snapshot/restore replays bit-identically")
    func envSnapshot() throws {
        let env = try QuadrupedWalkEnv(seed: 2)
        let policy = RandomPolicy(actionDimension: 12, seed: 2)
        var obs = env.reset(seed: 2)
        for _ in 0..<20 { obs = env.step(policy.act(obs, deterministic: false)).observation }
        let snap = env.snapshot()
        let actions = (0..<30).map { _ in policy.act(obs, deterministic: false) }
        let first = actions.map { env.step($0) }
        env.restore(snap)
        let second = actions.map { env.step($0) }
        for (a, b) in zip(first, second) {
            #expect(a.observation == b.observation)
            #expect(a.reward == b.reward)
        }
    }

    @Test("the safety cost follows Ha et al.: f_s = min(φ̂ − |pitch|, ρ̂ − |roll|), cost 1 when negative")
    func safetyCost() throws {
        var config = QuadrupedWalkConfig()
        config.pitchLimit = 0.1
        let env = try QuadrupedWalkEnv(config: config, seed: 1)
        _ = env.reset(seed: 1)
        // tip the trunk nose-down by 0.2 rad (beyond φ̂ = 0.1)
        let stand = Array((0..<4).map { _ in config.standingPose }.joined())
        env.simulation.setState(basePose: Pose(position: Vec3(0, 0, 0.35), orientation: Quat(roll: 0, pitch: 0.2, yaw: 0)), q: stand)
        let r = env.step(Array(repeating: 0, count: 12))
        #expect(r.info["safety_margin"]! < 0)
        #expect(r.cost == 1)
    }

    @Test("a quadruped dropped on its back ends the episode as a fall")
    func fallTerminates() throws {
        let env = try QuadrupedWalkEnv(seed: 1)
        _ = env.reset(seed: 1)
        let stand = Array((0..<4).map { _ in env.config.standingPose }.joined())
        env.simulation.setState(basePose: Pose(position: Vec3(0, 0, 0.3), orientation: Quat(roll: Double.pi, pitch: 0, yaw: 0)), q: stand)
        var ended: StepResult?
        for _ in 0..<100 { let r = env.step(Array(repeating: 0, count: 12)); if r.done { ended = r; break } }
        #expect(ended?.terminated == true)
        #expect(ended?.endReason == "fall")
    }

    @Test("arm-reach: targets are reachable, gravity compensation holds the arm still at a zero action")
    func armReach() throws {
        let env = try ArmReachEnv(seed: 4)
        #expect(env.observationSpace.dimension == 20)
        let obs0 = env.reset(seed: 4)
        for _ in 0..<50 { _ = env.step(Array(repeating: 0, count: 7)) }
        let q = env.simulation.jointState().q
        for i in 0..<7 { #expect(abs(q[i] - obs0[i]) < 0.05, "joint \(i + 1) drifted to \(q[i]) from \(obs0[i])") }
        // the target lies within the arm's reach from the shoulder
        let shoulder = Vec3(0, 0, 0.333)
        #expect((env.target - shoulder).norm < 0.95)
    }

    @Test("a vector of environments gives the same results with 1 and 2 workers")
    func vectorEnv() throws {
        func run(workers: Int) throws -> [[Double]] {
            let vec = VectorEnv(try (0..<3).map { _ in try QuadrupedWalkEnv(seed: 0) }, workers: workers)
            _ = vec.reset(seed: 10)
            var rng = SeededRNG(seed: 1)
            var out: [StepResult] = []
            for _ in 0..<20 { out = vec.step((0..<3).map { _ in (0..<12).map { _ in rng.uniform(-1, 1) } }) }
            return out.map(\.observation)
        }
        #expect(try run(workers: 1) == run(workers: 2))
    }
}

/// An episode depends on its seed only: `reset(seed:)` also restarts the world's random stream (QuickStep's
/// constraint reordering), so the same seed and actions give the same trajectory whatever ran before.
@Suite struct ResetDeterminismTests {
    func trajectory<E: RobotEnvironment>(_ env: E, seed: UInt64, steps: Int) -> [Double] {
        var obs = env.reset(seed: seed)
        let a = env.actionSpace.dimension
        for k in 0..<steps { obs = env.step((0..<a).map { sin(Double(k + $0)) }).observation }
        return obs
    }

    @Test func quadrupedEpisodeIsIndependentOfHistory() throws {
        let fresh = try QuadrupedWalkEnv(), used = try QuadrupedWalkEnv()
        _ = trajectory(used, seed: 9, steps: 40)
        #expect(trajectory(fresh, seed: 5, steps: 40) == trajectory(used, seed: 5, steps: 40))
    }

    @Test func pendulumEpisodeIsIndependentOfHistory() throws {
        let fresh = try PendulumSwingUpEnv(), used = try PendulumSwingUpEnv()
        _ = trajectory(used, seed: 9, steps: 60)
        #expect(trajectory(fresh, seed: 5, steps: 60) == trajectory(used, seed: 5, steps: 60))
    }

    /// The pendulum task: observation (cos θ, sin θ, θ̇) with θ from upright, Gymnasium's reward, torque clamped.
    @Test func pendulumSwingUpTask() throws {
        let env = try PendulumSwingUpEnv()
        #expect(env.observationNames == ["cos_angle", "sin_angle", "joint_state.velocity.hinge"])
        env.simulation.setState(q: [.pi], qd: [0])  // upright, at rest
        let obs = env.observation()
        #expect(abs(obs[0] - 1) < 1e-12 && abs(obs[1]) < 1e-12)
        let r = env.step([5])  // clamped to 1 → maxTorque, 4 N·m
        #expect(abs(env.appliedTorques[0] - 4) < 1e-12)  // mean over substeps
        let theta = PendulumSwingUpTask.angleFromUpright(env.simulation.jointState().q[0])
        let qd = env.simulation.jointState().qd[0]
        #expect(abs(r.reward - -(theta * theta + 0.1 * qd * qd + 0.001 * 16)) < 1e-12)
        #expect(PendulumSwingUpTask.angleFromUpright(0) == -.pi)
        #expect(abs(PendulumSwingUpTask.angleFromUpright(3 * .pi + 0.1) - 0.1) < 1e-12)
    }
}

/// The pendulum's observed rate θ̇ is the rate of its angle: under a swinging torque it matches the central
/// difference (θ[t+1] − θ[t−1]) / 2Δt of the observed angles to 0.15 rad/s (the difference's own error), and
/// the angle follows I θ̈ = τ + m g l sin θ integrated independently. (With QuickStep's 20 iterations the
/// hinge did not converge and θ̇ jittered by up to 3 rad/s while the angle stayed right — SAC could not learn
/// from it; the task now uses the exact solver. This test fails 22 times over with `solver = .iterative`.)
@Suite struct PendulumObservationTests {
    @Test func observedRateIsTheAnglesRate() throws {
        let env = try PendulumSwingUpEnv()
        let dt = 1 / env.config.controlFrequency, substeps = 10, h = dt / Double(substeps)
        let first = env.reset(seed: 5)
        var angles = [atan2(first[1], first[0])], rates = [first[2]]
        var theta = angles[0], omega = rates[0], worst = 0.0
        for t in 0..<60 {
            let a = sin(Double(t) * 0.3)
            let obs = env.step([a]).observation
            angles.append(atan2(obs[1], obs[0])); rates.append(obs[2])
            for _ in 0..<substeps {  // semi-implicit Euler at the physics step, as ODE
                omega += h * (a * env.config.maxTorque + 9.81 * sin(theta)) / 1.001
                theta += h * omega
            }
            let wrapped = remainder(theta - angles.last!, 2 * .pi)
            worst = max(worst, abs(wrapped))
        }
        #expect(worst < 0.02, "angle differs from the integrated model by \(worst) rad")
        for t in 1..<(angles.count - 1) {
            let central = remainder(angles[t + 1] - angles[t - 1], 2 * .pi) / (2 * dt)
            #expect(abs(central - rates[t]) < 0.15, "step \(t): θ̇ \(rates[t]) rad/s, angle's rate \(central)")
        }
    }
}

/// The swing-up is solvable within the torque bound: an energy-pumping controller with a PD catch at the top
/// (Åström & Furuta 2000 style) brings the pole up and holds it from random starts — the reference the SAC
/// pendulum check is compared with (docs/TRAINING.md).
@Suite struct PendulumReferenceControllerTests {
    @Test func energyPumpingSwingsUpAndHolds() throws {
        let env = try PendulumSwingUpEnv()
        let m = 1.0, g = 9.81, l = 1.0, inertia = 1.001, maxTorque = env.config.maxTorque
        var returns: [Double] = [], upright = 0
        for seed in 0..<10 {
            var obs = env.reset(seed: UInt64(seed))
            var total = 0.0
            for _ in 0..<env.config.maxEpisodeSteps {
                let theta = atan2(obs[1], obs[0]), w = obs[2]
                // energy relative to upright at rest: ½ I ω² + m g l (cos θ − 1)
                let energy = 0.5 * inertia * w * w + m * g * l * (cos(theta) - 1)
                let torque = abs(theta) < 0.5 ? -40 * theta - 10 * w : (energy < 0 ? maxTorque : -maxTorque) * (w >= 0 ? 1 : -1)
                let r = env.step([max(-1, min(1, torque / maxTorque))])
                total += r.reward
                obs = r.observation
                if r.done { break }
            }
            returns.append(total)
            if abs(atan2(obs[1], obs[0])) < env.config.uprightTolerance { upright += 1 }
        }
        let mean = returns.reduce(0, +) / Double(returns.count)
        print("reference swing-up: mean return \(mean), upright at the end \(upright)/10, returns \(returns.map { Int($0) })")
        #expect(upright == 10)
        #expect(mean > -600)
    }
}

/// Domain randomization: draws are reproducible per seed, inside their bounds, `none` keeps the nominal value,
/// and the environment applies the draw of each episode's seed at reset.
@Suite struct DomainRandomizationTests {
    @Test func drawsAreReproducibleBoundedAndApplied() throws {
        let env = try QuadrupedWalkEnv(seed: 0)
        let nominal = env.simulation.parameters
        let spec = DomainRandomization()
        let a = spec.sample(nominal: nominal, seed: 7), b = spec.sample(nominal: nominal, seed: 7), c = spec.sample(nominal: nominal, seed: 8)
        #expect(a == b && a != c)
        for seed in 0..<50 as Range<UInt64> {
            let p = spec.sample(nominal: nominal, seed: seed)
            #expect((0.5...1.25).contains(p.groundFriction) && (0...2).contains(p.latency))
            for (body, base) in zip(p.bodies, nominal.bodies) {
                #expect(body.mass >= 0.8 * base.mass - 1e-12 && body.mass <= 1.2 * base.mass + 1e-12)
                #expect(body.centerOfMass == base.centerOfMass)  // comOffset: none
            }
            for joint in p.joints {
                #expect((0.8...1.2).contains(joint.strength) && (0...0.05).contains(joint.damping) && (0...0.05).contains(joint.friction))
                #expect(joint.gains == nominal.joints[0].gains)  // gainScale: none
            }
        }
        // the environment: each seeded reset applies that seed's draw; without randomization nothing changes
        env.randomization = spec
        _ = env.reset(seed: 7)
        #expect(env.simulation.parameters == a && env.episodeParameters == a)
        _ = env.reset(seed: 8)
        #expect(env.simulation.parameters == c)
        env.randomization = nil  // back to the nominal parameters
        #expect(env.simulation.parameters == nominal && env.episodeParameters == nil)
        env.randomization = spec
        _ = env.reset(seed: 7)
        #expect(env.simulation.parameters == a)
        // bad specs are refused by their cross-checks
        var bad = DomainRandomization()
        bad.groundFriction = ParameterDistribution(.uniform, 1.2, 0.5)
        bad.strength = ParameterDistribution(.logUniform, 0, 1)
        let problems = bad.violations().map(\.keyPath)
        #expect(problems.contains("groundFriction.low") && problems.contains("strength.low"))
    }
}
