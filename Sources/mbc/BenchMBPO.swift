import ArgumentParser
import Control
import ControlCore
import Environments
import Foundation
import Learning
import NeuralNets

/// `mbc bench mbpo`: the cost of MBPO's parts on the quadruped with the default settings (Janner et al. 2019's
/// Ant settings, `configs/mbpo-quadruped.yaml`), and the wall-clock seconds per 1,000 env steps they add up to:
/// 1,000 environment steps, 1,000 / F ensemble refits on `--real` transitions (warm-started, as in a run) and as
/// many rollout batches of M · F start states at length `--k`, and G · 1,000 SAC updates on mixed minibatches.
struct BenchMBPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mbpo",
        abstract: "MBPO's refit, rollout and update costs on the quadruped, and the seconds per 1,000 env steps they make.")
    @Option(help: "Real transitions the ensemble is refit on (random actions).") var real: Int = 10_000
    @Option(help: "Rollout length timed (k grows from 1 to 25 over a default run).") var k: Int = 1
    @Option(help: "SAC updates timed.") var updates: Int = 1000
    @Option var seed: UInt64 = 0
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard real >= 500, k >= 1, updates >= 1 else { throw ValidationError("--real must be at least 500, --k and --updates at least 1") }
    }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench mbpo`\n".data(using: .utf8)!)
        #endif
        var settings = MBPOSettings()
        settings.rolloutSchedule = [0, 0, Double(k), Double(k)]
        let config = TrainConfig()
        let env = try QuadrupedWalkEnv(seed: seed)
        let model = try MBPOModel.make(settings: settings, env: env)
        var buffer = ReplayBuffer(capacity: real + 1000, observationDimension: env.observationSpace.dimension, actionDimension: 12)
        var normalizer = RunningNormalizer(dimension: env.observationSpace.dimension)
        var rng = SeededRNG(seed: seed)
        var episode = 0
        var obs = env.reset(seed: 0)
        var simulated = 0.0
        func collect(_ n: Int) throws {
            for _ in 0..<n {
                let before = try model.state(of: env, observation: obs)
                let action = (0..<12).map { _ in rng.uniform(-1, 1) }
                let t0 = Date()
                let r = env.step(action)
                simulated += Date().timeIntervalSince(t0)
                model.record(state: before.state, previousAction: before.previousAction, action: action,
                             next: try env.modelState(names: model.stateNames, observation: r.observation), episode: episode)
                buffer.append(observation: obs, action: action, reward: r.reward, cost: r.cost, nextObservation: r.observation, terminated: r.terminated)
                normalizer.update(r.observation)
                obs = r.observation
                if r.done { episode += 1; obs = env.reset(seed: UInt64(episode)) }
            }
        }
        try collect(real)
        let envStepSeconds = simulated / Double(real)
        say("collected \(real) random transitions (\(episode) episodes); refitting the ensemble from scratch …")
        let first = try model.retrain()
        try collect(settings.modelTrainInterval)
        let warm = try model.retrain()
        say(String(format: "refit: from scratch %.1f s (%d epochs), warm-started on %d transitions %.1f s (%d epochs)",
                   first.seconds, first.epochs, model.realCount, warm.seconds, warm.epochs))
        let agent0 = SACAgent(observationDimension: env.observationSpace.dimension, actionDimension: 12, settings: config.sac, lagrangian: nil, rng: &rng)
        let rollout = model.rollout(epoch: 0, actor: agent0.actor, normalizer: normalizer, rng: &rng)
        say(String(format: "rollout batch: %d start states × k = %d: %d transitions in %.2f s (%.0f transitions/s)",
                   rollout.startStates, k, rollout.transitions, rollout.seconds, Double(rollout.transitions) / rollout.seconds))
        var agent = agent0
        for _ in 0..<20 { try agent.update(model.sampleBatch(real: buffer, size: config.sac.batchSize, rng: &rng, normalizer: normalizer), rng: &rng) }
        let t0 = Date()
        for _ in 0..<updates { try agent.update(model.sampleBatch(real: buffer, size: config.sac.batchSize, rng: &rng, normalizer: normalizer), rng: &rng) }
        let updateRate = Double(updates) / Date().timeIntervalSince(t0)
        let G = 20.0, perThousand = 1000.0 / Double(settings.modelTrainInterval)
        let parts = (env: 1000 * envStepSeconds, refits: perThousand * warm.seconds, rollouts: perThousand * rollout.seconds, updates: G * 1000 / updateRate)
        let total = parts.env + parts.refits + parts.rollouts + parts.updates
        say(String(format: "SAC updates on mixed minibatches: %.1f/s", updateRate))
        say(String(format: "seconds per 1,000 env steps: %.0f (env %.1f, %g refits %.1f, %g rollout batches %.1f, %.0f updates %.1f)",
                   total, parts.env, perThousand, parts.refits, perThousand, parts.rollouts, G * 1000, parts.updates))
        if common.json {
            printJSON(["measure": "mbpo_parts", "real_transitions": model.realCount, "rollout_length": k,
                       "refit_scratch_seconds": first.seconds, "refit_scratch_epochs": first.epochs,
                       "refit_warm_seconds": warm.seconds, "refit_warm_epochs": warm.epochs,
                       "rollout_start_states": rollout.startStates, "rollout_transitions": rollout.transitions, "rollout_seconds": rollout.seconds,
                       "sac_updates_per_second": updateRate, "env_step_seconds": envStepSeconds,
                       "seconds_per_1000_env_steps": total, "seconds_env": parts.env, "seconds_refits": parts.refits,
                       "seconds_rollouts": parts.rollouts, "seconds_updates": parts.updates] as [String: Any])
        }
    }
}
