// MBPO.swift: model-based policy optimization — Janner et al. 2019, "When to Trust Your Model: Model-Based
// Policy Optimization", Algorithm 2 — the model half of `mbc train --config configs/mbpo-quadruped.yaml`
// (the policy half is SAC.swift, or SAC-Lagrangian for safe MBPO; the loop is Trainer.swift).
//
// Per environment step the trainer acts with π in the real environment and keeps the transition twice: for SAC
// in observation space (the real replay buffer D_env) and for the model in the log format's state columns
// (`joint_state.*`, `base.*`) with the previous action (`record`). Every F env steps (`modelTrainInterval`, 250):
//   1. `retrain`: the probabilistic ensemble (7 members, 5 elites by holdout MSE) is refit on all real
//      transitions, warm-started from its weights, with holdout early stopping (`ProbabilisticEnsemble.fit`);
//      before that, its one-step error on the F transitions it has not seen yet is measured;
//   2. `rollout`: M · F branched rollouts (`rolloutsPerEnvStep` M = 400: 100,000 start states) from real states
//      drawn uniformly, k steps each (`rolloutSchedule`), actions sampled from π; each row goes through a random
//      elite at every step (TS-1); reward, safety cost and termination come from the task's closed form on the
//      predicted states (`ModelTask.evaluate`, the environment's own rule), not from a learned head; a row
//      stops at a predicted terminal state (a fall) or a non-finite prediction; the policy's observation of a
//      predicted state is the environment's own rule too (`ObservingModelTask.observations`);
//   3. the rollouts enter the model buffer D_model, a ring holding the rollouts of the last `retainEpochs`
//      epochs: capacity k · M · epochLength · retainEpochs (MBPO's and mbrl-lib's rule), resized — keeping
//      the newest — when k changes.
// Each env step then takes G SAC updates (`TrainConfig.updatesPerStep`, 20 for MBPO) on minibatches of which a
// fraction `realRatio` (5 %) comes from D_env and the rest from D_model (`sampleBatch`).

import Control
import ControlCore
import Datasets
import Dynamics
import Environments
import Foundation
import NeuralNets

/// Settings of MBPO (`mbpo:` in a training config). Defaults: Janner et al. 2019's settings for Ant.
public struct MBPOSettings: Codable, Sendable, Hashable {
    /// F: env steps between ensemble refits (and rollout batches).
    public var modelTrainInterval: Int = 250
    /// M: model rollouts per env step (M · F start states per batch).
    public var rolloutsPerEnvStep: Int = 400
    /// Env steps per epoch, the unit of `rolloutSchedule` and of the model buffer's retention.
    public var epochLength: Int = 1000
    /// [e₀, e₁, k₀, k₁]: the rollout length is k₀ up to epoch e₀, then grows linearly to k₁ at epoch e₁ (rounded
    /// down), and stays there (Ant: [20, 100, 1, 25]).
    public var rolloutSchedule: [Double] = [20, 100, 1, 25]
    /// Epochs of rollouts the model buffer keeps (MBPO: 1).
    public var retainEpochs: Int = 1
    /// Fraction of each SAC minibatch drawn from real transitions (MBPO: 0.05).
    public var realRatio: Double = 0.05
    /// Start states propagated together (bounds the memory of a rollout batch; not a change to the algorithm).
    public var rolloutChunk: Int = 10_000
    /// The ensemble (MBPO: 7 members, 5 elites, 4 × 200 SiLU, holdout early stopping).
    public var ensemble = EnsembleConfig()
    public init() {}

    /// The rollout length k at `epoch` (Janner et al. 2019, Appendix C: a linear schedule).
    public func rolloutLength(epoch: Int) -> Int {
        let (e0, e1, k0, k1) = (rolloutSchedule[0], rolloutSchedule[1], rolloutSchedule[2], rolloutSchedule[3])
        let e = Double(epoch)
        guard e > e0 else { return Int(k0) }
        let fraction = e1 > e0 ? min((e - e0) / (e1 - e0), 1) : 1
        return Int(k0 + fraction * (k1 - k0))
    }

    /// D_model's capacity for rollout length k: k · M · epochLength · retainEpochs transitions.
    public func modelBufferCapacity(rolloutLength k: Int) -> Int { max(1, k * rolloutsPerEnvStep * epochLength * retainEpochs) }
}

/// What a refit did.
public struct ModelFitReport: Sendable {
    /// Ensemble epochs, the elites' mean holdout MSE (normalized targets), seconds.
    public var epochs: Int
    public var holdoutMSE: Double
    public var seconds: Double
    /// One-step MSE of the ensemble's mean prediction (normalized Δ targets, as the holdout MSE) on the real
    /// transitions recorded since the previous refit, before refitting on them (NaN at the first fit).
    public var freshOneStepMSE: Double
}

/// What a rollout batch did.
public struct ModelRolloutReport: Sendable {
    public var startStates: Int
    public var rolloutLength: Int
    /// Model transitions stored, rows stopped at a predicted terminal state, rows dropped as non-finite.
    public var transitions: Int
    public var terminated: Int
    public var nonFinite: Int
    public var seconds: Double
}

/// Why MBPO cannot run on a task.
public struct MBPOError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// MBPO's model side: the real transitions in model columns, the ensemble, branched rollouts and D_model.
public final class MBPOModel {
    public let settings: MBPOSettings
    /// The closed-form task on the model's columns (reward, cost, termination, observation).
    public let task: any ObservingModelTask
    public let stateNames: [String], actionNames: [String]
    /// Normalized action width A (the environment's).
    public let actionDimension: Int
    public private(set) var ensemble: ProbabilisticEnsemble
    /// Whether the ensemble has been fitted (rollouts start after the first fit).
    public private(set) var fitted = false
    /// Real transitions: model states s and s′ (S each), the previous clamped action p and the action a
    /// (normalized, A each), the episode index (for the holdout split by episode).
    var states: [Float] = [], previousActions: [Float] = [], actions: [Float] = [], nextStates: [Float] = []
    var episodes: [Int] = []
    /// Real transitions at the previous refit (those after it are "fresh" for the one-step error).
    var countAtLastFit = 0
    /// D_model.
    public private(set) var buffer: ReplayBuffer
    public private(set) var rolloutLength: Int
    public var realCount: Int { episodes.count }

    /// - Parameters: `task` the closed-form task on (`stateNames`, `actionNames`), `observationDimension` the
    ///   environment's, `provenance` saved with the ensemble.
    public init(settings: MBPOSettings, task: any ObservingModelTask, stateNames: [String], actionNames: [String],
                provenance: [String: String] = [:]) throws {
        guard settings.rolloutSchedule.count == 4 else { throw MBPOError("mbpo.rolloutSchedule needs 4 numbers [e0, e1, k0, k1], has \(settings.rolloutSchedule.count)") }
        self.settings = settings
        self.task = task
        self.stateNames = stateNames; self.actionNames = actionNames
        actionDimension = task.actionDimension
        ensemble = try ProbabilisticEnsemble(config: settings.ensemble, stateNames: stateNames, actionNames: actionNames)
        ensemble.provenance = provenance
        rolloutLength = settings.rolloutLength(epoch: 0)
        buffer = ReplayBuffer(capacity: settings.modelBufferCapacity(rolloutLength: rolloutLength),
                              observationDimension: task.observationDimension, actionDimension: task.actionDimension)
    }

    /// MBPO on an environment whose task has a closed form, on the environment's default model columns
    /// (`defaultModelColumns`, as PETS: joint positions and velocities, and the base state of a floating base).
    public static func make<T: ModelTaskProviding>(settings: MBPOSettings, env: RobotEnv<T>) throws -> MBPOModel {
        let (stateNames, actionNames) = try env.defaultModelColumns()
        guard let task = try env.task.modelTask(stateNames: stateNames, actionNames: actionNames) as? any ObservingModelTask else {
            throw MBPOError("the \(T.self) task has no closed-form observation of a model state, which MBPO's rollouts need")
        }
        guard task.observationDimension == env.observationSpace.dimension else {
            throw MBPOError("the model task's observation has \(task.observationDimension) values, the environment's \(env.observationSpace.dimension)")
        }
        return try MBPOModel(settings: settings, task: task, stateNames: stateNames, actionNames: actionNames, provenance: env.task.modelProvenance)
    }

    // MARK: - real data

    /// `env`'s current state in the model's columns (`observation` is its current observation) and the live task's
    /// previous clamped action — what `record` takes as the state before a step.
    public func state(of env: some RobotEnvironment, observation: [Double]) throws -> (state: [Double], previousAction: [Float]) {
        task.update()
        return (try env.modelState(names: stateNames, observation: observation), task.previousAction)
    }

    /// Stores one real transition: model states before and after (physical units, `stateNames`), the previous
    /// clamped action and the action as executed (normalized), and the episode it belongs to.
    public func record(state: [Double], previousAction: [Float], action: [Double], next: [Double], episode: Int) {
        precondition(state.count == stateNames.count && next.count == stateNames.count && action.count == actionDimension
                     && previousAction.count == actionDimension)
        states += state.map(Float.init); nextStates += next.map(Float.init)
        previousActions += previousAction; actions += action.map(Float.init)
        episodes.append(episode)
    }

    /// The real transitions with the model's physical actions.
    func dataset(_ range: Range<Int>) -> TransitionDataset {
        let S = stateNames.count, A = actionDimension, M = actionNames.count, n = range.count
        var physical = [Float](repeating: 0, count: n * M)
        states.withUnsafeBufferPointer { s in actions.withUnsafeBufferPointer { a in
            physical.withUnsafeMutableBufferPointer { out in
                if n > 0 { task.modelActions(states: s.baseAddress! + range.lowerBound * S, actions: a.baseAddress! + range.lowerBound * A, rows: n, into: out.baseAddress!) }
            }
        } }
        return TransitionDataset(stateNames: stateNames, actionNames: actionNames,
                                 states: states[(range.lowerBound * S)..<(range.upperBound * S)].map(Double.init),
                                 actions: physical.map(Double.init),
                                 nextStates: nextStates[(range.lowerBound * S)..<(range.upperBound * S)].map(Double.init),
                                 episodes: Array(episodes[range]))
    }

    // MARK: - 1. refit

    /// Refits the ensemble on every real transition (warm start), after measuring its one-step error on the ones
    /// it has not seen. - Throws: `DynamicsError` (too little data, non-finite values).
    public func retrain() throws -> ModelFitReport {
        let started = Date()
        var fresh = Double.nan
        if fitted, countAtLastFit < realCount {
            let d = dataset(countAtLastFit..<realCount)
            let mean = ensemble.predict(states: d.states, actions: d.actions, count: d.count).mean
            let S = stateNames.count
            var total = 0.0
            for i in 0..<(d.count * S) {
                let j = i % S
                var delta = mean[i] - d.nextStates[i]
                if ensemble.config.wrappedAngles.contains(stateNames[j]) { delta = remainder(delta, 2 * .pi) }
                let e = delta / Double(ensemble.targetStd[j])
                total += e * e
            }
            fresh = total / Double(d.count * S)
        }
        let reports = try ensemble.fit(dataset(0..<realCount))
        fitted = true
        countAtLastFit = realCount
        let elites = ensemble.eliteMembers.map { ensemble.lastHoldoutMSE[$0] }
        return ModelFitReport(epochs: reports.count, holdoutMSE: elites.reduce(0, +) / Double(max(elites.count, 1)),
                              seconds: Date().timeIntervalSince(started), freshOneStepMSE: fresh)
    }

    // MARK: - 2. branched rollouts

    /// M · F branched rollouts of length k(epoch) with `actor` (observations normalized by `normalizer`), into
    /// D_model. Draws the start states, the actions, the elite assignment and the model noise from `rng`.
    public func rollout(epoch: Int, actor: SquashedGaussianActor, normalizer: RunningNormalizer, rng: inout SeededRNG) -> ModelRolloutReport {
        let started = Date()
        let k = settings.rolloutLength(epoch: epoch)
        if k != rolloutLength || buffer.capacity != settings.modelBufferCapacity(rolloutLength: k) {
            rolloutLength = k
            buffer = buffer.resized(capacity: settings.modelBufferCapacity(rolloutLength: k))
        }
        var report = ModelRolloutReport(startStates: 0, rolloutLength: k, transitions: 0, terminated: 0, nonFinite: 0, seconds: 0)
        guard fitted, realCount > 0, k > 0 else { return report }
        let total = settings.rolloutsPerEnvStep * settings.modelTrainInterval
        let S = stateNames.count, A = actionDimension, M = actionNames.count, D = task.observationDimension
        let K = ensemble.eliteMembers.count
        let chunk = max(K, min(settings.rolloutChunk, total))
        let propagator = EnsemblePropagator(model: ensemble, maxRowsPerMember: (chunk + K - 1) / K)
        var noise = NormalStream(seed: rng.next())
        // scratch, sized for a padded chunk
        let capacity = ((chunk + K - 1) / K) * K
        var s = [Float](repeating: 0, count: capacity * S), next = s
        var p = [Float](repeating: 0, count: capacity * A), a = p
        var modelActions = [Float](repeating: 0, count: capacity * M)
        var obs = [Float](repeating: 0, count: capacity * D), nextObs = obs
        var reward = [Float](repeating: 0, count: capacity), cost = reward, terminal = reward
        var terminated = [UInt8](repeating: 0, count: capacity)
        var start = 0
        while start < total {
            var rows = min(chunk, total - start)
            start += rows
            report.startStates += rows
            for r in 0..<rows {
                let i = Int(rng.next() % UInt64(realCount))
                for j in 0..<S { s[r * S + j] = states[i * S + j] }
                for j in 0..<A { p[r * A + j] = previousActions[i * A + j] }
            }
            for _ in 0..<k where rows > 0 {
                // π's actions at the observations of the current states
                s.withUnsafeBufferPointer { sp in p.withUnsafeBufferPointer { pp in obs.withUnsafeMutableBufferPointer { o in
                    task.observations(states: sp.baseAddress!, previousActions: pp.baseAddress!, rows: rows, into: o.baseAddress!)
                } } }
                var x = Matrix(rows: rows, cols: D, storage: Array(obs[0..<(rows * D)]))
                x.storage.withUnsafeMutableBufferPointer { normalizer.normalizeRows($0) }
                let sampled = actor.sample(x, rng: &rng).actions.storage
                for i in 0..<(rows * A) { a[i] = sampled[i] }
                s.withUnsafeBufferPointer { sp in a.withUnsafeBufferPointer { ap in modelActions.withUnsafeMutableBufferPointer { m in
                    task.modelActions(states: sp.baseAddress!, actions: ap.baseAddress!, rows: rows, into: m.baseAddress!)
                } } }
                // one model step, each row through a random elite (TS-1): a random permutation of the padded rows
                let perMember = (rows + K - 1) / K, padded = perMember * K
                for r in rows..<padded {  // padding rows repeat row 0; their results are ignored
                    for j in 0..<S { s[r * S + j] = s[j] }
                    for j in 0..<M { modelActions[r * M + j] = modelActions[j] }
                }
                var slotOf = (0..<Int32(padded)).map { $0 }
                for i in stride(from: padded - 1, to: 0, by: -1) { slotOf.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                s.withUnsafeBufferPointer { sp in modelActions.withUnsafeBufferPointer { m in next.withUnsafeMutableBufferPointer { n in
                    withUnsafeMutablePointer(to: &noise) { z in
                        propagator.permutedStep(states: sp.baseAddress!, actions: m.baseAddress!, slotOf: slotOf, rowsPerMember: perMember,
                                                next: n.baseAddress!, noise: z)
                    }
                } } }
                // the task's closed form: reward, cost, termination, and the next observation
                for i in 0..<(rows * A) { a[i] = max(-1, min(1, a[i])) }
                s.withUnsafeBufferPointer { sp in a.withUnsafeBufferPointer { ap in p.withUnsafeBufferPointer { pp in next.withUnsafeBufferPointer { n in
                    reward.withUnsafeMutableBufferPointer { r in cost.withUnsafeMutableBufferPointer { c in terminated.withUnsafeMutableBufferPointer { t in
                        task.evaluate(states: sp.baseAddress!, actions: ap.baseAddress!, previousActions: pp.baseAddress!, next: n.baseAddress!,
                                      rows: rows, reward: r.baseAddress!, cost: c.baseAddress!, terminated: t.baseAddress!)
                    } } }
                } } } }
                next.withUnsafeBufferPointer { n in a.withUnsafeBufferPointer { ap in nextObs.withUnsafeMutableBufferPointer { o in
                    task.observations(states: n.baseAddress!, previousActions: ap.baseAddress!, rows: rows, into: o.baseAddress!)
                } } }
                // store the finite rows, keep the live ones (compacted in place, order kept)
                var kept = 0, stored = 0
                for r in 0..<rows {
                    var finite = reward[r].isFinite && cost[r].isFinite
                    for j in 0..<S where !next[r * S + j].isFinite { finite = false }
                    for j in 0..<D where !nextObs[r * D + j].isFinite { finite = false }
                    guard finite else { report.nonFinite += 1; continue }
                    terminal[r] = terminated[r] != 0 ? 1 : 0
                    if stored != r {  // compact the stored rows to the front
                        for j in 0..<D { obs[stored * D + j] = obs[r * D + j]; nextObs[stored * D + j] = nextObs[r * D + j] }
                        for j in 0..<A { a[stored * A + j] = a[r * A + j] }
                        reward[stored] = reward[r]; cost[stored] = cost[r]; terminal[stored] = terminal[r]
                        for j in 0..<S { next[stored * S + j] = next[r * S + j] }
                    }
                    stored += 1
                }
                obs.withUnsafeBufferPointer { o in a.withUnsafeBufferPointer { ap in reward.withUnsafeBufferPointer { rw in
                    cost.withUnsafeBufferPointer { c in nextObs.withUnsafeBufferPointer { o2 in terminal.withUnsafeBufferPointer { t in
                        buffer.append(rows: stored, observations: o.baseAddress!, actions: ap.baseAddress!, rewards: rw.baseAddress!,
                                      costs: c.baseAddress!, nextObservations: o2.baseAddress!, terminals: t.baseAddress!)
                    } } }
                } } }
                report.transitions += stored
                for r in 0..<stored {
                    if terminal[r] != 0 { report.terminated += 1; continue }
                    for j in 0..<S { s[kept * S + j] = next[r * S + j] }
                    for j in 0..<A { p[kept * A + j] = a[r * A + j] }
                    kept += 1
                }
                rows = kept
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    // MARK: - 3. SAC's minibatch

    /// A minibatch of `size` transitions: ⌊size · realRatio⌋ from `real` (D_env), the rest from D_model (all
    /// from D_env while D_model is empty).
    public func sampleBatch(real: ReplayBuffer, size: Int, rng: inout SeededRNG, normalizer: RunningNormalizer?) -> ReplayBuffer.Batch {
        real.sample(size, real: Int(Double(size) * settings.realRatio), other: buffer, rng: &rng, normalizer: normalizer)
    }

    // MARK: - checkpoint

    struct CheckpointInfo: Codable { var fitted: Bool, countAtLastFit: Int, rolloutLength: Int, realCount: Int
        var bufferCapacity: Int, bufferCount: Int, bufferPosition: Int, ensemble: [String: String] }

    /// Tensors (`mbpo.*`) and metadata (`mbpo`, JSON) that `restore` reads back: the real model transitions,
    /// the ensemble (`mbpo.model.*`) and D_model (`mbpo.buffer.*`).
    func checkpointContents() throws -> (tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String]) {
        let S = stateNames.count, A = actionDimension, n = realCount, D = buffer.observationDimension, m = buffer.count
        var tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("mbpo.real.states", [n, S], states), ("mbpo.real.previous_actions", [n, A], previousActions),
            ("mbpo.real.actions", [n, A], actions), ("mbpo.real.next_states", [n, S], nextStates),
            ("mbpo.real.episodes", [n], episodes.map(Float.init)),
            ("mbpo.buffer.observations", [m, D], buffer.observations), ("mbpo.buffer.actions", [m, A], buffer.actions),
            ("mbpo.buffer.rewards", [m], buffer.rewards), ("mbpo.buffer.costs", [m], buffer.costs),
            ("mbpo.buffer.next_observations", [m, D], buffer.nextObservations), ("mbpo.buffer.terminals", [m], buffer.terminals),
        ]
        let model = ensemble.safetensorsContents(prefix: "mbpo.model.")
        tensors += model.tensors
        let info = CheckpointInfo(fitted: fitted, countAtLastFit: countAtLastFit, rolloutLength: rolloutLength, realCount: n,
                                  bufferCapacity: buffer.capacity, bufferCount: m, bufferPosition: buffer.position, ensemble: model.metadata)
        let json = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
        return (tensors, ["mbpo": json])
    }

    /// Restores what `checkpointContents` wrote. - Throws: `LearningError.corruptCheckpoint` naming what is missing or wrong.
    func restore(from file: SafetensorsFile, source: String) throws {
        func corrupt(_ m: String) -> LearningError { .corruptCheckpoint("\(source): \(m)") }
        guard let text = file.metadata["mbpo"] else { throw corrupt("metadata mbpo is missing (not an MBPO checkpoint)") }
        let info: CheckpointInfo
        do { info = try JSONDecoder().decode(CheckpointInfo.self, from: Data(text.utf8)) } catch { throw corrupt("metadata mbpo cannot be read: \(error)") }
        let S = stateNames.count, A = actionDimension, n = info.realCount, D = buffer.observationDimension, m = info.bufferCount
        func floats(_ name: String, _ count: Int) throws -> [Float] {
            guard file.tensorNames.contains(name) else { throw corrupt("tensor \(name) is missing") }
            let v = try file.floats(name)
            guard v.count == count else { throw corrupt("tensor \(name) has \(v.count) values, expected \(count)") }
            return v
        }
        states = try floats("mbpo.real.states", n * S); previousActions = try floats("mbpo.real.previous_actions", n * A)
        actions = try floats("mbpo.real.actions", n * A); nextStates = try floats("mbpo.real.next_states", n * S)
        episodes = try floats("mbpo.real.episodes", n).map { Int($0) }
        do {
            ensemble = try ProbabilisticEnsemble.load(file: file, metadata: info.ensemble, prefix: "mbpo.model.", source: source)
        } catch { throw corrupt("its ensemble cannot be read: \(error)") }
        guard ensemble.stateNames == stateNames, ensemble.actionNames == actionNames else {
            throw corrupt("its ensemble's columns differ from this run's model columns")
        }
        buffer = try ReplayBuffer(capacity: info.bufferCapacity, observationDimension: D, actionDimension: A, count: m, position: info.bufferPosition,
                                  observations: floats("mbpo.buffer.observations", m * D), actions: floats("mbpo.buffer.actions", m * A),
                                  rewards: floats("mbpo.buffer.rewards", m), costs: floats("mbpo.buffer.costs", m),
                                  nextObservations: floats("mbpo.buffer.next_observations", m * D), terminals: floats("mbpo.buffer.terminals", m))
        fitted = info.fitted; countAtLastFit = info.countAtLastFit; rolloutLength = info.rolloutLength
    }
}
