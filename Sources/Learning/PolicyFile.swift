// PolicyFile.swift: the exported policy (`policy.safetensors`): actor weights, the frozen observation
// normalizer and metadata saying which environment, observations and actions it was trained on.

import ControlCore
import Datasets
import Environments
import Foundation
import NeuralNets

/// A trained SAC actor with its frozen observation normalizer (stored as float32: a policy read back acts
/// as the trained one up to float rounding of the normalizer), acting deterministically (tanh μ) or by
/// sampling. Tensors of the file (float32, loadable with `safetensors.torch.load_file`):
///
///     actor.layers.<l>.weight   [in, out]   (transposed relative to torch.nn.Linear.weight: y = x·W + b)
///     actor.layers.<l>.bias     [out]
///     observation_normalizer.mean, observation_normalizer.std   [obs]   x̂ = clip((x − mean) / std, ±clip)
///
/// Metadata (strings): `format` = "mbc-policy", `format_version` = "1", `algorithm`, `env`,
/// `env_config` (JSON of the environment's settings), `observation_names` and `action_names` (JSON
/// arrays), `hidden_activation` = "relu", `output` = "tanh(mean) of a tanh-squashed Gaussian; outputs
/// 0..A-1 mean, A..2A-1 log std", `normalizer_clip`, `env_steps`, `updates`.
public struct PolicyFile: Sendable {
    public static let format = "mbc-policy"
    public static let formatVersion = "1"

    public var actor: SquashedGaussianActor
    public var normalizer: RunningNormalizer
    public var metadata: [String: String]

    public init(actor: SquashedGaussianActor, normalizer: RunningNormalizer, metadata: [String: String]) {
        self.actor = actor; self.normalizer = normalizer; self.metadata = metadata
    }

    public var environment: String? { metadata["env"] }
    public var observationNames: [String] { Self.decodeNames(metadata["observation_names"]) ?? [] }
    public var actionNames: [String] { Self.decodeNames(metadata["action_names"]) ?? [] }

    /// The metadata for a policy trained on `env` (its kind name and settings).
    public static func metadata(algorithm: String, env: String, envConfig: some Encodable, observationNames: [String],
                                actionNames: [String], normalizer: RunningNormalizer, envSteps: Int, updates: Int) -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json(_ v: some Encodable) -> String { (try? encoder.encode(v)).flatMap { String(data: $0, encoding: .utf8) } ?? "" }
        return ["format": format, "format_version": formatVersion, "algorithm": algorithm, "env": env,
                "env_config": json(envConfig), "observation_names": json(observationNames), "action_names": json(actionNames),
                "hidden_activation": "relu",
                "output": "tanh(mean) of a tanh-squashed Gaussian; outputs 0..A-1 mean, A..2A-1 log std",
                "normalizer_clip": String(normalizer.clip), "env_steps": String(envSteps), "updates": String(updates)]
    }

    /// Writes the file atomically.
    public func write(to url: URL) throws {
        var tensors: [(name: String, shape: [Int], values: [Float])] = actor.network.parameters.map { ("actor." + $0.name, $0.shape, $0.value) }
        tensors.append(("observation_normalizer.mean", [normalizer.dimension], normalizer.mean.map(Float.init)))
        tensors.append(("observation_normalizer.std", [normalizer.dimension], normalizer.std.map(Float.init)))
        try SafetensorsFile.write(floats: tensors, metadata: metadata, to: url)
    }

    /// Reads a policy file. - Throws: `DataFormatError` for a damaged file, `LearningError.invalidPolicy`
    /// for a safetensors file that is not a policy (missing tensors, wrong shapes, other format).
    public static func read(url: URL) throws -> PolicyFile {
        let file = try SafetensorsFile.read(url: url)
        func invalid(_ reason: String) -> LearningError { .invalidPolicy(file: url.path, reason: reason) }
        guard file.metadata["format"] == format else {
            throw invalid("its metadata has no format \"\(format)\" (found \(file.metadata["format"].map { "\"\($0)\"" } ?? "none"))")
        }
        guard file.metadata["format_version"] == formatVersion else {
            throw invalid("format version \(file.metadata["format_version"] ?? "none"), this tool reads version \(formatVersion)")
        }
        var layers: [Linear] = []
        while file.tensorNames.contains("actor.layers.\(layers.count).weight") {
            let l = layers.count
            let shape = try file.shape("actor.layers.\(l).weight")
            guard shape.count == 2, try file.shape("actor.layers.\(l).bias") == [shape[1]] else {
                throw invalid("actor.layers.\(l): weight \(shape) and bias \((try? file.shape("actor.layers.\(l).bias")) ?? []) do not form a layer")
            }
            if let previous = layers.last, previous.outputSize != shape[0] {
                throw invalid("actor.layers.\(l) takes \(shape[0]) inputs, the layer before gives \(previous.outputSize)")
            }
            let w = try file.floats("actor.layers.\(l).weight"), b = try file.floats("actor.layers.\(l).bias")
            guard (w + b).allSatisfy(\.isFinite) else { throw invalid("actor.layers.\(l) holds NaN or infinite values") }
            layers.append(Linear(weight: Matrix(rows: shape[0], cols: shape[1], storage: w), bias: b, activation: .relu,
                                 name: "layers.\(l)"))
        }
        guard layers.count >= 2 else { throw invalid("no actor layers (tensors actor.layers.<l>.weight/bias)") }
        layers[layers.count - 1].activation = .identity
        guard layers.last!.outputSize % 2 == 0 else { throw invalid("the actor's output width \(layers.last!.outputSize) is odd") }
        let d = layers[0].inputSize
        guard try file.shape("observation_normalizer.mean") == [d], try file.shape("observation_normalizer.std") == [d] else {
            throw invalid("observation_normalizer.mean/std must have \(d) entries (the actor's input width)")
        }
        let mean = try file.floats("observation_normalizer.mean").map(Double.init)
        let std = try file.floats("observation_normalizer.std").map(Double.init)
        guard (mean + std).allSatisfy(\.isFinite), std.allSatisfy({ $0 > 0 }) else {
            throw invalid("observation_normalizer holds NaN, infinite or non-positive values")
        }
        let clip = Double(file.metadata["normalizer_clip"] ?? "10") ?? 10
        let normalizer = RunningNormalizer(mean: mean, std: std, clip: clip)
        let policy = PolicyFile(actor: SquashedGaussianActor(network: MLP(layers: layers)), normalizer: normalizer, metadata: file.metadata)
        if let names = decodeNames(file.metadata["observation_names"]), names.count != d {
            throw invalid("observation_names has \(names.count) names for \(d) inputs")
        }
        if let names = decodeNames(file.metadata["action_names"]), names.count != policy.actor.actionDimension {
            throw invalid("action_names has \(names.count) names for \(policy.actor.actionDimension) actions")
        }
        return policy
    }

    /// Throws `LearningError.incompatiblePolicy` unless the policy was trained on an environment of this kind
    /// with the same observation and action names.
    public func checkCompatible(env kind: String, observationNames: [String], actionNames: [String], file: String) throws {
        func refuse(_ reason: String) -> LearningError { .incompatiblePolicy(file: file, reason: reason) }
        if let trained = environment, trained != kind {
            throw refuse("it was trained on \(trained), not \(kind)")
        }
        guard actor.observationDimension == observationNames.count else {
            throw refuse("it takes \(actor.observationDimension) observations, \(kind) gives \(observationNames.count)")
        }
        guard actor.actionDimension == actionNames.count else {
            throw refuse("it gives \(actor.actionDimension) actions, \(kind) takes \(actionNames.count)")
        }
        let names = self.observationNames
        if !names.isEmpty, names != observationNames {
            let i = zip(names, observationNames).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
            throw refuse("observation \(i) is \(names[i]) in the policy and \(observationNames[i]) in the environment")
        }
        let acts = self.actionNames
        if !acts.isEmpty, acts != actionNames {
            let i = zip(acts, actionNames).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
            throw refuse("action \(i) is \(acts[i]) in the policy and \(actionNames[i]) in the environment")
        }
    }

    static func decodeNames(_ json: String?) -> [String]? {
        guard let json, let data = json.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode([String].self, from: data)
    }
}

/// A policy acting with a SAC actor on raw observations (normalizing them first): deterministic
/// actions tanh(μ), or samples from π when `deterministic` is false.
public final class ActorPolicy: Policy {
    public let actor: SquashedGaussianActor
    public let normalizer: RunningNormalizer
    private var rng: SeededRNG
    public init(actor: SquashedGaussianActor, normalizer: RunningNormalizer, seed: UInt64 = 0) {
        self.actor = actor; self.normalizer = normalizer; rng = SeededRNG(seed: seed)
    }
    public convenience init(_ file: PolicyFile, seed: UInt64 = 0) {
        self.init(actor: file.actor, normalizer: file.normalizer, seed: seed)
    }
    public func reset(seed: UInt64) { rng = SeededRNG(seed: seed) }
    public func act(_ observation: [Double], deterministic: Bool) -> [Double] {
        let x = Matrix(rows: 1, cols: observation.count, storage: normalizer.normalize(observation))
        let a = deterministic ? actor.meanActions(x) : actor.sample(x, rng: &rng).actions
        return a.storage.map(Double.init)
    }
}
