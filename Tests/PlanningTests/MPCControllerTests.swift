import ControlCore
import Foundation
import Testing
@testable import Planning

/// Double integrator x'' = u, |u| ≤ 1, dt = 0.1, exact zero-order-hold discretization:
/// x' = x + v dt + u dt²/2, v' = v + u dt. Cost per step, on the next state: x² + 0.1 v² + 0.01 u².
enum DoubleIntegrator {
    static let dt = 0.1

    static func step(_ s: [Double], _ u: Double) -> [Double] {
        [s[0] + s[1] * dt + 0.5 * u * dt * dt, s[1] + u * dt]
    }

    /// Rollout cost of (count × horizon × 1) action sequences from observation `s`.
    static func rolloutCost(horizon: Int) -> MPCController.Rollout {
        { s, population, count in
            (0..<count).map { j in
                var x = s[0], v = s[1], total = 0.0
                for t in 0..<horizon {
                    let u = population[j * horizon + t]
                    x += v * dt + 0.5 * u * dt * dt
                    v += u * dt
                    total += x * x + 0.1 * v * v + 0.01 * u * u
                }
                return total
            }
        }
    }

    /// Runs `steps` closed-loop steps from x = 1, v = 0; returns the states visited and the actions.
    static func run(_ controller: MPCController, steps: Int) -> (states: [[Double]], actions: [Double]) {
        var s = [1.0, 0.0], states = [s], actions: [Double] = []
        for _ in 0..<steps {
            let u = controller.act(s, deterministic: true)
            #expect(u.count == 1 && abs(u[0]) <= 1)
            actions.append(u[0])
            s = step(s, u[0])
            states.append(s)
        }
        return (states, actions)
    }
}

@Suite("MPC controller")
struct MPCControllerTests {
    static func makeController(seed: UInt64, replanInterval: Int = 1) -> MPCController {
        var cfg = PlannerConfiguration(kind: .cem, horizon: 20, replanInterval: replanInterval)
        cfg.cem = CEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 5)
        return MPCController(configuration: cfg, actionBounds: BoxSpace(dimension: 1, bound: 1), seed: seed,
                             rollout: DoubleIntegrator.rolloutCost(horizon: 20))
    }

    @Test("MPC with CEM brings the double integrator from x = 1 to |x|, |v| < 0.05 within 60 steps")
    func doubleIntegrator() {
        let mpc = Self.makeController(seed: 21)
        let (states, _) = DoubleIntegrator.run(mpc, steps: 60)
        let arrived = states.firstIndex { abs($0[0]) < 0.05 && abs($0[1]) < 0.05 }
        #expect(arrived != nil, "final state \(states.last!)")
        let last = states.last!
        #expect(abs(last[0]) < 0.05 && abs(last[1]) < 0.05, "final state \(last)")
        let t = mpc.timing
        #expect(t.calls == 60 && t.meanSeconds > 0 && t.p95Seconds >= t.meanSeconds * 0.5 && t.maxSeconds >= t.p95Seconds)
        #expect(mpc.lastResult?.evaluations == 1000)
    }

    @Test("action repeat: each decision is held r steps, the model sees horizon·r steps, and the integrator still settles")
    func actionRepeat() {
        var cfg = PlannerConfiguration(kind: .cem, horizon: 10, replanInterval: 2)
        cfg.actionRepeat = 2
        cfg.cem = CEMConfiguration(populationSize: 200, eliteCount: 20, iterations: 5)
        var seen: Set<Int> = []
        let inner = DoubleIntegrator.rolloutCost(horizon: 20)
        let mpc = MPCController(configuration: cfg, actionBounds: BoxSpace(dimension: 1, bound: 1), seed: 5) { s, population, count in
            seen.insert(population.count / count)
            for j in 0..<count { for t in stride(from: 0, to: 20, by: 2) { #expect(population[j * 20 + t] == population[j * 20 + t + 1]) } }
            return inner(s, population, count)
        }
        let (states, actions) = DoubleIntegrator.run(mpc, steps: 60)
        #expect(seen == [20])
        #expect(mpc.timing.calls == 15)  // k · r = 4 control steps per plan
        for t in stride(from: 0, to: 60, by: 2) { #expect(actions[t] == actions[t + 1]) }
        let last = states.last!
        #expect(abs(last[0]) < 0.1 && abs(last[1]) < 0.1, "final state \(last)")
    }

    @Test("a deadline ends the optimization after the iteration in which it passes (the first always runs)")
    func deadline() {
        var cfg = PlannerConfiguration(kind: .cem, horizon: 5)
        cfg.cem = CEMConfiguration(populationSize: 20, eliteCount: 4, iterations: 50)
        cfg.deadline = 0.05
        let inner = DoubleIntegrator.rolloutCost(horizon: 5)
        let mpc = MPCController(configuration: cfg, actionBounds: BoxSpace(dimension: 1, bound: 1), seed: 1) { s, p, c in
            Thread.sleep(forTimeInterval: 0.02)  // a slow model: 20 ms per iteration
            return inner(s, p, c)
        }
        _ = mpc.act([1, 0], deterministic: true)
        let done = mpc.lastResult!.iterations
        #expect(done >= 1 && done < 50, "\(done) iterations")
        cfg.deadline = 0
        let unlimited = MPCController(configuration: cfg, actionBounds: BoxSpace(dimension: 1, bound: 1), seed: 1, rollout: inner)
        _ = unlimited.act([1, 0], deterministic: true)
        #expect(unlimited.lastResult!.iterations == 50)
    }

    @Test("replanning every k steps plans ⌈steps/k⌉ times and still converges")
    func replanInterval() {
        let mpc = Self.makeController(seed: 22, replanInterval: 3)
        let (states, _) = DoubleIntegrator.run(mpc, steps: 60)
        #expect(mpc.timing.calls == 20)
        let last = states.last!
        #expect(abs(last[0]) < 0.1 && abs(last[1]) < 0.1, "final state \(last)")
    }

    @Test("same seed → identical closed loop; reset(seed:) replays it; another seed differs")
    func determinism() {
        let a = DoubleIntegrator.run(Self.makeController(seed: 23), steps: 15).actions
        let b = DoubleIntegrator.run(Self.makeController(seed: 23), steps: 15).actions
        let c = DoubleIntegrator.run(Self.makeController(seed: 24), steps: 15).actions
        #expect(a == b)
        #expect(a != c)
        let mpc = Self.makeController(seed: 99)
        _ = DoubleIntegrator.run(mpc, steps: 5)
        mpc.reset(seed: 23)
        #expect(mpc.timing.calls == 0)
        #expect(DoubleIntegrator.run(mpc, steps: 15).actions == a)
    }

    @Test("planning time statistics: mean and nearest-rank p95")
    func timingStatistics() {
        let s = PlanningTimeStatistics(durations: (1...20).map(Double.init))
        #expect(s.calls == 20 && s.meanSeconds == 10.5 && s.p95Seconds == 19 && s.maxSeconds == 20)
        #expect(PlanningTimeStatistics(durations: []).calls == 0)
    }
}
