import ControlCore
import Environments
import Foundation
import Planning
import Robots
import Testing
@testable import Control

@Suite("MPC with the simulator as the model")
struct SimulatorMPCTests {
    @Test("rollout costs are identical with 1 and 2 workers, and restoring leaves the controlled env untouched")
    func workersAgree() throws {
        let env = try ArmReachEnv(seed: 3)
        _ = env.reset(seed: 3)
        let snap = env.snapshot()
        let before = env.observation()
        var rng = SeededRNG(seed: 1)
        let horizon = 5, count = 9
        let population = (0..<(count * horizon * 7)).map { _ in rng.uniform(-1, 1) }
        let one = try SimulatorRollouts(workers: 1) { try ArmReachEnv(seed: 3) }
        let two = try SimulatorRollouts(workers: 2) { try ArmReachEnv(seed: 3) }
        let a = one.costs(from: snap, population: population, count: count, horizon: horizon)
        let b = two.costs(from: snap, population: population, count: count, horizon: horizon)
        #expect(a == b)
        #expect(a.allSatisfy { $0.isFinite })
        #expect(env.observation() == before)
    }

    @Test("planning worlds: a randomized robot's own parameters stay hidden, and robust costs are the mean (or CVaR) over the worlds")
    func planningWorlds() throws {
        let env = try ArmReachEnv(seed: 3)
        let nominal = env.simulation.parameters
        var heavy = nominal, light = nominal
        for i in heavy.bodies.indices { heavy.bodies[i].scaleMass(by: 1.6); light.bodies[i].scaleMass(by: 0.6) }
        var rng = SeededRNG(seed: 2)
        let horizon = 6, count = 5
        let population = (0..<(count * horizon * 7)).map { _ in rng.uniform(-1, 1) }
        let rollouts = try SimulatorRollouts(workers: 2) { try ArmReachEnv(seed: 3) }
        _ = env.reset(seed: 3)
        let nominalCosts = rollouts.costs(from: env.snapshot(), population: population, count: count, horizon: horizon)
        // the controlled robot is heavy: its snapshot carries that; planning in [nominal] gives the nominal costs
        try env.simulation.apply(heavy)
        let heavySnapshot = env.snapshot()
        let seen = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        try rollouts.plan(in: [nominal])
        let hidden = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        #expect(seen != nominalCosts && hidden == nominalCosts)
        // robust: the mean over the worlds, and CVaR 0.5 of two worlds the worse one
        try rollouts.plan(in: [heavy]); let h = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        try rollouts.plan(in: [light]); let l = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        try rollouts.plan(in: [heavy, light])
        let mean = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        rollouts.cvarFraction = 0.5
        let worst = rollouts.costs(from: heavySnapshot, population: population, count: count, horizon: horizon)
        for c in 0..<count {
            #expect(abs(mean[c] - (h[c] + l[c]) / 2) < 1e-9 * max(1, abs(mean[c])))
            #expect(worst[c] == max(h[c], l[c]))
        }
        #expect(h != l)
        // a world of another robot is refused when it is set, not silently ignored while planning
        let quadruped = try QuadrupedWalkEnv(seed: 0).simulation.parameters
        #expect(throws: (any Error).self) { try rollouts.plan(in: [quadruped]) }
        #expect(rollouts.worlds == [heavy, light])
    }

    @Test("a short CEM-MPC run brings the arm's end effector much closer to its target")
    func armApproaches() throws {
        let env = try ArmReachEnv(seed: 5)
        var config = SimulatorMPCConfig()
        config.episodes = 1; config.seed = 5; config.maxSteps = 12; config.workers = 2
        config.planner = PlannerConfiguration(kind: .cem, horizon: 5, replanInterval: 1, warmStart: true,
                                              cem: CEMConfiguration(populationSize: 16, eliteCount: 4, iterations: 2))
        let rollouts = try SimulatorRollouts(workers: 2) { try ArmReachEnv(seed: 5) }
        _ = env.reset(seed: 5)
        let start = (env.endEffectorPosition - env.target).norm
        var last = start
        _ = try runMPC(env: env, model: .simulator(rollouts), config: config) { _, _, r, _ in last = r.info["distance"] ?? last }
        #expect(last < 0.5 * start, "distance \(last) m from \(start) m")
    }
}
