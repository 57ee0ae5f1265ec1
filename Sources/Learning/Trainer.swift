// Trainer.swift: the training loop of `mbc train` — collection, gradient steps, λ updates, evaluation,
// metrics, checkpoints and the exported policy — over any `RobotEnv`.

import Control
import ControlCore
import Datasets
import Environments
import Foundation
import NeuralNets

/// A training setting that does not fit the environment (found when the run starts).
public struct TrainSettingsError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Mean outcome of the deterministic evaluation episodes.
public struct EvaluationSummary: Codable, Sendable, Equatable {
    public var episodes: Int
    public var meanReturn: Double
    public var meanCost: Double
    /// Unsafe steps (cost > 0) over all episodes.
    public var violations: Int
    /// Mean over episodes of the mean forward speed (NaN for tasks without one), m/s.
    public var meanForwardSpeed: Double
    public var falls: Int
    public var successRate: Double

    /// The summary of a run of episodes: its means, falls and unsafe steps (as `RolloutSummary` counts them),
    /// and the mean forward speed averaged over episodes rather than over steps, so a short episode that
    /// ended in a fall weighs as much as a whole one.
    public init(_ rollout: RolloutSummary) {
        episodes = rollout.episodes.count
        meanReturn = rollout.meanReturn
        meanCost = rollout.meanCost
        violations = rollout.safetyViolations
        let speeds = rollout.episodes.compactMap(\.meanForwardSpeed)
        meanForwardSpeed = speeds.isEmpty ? .nan : speeds.reduce(0, +) / Double(speeds.count)
        falls = rollout.falls
        successRate = rollout.successRate
    }
}

/// A `SeededRNG` stored in JSON as its four state words in hexadecimal, exact for any JSON reader (numbers
/// above 2⁵³ are not); decoding anything else is an error.
@propertyWrapper
struct HexWords: Codable, Sendable, Equatable {
    var wrappedValue: SeededRNG
    init(wrappedValue: SeededRNG) { self.wrappedValue = wrappedValue }
    init(from decoder: any Decoder) throws {
        let words = try decoder.singleValueContainer().decode([String].self)
        guard words.count == 4, let rng = SeededRNG(stateWords: words.compactMap { UInt64($0, radix: 16) }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "the random generator's state \(words) is not four hexadecimal words, not all zero"))
        }
        wrappedValue = rng
    }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue.stateWords.map { String($0, radix: 16) })
    }
}

/// Counters and scalars of a run, stored in the checkpoint (JSON in its metadata).
struct TrainState: Codable, Sendable, Equatable {
    var envSteps = 0
    var episodes = 0
    var violations = 0
    var totalCost = 0.0
    var lastLogStep = -1
    var lastEvaluationStep = 0
    var lastCheckpointStep = 0
    var lastMultiplierUpdateStep = 0
    var wallSeconds = 0.0
    /// The random stream of actions, minibatches and noise (in the JSON as four hexadecimal words).
    @HexWords var rng: SeededRNG
    var normalizer: RunningNormalizer
    var multiplier: Double?
    var lastEvaluation: EvaluationSummary?
    /// The best evaluation return so far (its policy is `policy-best.safetensors`).
    var bestEvaluationReturn: Double?
    var bestEvaluationStep: Int?
    /// Training steps the safety shield took over, and its take-overs (nil in checkpoints from before it).
    var shieldSteps: Int?
    var shieldInterventions: Int?
    /// Unsafe training steps taken while the shield held the robot (the recovery came too late).
    var shieldedViolations: Int?
    var finished = false
}

/// What a finished (or resumed-after-finishing) run reports.
public struct TrainSummary: Sendable {
    public var envSteps: Int
    public var updates: Int
    public var episodes: Int
    /// Unsafe training steps (cost > 0).
    public var violations: Int
    /// Training steps the safety shield took over (0 without a shield).
    public var shieldSteps: Int
    public var wallSeconds: Double
    public var finalEvaluation: EvaluationSummary?
    /// The best evaluation return and its env step (`policy-best.safetensors`), if any evaluation ran.
    public var bestEvaluationReturn: Double?
    public var bestEvaluationStep: Int?
    public var alpha: Double
    public var lambda: Double?
    public var policyURL: URL
}

/// Progress of the loop, reported every `progressInterval` env steps.
public struct TrainProgress: Sendable {
    public var envSteps: Int
    public var totalSteps: Int
    public var episodes: Int
    public var lastEpisodeReturn: Double?
    public var evaluationReturn: Double?
    public var lambda: Double?
    public var alpha: Double
}

/// SAC / SAC-Lagrangian training on one environment (`config.algorithm`).
///
/// Run directory: `metrics/metrics.csv` and TensorBoard events (one row every `logInterval` env steps, x axis
/// env steps), `checkpoint.safetensors` (every `checkpointInterval` env steps: networks, targets, Adam
/// moments, log α, cost critic, λ, the replay buffer, the normalizer, the RNG and the counters; written
/// atomically), `policy.safetensors` (`PolicyFile`) at every checkpoint and at the end, and
/// `policy-best.safetensors`, the policy of the best evaluation so far. Rows, evaluations
/// and checkpoints happen at episode ends, so a checkpoint never holds a half-finished episode; each episode
/// starts from `reset(seed: seed·1,000,003 + episode index)`. A run killed at any moment and resumed from its
/// checkpoint ends with the same weights, bit for bit, as an uninterrupted run (tested).
public final class SACTrainer<Task: RobotTask> {
    public let config: TrainConfig
    public let directory: URL
    let env: RobotEnv<Task>
    let evaluationEnv: RobotEnv<Task>
    public private(set) var agent: SACAgent
    public private(set) var buffer: ReplayBuffer
    var state: TrainState
    /// MBPO's model side (required when `config.algorithm` is model-based; `MBPOModel.make(settings:env:)`).
    public var model: MBPOModel?
    /// The last refit and rollout batch (for the metrics row).
    var lastFit: ModelFitReport?, lastRollout: ModelRolloutReport?

    /// Called every `progressInterval` env steps and at each episode end.
    public var onProgress: ((TrainProgress) -> Void)?
    public var progressInterval = 100
    /// Called with each metrics row (env steps, tag-value pairs).
    public var onRow: ((Int, [(String, Double)]) throws -> Void)?
    /// Called after each evaluation and checkpoint.
    public var onEvaluation: ((Int, EvaluationSummary) -> Void)?
    public var onCheckpoint: ((Int, URL) throws -> Void)?

    public static var checkpointFileName: String { "checkpoint.safetensors" }
    public static var policyFileName: String { "policy.safetensors" }
    public static var bestPolicyFileName: String { "policy-best.safetensors" }
    public var checkpointURL: URL { directory.appendingPathComponent(Self.checkpointFileName) }
    public var policyURL: URL { directory.appendingPathComponent(Self.policyFileName) }
    /// The policy of the best evaluation so far (SAC's last iterate is not always its best).
    public var bestPolicyURL: URL { directory.appendingPathComponent(Self.bestPolicyFileName) }

    /// - Parameters: `env` for training, `evaluationEnv` (another instance) for the deterministic evaluations.
    public init(config: TrainConfig, env: RobotEnv<Task>, evaluationEnv: RobotEnv<Task>, directory: URL) {
        self.config = config
        self.env = env
        self.evaluationEnv = evaluationEnv
        self.directory = directory
        var rng = SeededRNG(seed: config.seed)
        agent = SACAgent(observationDimension: env.task.observationDimension, actionDimension: env.task.actionDimension,
                         settings: config.sac, lagrangian: config.algorithm.isConstrained ? config.lagrangian : nil, rng: &rng)
        buffer = ReplayBuffer(capacity: config.replayCapacity, observationDimension: env.task.observationDimension,
                              actionDimension: env.task.actionDimension)
        state = TrainState(rng: rng, normalizer: RunningNormalizer(dimension: env.task.observationDimension),
                           multiplier: agent.safety?.multiplier.value)
    }

    /// The seed of training episode `k`.
    func episodeSeed(_ k: Int) -> UInt64 { config.seed &* 1_000_003 &+ UInt64(k) }

    /// The current policy with the current normalizer (frozen copy).
    public var policy: ActorPolicy { ActorPolicy(actor: agent.actor, normalizer: normalizer) }
    var normalizer: RunningNormalizer {
        config.normalizeObservations ? state.normalizer : RunningNormalizer(mean: Array(repeating: 0, count: buffer.observationDimension),
                                                                            std: Array(repeating: 1, count: buffer.observationDimension),
                                                                            clip: .greatestFiniteMagnitude)
    }

    /// Trains to `totalSteps`, continuing from `checkpoint.safetensors` when `resume` is set and it exists.
    public func run(resume: Bool) throws -> TrainSummary {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if resume, FileManager.default.fileExists(atPath: checkpointURL.path) { try loadCheckpoint() }
        let metrics = try MetricsWriter(directory: directory, runName: "metrics",
                                        resumeAfter: resume ? state.lastLogStep : nil)
        defer { try? metrics.close() }
        if state.finished && state.envSteps >= config.totalSteps { return summary() }
        state.finished = false  // a finished run resumed with a larger budget continues (a new episode first)

        let actions = env.task.actionDimension
        if config.algorithm.isModelBased && model == nil {
            throw TrainSettingsError(message: "\(config.algorithm.rawValue) needs the model side (MBPOModel) of a task with a closed form")
        }
        if config.shield.enabled, !config.shield.recoveryAction.isEmpty, config.shield.recoveryAction.count != actions {
            throw TrainSettingsError(message: "shield.recoveryAction has \(config.shield.recoveryAction.count) components; \(config.env.rawValue) has \(actions) actions")
        }
        var shield = SafetyShield(settings: config.shield, totalSteps: state.shieldSteps ?? 0, interventions: state.shieldInterventions ?? 0)
        var lastMargin: Double?  // the last step's safety margin (nil at an episode start)
        var obs = env.reset(seed: episodeSeed(state.episodes))
        state.normalizer.update(obs)
        var episode = (ret: 0.0, cost: 0.0, violations: 0, steps: 0, speed: 0.0, speedSteps: 0)
        var finished: [(ret: Double, cost: Double, violations: Int, steps: Int, speed: Double?)] = []
        var updateSums = [Double](repeating: 0, count: 7), updateCount = 0
        var evaluation: EvaluationSummary?
        var rowStart = (time: Date(), steps: state.envSteps, updates: agent.updates)
        var lastTick = Date()

        while state.envSteps < config.totalSteps {
            // act: uniform random during the warm-up, then a sample from π; the shield (if on) may replace it
            var action: [Double]
            if state.envSteps < config.randomSteps {
                action = (0..<actions).map { _ in state.rng.uniform(-1, 1) }
            } else {
                let x = Matrix(rows: 1, cols: obs.count, storage: normalizer.normalize(obs))
                action = agent.actor.sample(x, rng: &state.rng).actions.storage.map(Double.init)
            }
            let shielded: Bool
            (action, shielded) = shield.filter(proposed: action, lastMargin: lastMargin)
            let modelBefore = try model?.state(of: env, observation: obs)
            let r = env.step(action)
            lastMargin = r.info["safety_margin"]
            if shielded && r.cost > 0 { state.shieldedViolations = (state.shieldedViolations ?? 0) + 1 }
            let diverged = r.endReason?.hasPrefix("diverged") == true || r.endReason == "non-finite action"
            if diverged {
                FileHandle.standardError.write(Data("warning: episode \(state.episodes) ended at step \(episode.steps + 1): \(r.endReason!); the transition is stored as terminal\n".utf8))
            }
            buffer.append(observation: obs, action: action, reward: r.reward, cost: r.cost,
                          nextObservation: diverged ? obs : r.observation, terminated: r.terminated)
            if !diverged { state.normalizer.update(r.observation) }
            if let model, let before = modelBefore, !diverged {
                model.record(state: before.state, previousAction: before.previousAction, action: action,
                             next: try env.modelState(names: model.stateNames, observation: r.observation), episode: state.episodes)
            }
            state.envSteps += 1
            episode.ret += r.reward; episode.cost += r.cost; episode.steps += 1
            if r.cost > 0 { episode.violations += 1; state.violations += 1 }
            state.totalCost += r.cost
            if let v = r.info["forward_velocity"] { episode.speed += v; episode.speedSteps += 1 }

            // gradient steps
            if state.envSteps >= config.randomSteps {
                // MBPO: refit the ensemble and roll the policy out on it every F env steps
                if let model, state.envSteps % config.mbpo.modelTrainInterval == 0 {
                    lastFit = try model.retrain()
                    lastRollout = model.rollout(epoch: state.envSteps / config.mbpo.epochLength, actor: agent.actor,
                                                normalizer: normalizer, rng: &state.rng)
                }
                for _ in 0..<config.updatesPerStep {
                    let batch = model?.sampleBatch(real: buffer, size: config.sac.batchSize, rng: &state.rng, normalizer: normalizer)
                        ?? buffer.sample(config.sac.batchSize, rng: &state.rng, normalizer: normalizer)
                    let s = try agent.update(batch, rng: &state.rng)
                    for (k, v) in [s.criticLoss, s.actorLoss, s.alphaLoss, s.costCriticLoss, s.entropy, s.meanQ, s.meanCostQ].enumerated() {
                        updateSums[k] += v
                    }
                    updateCount += 1
                }
                // dual ascent on λ
                if agent.safety != nil, state.envSteps - state.lastMultiplierUpdateStep >= config.lagrangian.updateInterval {
                    agent.safety!.multiplier.update(estimatedCost: buffer.meanRecentCost(config.lagrangian.costWindow))
                    state.multiplier = agent.safety!.multiplier.value
                    state.lastMultiplierUpdateStep = state.envSteps
                }
            }

            let budgetSpent = state.envSteps >= config.totalSteps
            if state.envSteps % progressInterval == 0 {
                onProgress?(progress(lastReturn: finished.last?.ret, evaluation: evaluation ?? state.lastEvaluation))
            }
            guard r.done || budgetSpent else { obs = r.observation; continue }

            // episode end: bookkeeping, then evaluation, a metrics row and a checkpoint when due
            finished.append((episode.ret, episode.cost, episode.violations, episode.steps,
                             episode.speedSteps > 0 ? episode.speed / Double(episode.steps) : nil))
            state.episodes += 1
            episode = (0, 0, 0, 0, 0, 0)
            if config.evaluationEpisodes > 0,
               budgetSpent || (config.evaluationInterval > 0 && state.envSteps - state.lastEvaluationStep >= config.evaluationInterval) {
                evaluation = try evaluate()
                state.lastEvaluation = evaluation
                state.lastEvaluationStep = state.envSteps
                if evaluation!.meanReturn > (state.bestEvaluationReturn ?? -.infinity) {
                    state.bestEvaluationReturn = evaluation!.meanReturn
                    state.bestEvaluationStep = state.envSteps
                    try writePolicy(to: bestPolicyURL)
                }
                onEvaluation?(state.envSteps, evaluation!)
            }
            if budgetSpent || state.envSteps - max(state.lastLogStep, 0) >= config.logInterval {
                let now = Date()
                state.wallSeconds += now.timeIntervalSince(lastTick)
                lastTick = now
                let elapsed = max(now.timeIntervalSince(rowStart.time), 1e-9)
                func mean(_ f: ((ret: Double, cost: Double, violations: Int, steps: Int, speed: Double?)) -> Double?) -> Double {
                    let xs = finished.compactMap(f)
                    return xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
                }
                func updateMean(_ k: Int) -> Double { updateCount > 0 ? updateSums[k] / Double(updateCount) : .nan }
                let ev = evaluation
                let row: [(String, Double)] = [
                    ("train/episode_return", mean { $0.ret }), ("train/episode_cost", mean { $0.cost }),
                    ("train/episode_violations", mean { Double($0.violations) }), ("train/episode_length", mean { Double($0.steps) }),
                    ("train/forward_speed", mean { $0.speed }), ("train/episodes", Double(state.episodes)),
                    ("train/violations_total", Double(state.violations)),
                    ("train/cost_rate", buffer.meanRecentCost(config.lagrangian.costWindow)),
                    ("train/shield_steps_total", Double(shield.totalSteps)), ("train/shield_interventions_total", Double(shield.interventions)),
                    ("train/shielded_violations_total", Double(state.shieldedViolations ?? 0)),
                    ("loss/critic", updateMean(0)), ("loss/actor", updateMean(1)), ("loss/alpha", updateMean(2)),
                    ("loss/cost_critic", agent.safety == nil ? .nan : updateMean(3)),
                    ("alpha", agent.alpha), ("lambda", agent.safety?.multiplier.value ?? .nan), ("entropy", updateMean(4)),
                    ("q/mean", updateMean(5)), ("q/cost_mean", agent.safety == nil ? .nan : updateMean(6)),
                    ("eval/return", ev?.meanReturn ?? .nan), ("eval/cost", ev?.meanCost ?? .nan),
                    ("eval/violations", ev.map { Double($0.violations) } ?? .nan), ("eval/forward_speed", ev?.meanForwardSpeed ?? .nan),
                    ("eval/falls", ev.map { Double($0.falls) } ?? .nan), ("eval/success_rate", ev?.successRate ?? .nan),
                    ("time/wall_seconds", state.wallSeconds),
                    ("time/env_steps_per_second", Double(state.envSteps - rowStart.steps) / elapsed),
                    ("time/updates_per_second", Double(agent.updates - rowStart.updates) / elapsed),
                    ("updates", Double(agent.updates)),
                ] + modelMetrics()
                try metrics.log(step: state.envSteps, values: row)
                try onRow?(state.envSteps, row)
                state.lastLogStep = state.envSteps
                finished.removeAll(); updateSums = updateSums.map { _ in 0 }; updateCount = 0; evaluation = nil
                rowStart = (now, state.envSteps, agent.updates)
                if budgetSpent || state.envSteps - state.lastCheckpointStep >= config.checkpointInterval {
                    state.lastCheckpointStep = state.envSteps
                    state.shieldSteps = shield.totalSteps
                    state.shieldInterventions = shield.interventions
                    state.finished = budgetSpent
                    try writePolicy()
                    try writeCheckpoint()
                    try onCheckpoint?(state.envSteps, checkpointURL)
                }
            }
            if !budgetSpent {
                shield.reset()
                lastMargin = nil
                obs = env.reset(seed: episodeSeed(state.episodes))
                state.normalizer.update(obs)
            }
        }
        state.shieldSteps = shield.totalSteps
        state.shieldInterventions = shield.interventions
        return summary()
    }

    /// MBPO's columns of a metrics row (none for SAC): the last refit (holdout MSE of the elites, the one-step
    /// MSE on fresh real data — both on normalized Δ targets —, epochs; its seconds under `time/`) and rollout
    /// batch (length k, transitions, rows ended at a predicted fall, non-finite rows dropped; model transitions
    /// per second under `time/`), D_model's size and the real transitions.
    func modelMetrics() -> [(String, Double)] {
        guard let model else { return [] }
        let f = lastFit, r = lastRollout
        return [("model/holdout_mse", f?.holdoutMSE ?? .nan), ("model/fresh_one_step_mse", f?.freshOneStepMSE ?? .nan),
                ("model/fit_epochs", f.map { Double($0.epochs) } ?? .nan), ("time/model_fit_seconds", f?.seconds ?? .nan),
                ("model/rollout_length", Double(model.rolloutLength)), ("model/rollout_transitions", r.map { Double($0.transitions) } ?? .nan),
                ("time/model_transitions_per_second", r.map { Double($0.transitions) / max($0.seconds, 1e-9) } ?? .nan),
                ("model/rollout_terminated", r.map { Double($0.terminated) } ?? .nan), ("model/rollout_non_finite", r.map { Double($0.nonFinite) } ?? .nan),
                ("model/buffer_size", Double(model.buffer.count)), ("model/real_transitions", Double(model.realCount))]
    }

    func progress(lastReturn: Double?, evaluation: EvaluationSummary?) -> TrainProgress {
        TrainProgress(envSteps: state.envSteps, totalSteps: config.totalSteps, episodes: state.episodes, lastEpisodeReturn: lastReturn,
                      evaluationReturn: evaluation?.meanReturn, lambda: agent.safety?.multiplier.value, alpha: agent.alpha)
    }

    func summary() -> TrainSummary {
        TrainSummary(envSteps: state.envSteps, updates: agent.updates, episodes: state.episodes, violations: state.violations,
                     shieldSteps: state.shieldSteps ?? 0, wallSeconds: state.wallSeconds, finalEvaluation: state.lastEvaluation,
                     bestEvaluationReturn: state.bestEvaluationReturn, bestEvaluationStep: state.bestEvaluationStep, alpha: agent.alpha,
                     lambda: agent.safety?.multiplier.value, policyURL: policyURL)
    }

    /// `evaluationEpisodes` deterministic episodes (seeds `evaluationSeed + i`) on the evaluation environment.
    public func evaluate() throws -> EvaluationSummary {
        let results = try runEpisodes(env: evaluationEnv, policy: policy, episodes: config.evaluationEpisodes,
                                      seed: config.evaluationSeed, deterministic: true)
        return EvaluationSummary(results)
    }

    // MARK: - files

    func writePolicy(to url: URL? = nil) throws {
        let metadata = PolicyFile.metadata(algorithm: config.algorithm.rawValue, env: config.env.rawValue, envConfig: config.envConfigJSON,
                                           observationNames: env.observationNames, actionNames: env.actionNames,
                                           normalizer: normalizer, envSteps: state.envSteps, updates: agent.updates)
        try PolicyFile(actor: agent.actor, normalizer: normalizer, metadata: metadata).write(to: url ?? policyURL)
    }

    func writeCheckpoint() throws {
        try TrainCheckpoint.write(agent: agent, buffer: buffer, state: state, algorithm: config.algorithm,
                                  extra: try model?.checkpointContents(), to: checkpointURL)
    }

    func loadCheckpoint() throws {
        let restored = try TrainCheckpoint.read(url: checkpointURL, into: agent, buffer: buffer, algorithm: config.algorithm)
        agent = restored.agent
        buffer = restored.buffer
        state = restored.state
        if let model { try model.restore(from: restored.file, source: checkpointURL.path) }
    }
}



