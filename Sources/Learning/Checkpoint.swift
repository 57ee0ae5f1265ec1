// Checkpoint.swift: everything a training run needs to continue bit for bit, in one safetensors file.

import ControlCore
import Datasets
import Foundation
import NeuralNets

/// The training checkpoint (`checkpoint.safetensors`), written atomically (temporary file + rename).
///
/// Tensors (float32): `actor.*`, `critic.q1.*`, `critic.q2.*`, `target.q1.*`, `target.q2.*`, `log_alpha`, and
/// for SAC-Lagrangian `cost_critic.q1.*`, `cost_critic.q2.*`, `cost_target.q1.*`, `cost_target.q2.*`; the Adam moments of each optimizer as
/// `optimizer.<actor|critic|alpha|cost_critic>.<m|v>.<k>` (k: the parameter's index in visiting order); the
/// replay buffer as `replay.<observations|actions|rewards|costs|next_observations|terminals>` (oldest
/// first after the ring position is stored). Metadata: `format` = "mbc-train-checkpoint", `algorithm`,
/// `state` (JSON: counters, RNG, normalizer, λ, last evaluation), `adam_steps` (JSON), `replay` (JSON: capacity,
/// count, position, dimensions).
enum TrainCheckpoint {
    static let format = "mbc-train-checkpoint"

    struct ReplayInfo: Codable { var capacity, count, position, observationDimension, actionDimension: Int }

    /// `extra`: more tensors and metadata in the same file (MBPO's model side, `MBPOModel.checkpointContents`).
    static func write(agent: SACAgent, buffer: ReplayBuffer, state: TrainState, algorithm: TrainAlgorithm,
                      extra: (tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String])? = nil, to url: URL) throws {
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        func add(_ prefix: String, _ model: some Trainable) {
            tensors += model.parameters.map { (prefix + $0.name, $0.shape, $0.value) }
        }
        func addOptimizer(_ name: String, _ adam: Adam) {
            let s = adam.state
            for k in s.firstMoments.indices {
                tensors.append(("optimizer.\(name).m.\(k)", [s.firstMoments[k].count], s.firstMoments[k]))
                tensors.append(("optimizer.\(name).v.\(k)", [s.secondMoments[k].count], s.secondMoments[k]))
            }
        }
        add("actor.", agent.actor.network)
        add("critic.q1.", agent.critic.q1); add("critic.q2.", agent.critic.q2)
        add("target.q1.", agent.targetCritic.q1); add("target.q2.", agent.targetCritic.q2)
        tensors.append(("log_alpha", [1], [agent.logAlpha.value]))
        addOptimizer("actor", agent.actorOptimizer); addOptimizer("critic", agent.criticOptimizer); addOptimizer("alpha", agent.alphaOptimizer)
        var adamSteps = ["actor": agent.actorOptimizer.stepCount, "critic": agent.criticOptimizer.stepCount,
                         "alpha": agent.alphaOptimizer.stepCount, "updates": agent.updates]
        if let safety = agent.safety {
            add("cost_critic.q1.", safety.critic.q1); add("cost_critic.q2.", safety.critic.q2)
            add("cost_target.q1.", safety.target.q1); add("cost_target.q2.", safety.target.q2)
            addOptimizer("cost_critic", safety.optimizer)
            adamSteps["cost_critic"] = safety.optimizer.stepCount
        }
        let d = buffer.observationDimension, a = buffer.actionDimension, n = buffer.count
        tensors.append(("replay.observations", [n, d], buffer.observations))
        tensors.append(("replay.actions", [n, a], buffer.actions))
        tensors.append(("replay.rewards", [n], buffer.rewards))
        tensors.append(("replay.costs", [n], buffer.costs))
        tensors.append(("replay.next_observations", [n, d], buffer.nextObservations))
        tensors.append(("replay.terminals", [n], buffer.terminals))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        func json(_ v: some Encodable) throws -> String { String(decoding: try encoder.encode(v), as: UTF8.self) }
        let replay = ReplayInfo(capacity: buffer.capacity, count: n, position: buffer.position, observationDimension: d, actionDimension: a)
        let metadata = ["format": format, "algorithm": algorithm.rawValue, "state": try json(state),
                        "adam_steps": try json(adamSteps), "replay": try json(replay)]
        try SafetensorsFile.write(floats: tensors + (extra?.tensors ?? []), metadata: metadata.merging(extra?.metadata ?? [:]) { a, _ in a }, to: url)
    }

    /// Restores a checkpoint into a learner built from the same config (shapes are checked against it). Also returns
    /// the file read, for the rest of its contents (MBPO's model side, `MBPOModel.restore`).
    /// - Throws: `DataFormatError` for a damaged file, `LearningError.corruptCheckpoint` naming what does not fit.
    static func read(url: URL, into agent: SACAgent, buffer: ReplayBuffer, algorithm: TrainAlgorithm) throws
        -> (agent: SACAgent, buffer: ReplayBuffer, state: TrainState, file: SafetensorsFile) {
        let file = try SafetensorsFile.read(url: url)
        func corrupt(_ m: String) -> LearningError { .corruptCheckpoint("\(url.path): \(m)") }
        guard file.metadata["format"] == format else { throw corrupt("not a training checkpoint (metadata format is \(file.metadata["format"] ?? "missing"))") }
        guard file.metadata["algorithm"] == algorithm.rawValue else {
            throw corrupt("it was written by \(file.metadata["algorithm"] ?? "an unknown algorithm"), this run is \(algorithm.rawValue)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
            guard let text = file.metadata[key] else { throw corrupt("metadata \(key) is missing") }
            do { return try decoder.decode(T.self, from: Data(text.utf8)) } catch { throw corrupt("metadata \(key) cannot be read: \(error)") }
        }
        let state = try decode(TrainState.self, "state")
        let steps = try decode([String: Int].self, "adam_steps")
        let replay = try decode(ReplayInfo.self, "replay")
        func floats(_ name: String, count: Int) throws -> [Float] {
            guard file.tensorNames.contains(name) else { throw corrupt("tensor \(name) is missing") }
            let v = try file.floats(name)
            guard v.count == count else { throw corrupt("tensor \(name) has \(v.count) values, this run's network needs \(count)") }
            return v
        }
        func load<M: Trainable>(_ prefix: String, _ model: inout M) throws {
            try model.forEachParameter { p in
                let v = try floats(prefix + p.name, count: p.count)
                guard v.allSatisfy(\.isFinite) else { throw corrupt("tensor \(prefix + p.name) holds NaN or infinite values") }
                p.value = v
            }
        }
        func loadOptimizer(_ name: String, _ adam: inout Adam, model: some Trainable) throws {
            let stepCount = steps[name] ?? 0
            var first: [[Float]] = [], second: [[Float]] = []
            if stepCount > 0 {
                for (k, p) in model.parameters.enumerated() {
                    first.append(try floats("optimizer.\(name).m.\(k)", count: p.count))
                    second.append(try floats("optimizer.\(name).v.\(k)", count: p.count))
                }
            }
            adam.state = Adam.State(stepCount: stepCount, firstMoments: first, secondMoments: second)
        }
        var agent = agent
        try load("actor.", &agent.actor.network)
        try load("critic.q1.", &agent.critic.q1); try load("critic.q2.", &agent.critic.q2)
        try load("target.q1.", &agent.targetCritic.q1); try load("target.q2.", &agent.targetCritic.q2)
        agent.logAlpha.parameter.value = try floats("log_alpha", count: 1)
        try loadOptimizer("actor", &agent.actorOptimizer, model: agent.actor)
        try loadOptimizer("critic", &agent.criticOptimizer, model: agent.critic)
        try loadOptimizer("alpha", &agent.alphaOptimizer, model: agent.logAlpha)
        agent.updates = steps["updates"] ?? 0
        if agent.safety != nil {
            try load("cost_critic.q1.", &agent.safety!.critic.q1); try load("cost_critic.q2.", &agent.safety!.critic.q2)
            try load("cost_target.q1.", &agent.safety!.target.q1); try load("cost_target.q2.", &agent.safety!.target.q2)
            try loadOptimizer("cost_critic", &agent.safety!.optimizer, model: agent.safety!.critic)
            guard let lambda = state.multiplier else { throw corrupt("λ is missing from the state") }
            agent.safety!.multiplier = LagrangeMultiplier(value: lambda, settings: agent.safety!.settings)
        }
        guard replay.observationDimension == buffer.observationDimension, replay.actionDimension == buffer.actionDimension else {
            throw corrupt("its replay buffer holds \(replay.observationDimension) observations and \(replay.actionDimension) actions per transition, "
                          + "this run's environment has \(buffer.observationDimension) and \(buffer.actionDimension)")
        }
        guard replay.capacity == buffer.capacity else {
            throw corrupt("its replay capacity is \(replay.capacity), this run's is \(buffer.capacity)")
        }
        let n = replay.count, d = replay.observationDimension, a = replay.actionDimension
        let restored = try ReplayBuffer(capacity: replay.capacity, observationDimension: d, actionDimension: a, count: n, position: replay.position,
                                        observations: floats("replay.observations", count: n * d), actions: floats("replay.actions", count: n * a),
                                        rewards: floats("replay.rewards", count: n), costs: floats("replay.costs", count: n),
                                        nextObservations: floats("replay.next_observations", count: n * d),
                                        terminals: floats("replay.terminals", count: n))
        return (agent, restored, state, file)
    }
}
