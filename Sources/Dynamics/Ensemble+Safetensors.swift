import ControlCore
import Datasets
import Foundation
import NeuralNets

extension ProbabilisticEnsemble {
    /// Saves the ensemble as safetensors: every layer's stacked weights `layers.<l>.weight` (E × in × out)
    /// and biases `layers.<l>.bias` (E × out), the bounds `max_logvar`/`min_logvar` (S), the normalizers
    /// `input_mean`/`input_std` (F) and `target_mean`/`target_std` (S), all F32; `__metadata__` holds
    /// `format` ("mbc.probabilistic_ensemble.v1"), `config` (JSON), `state_names`, `action_names` and
    /// `elites` (JSON arrays), and `provenance` (JSON object, when set). Written atomically. `safetensors.torch.load_file` opens it.
    public func save(to url: URL) throws {
        let (tensors, metadata) = safetensorsContents()
        try SafetensorsFile.write(floats: tensors, metadata: metadata, to: url)
    }

    /// The tensors and metadata `save(to:)` writes, tensor names prefixed by `prefix` (to embed the ensemble
    /// in another file, as MBPO's training checkpoint does).
    public func safetensorsContents(prefix: String = "") -> (tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String]) {
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        var params = parameters
        params.net.forEachParameter { p in tensors.append((prefix + p.name, p.shape, p.value)) }
        tensors.append((prefix + "max_logvar", [stateDimension], parameters.bounds.maxLogVariance.value))
        tensors.append((prefix + "min_logvar", [stateDimension], parameters.bounds.minLogVariance.value))
        tensors.append((prefix + "input_mean", [inputMean.count], inputMean))
        tensors.append((prefix + "input_std", [inputStd.count], inputStd))
        tensors.append((prefix + "target_mean", [targetMean.count], targetMean))
        tensors.append((prefix + "target_std", [targetStd.count], targetStd))
        let json = { (x: Encodable) -> String in String(decoding: try! JSONEncoder().encode(x), as: UTF8.self) }
        let metadata = ["format": "mbc.probabilistic_ensemble.v1", "config": json(config),
                        "state_names": json(stateNames), "action_names": json(actionNames), "elites": json(eliteMembers),
                        "holdout_mse": json(lastHoldoutMSE)]
            .merging(provenance.isEmpty ? [:] : ["provenance": json(provenance)]) { a, _ in a }
        return (tensors, metadata)
    }

    /// Loads an ensemble written by `save(to:)`.
    /// - Throws: `DataFormatError` for a truncated or corrupt file, `DynamicsError.file` when the file is a
    ///   valid safetensors file but not an ensemble of this format (naming what is missing).
    public static func load(from url: URL) throws -> ProbabilisticEnsemble {
        try load(file: SafetensorsFile.read(url: url), metadata: nil, source: url.path)
    }

    /// Loads an ensemble from an open safetensors file: tensors named with `prefix`, metadata from `metadata`
    /// (the file's own when nil). `source` names the file in errors.
    public static func load(file: SafetensorsFile, metadata: [String: String]?, prefix: String = "", source: String) throws -> ProbabilisticEnsemble {
        let metadata = metadata ?? file.metadata
        func meta<T: Decodable>(_ key: String, _ type: T.Type, decode: ((Data) throws -> T)? = nil) throws -> T {
            guard let text = metadata[key] else { throw DynamicsError.file("\(source): no '\(key)' in the safetensors metadata; not an mbc ensemble") }
            do { return try decode?(Data(text.utf8)) ?? JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw DynamicsError.file("\(source): metadata '\(key)' is not valid: \(error)")
            }
        }
        guard metadata["format"] == "mbc.probabilistic_ensemble.v1" else {
            throw DynamicsError.file("\(source): format '\(metadata["format"] ?? "none")' is not mbc.probabilistic_ensemble.v1")
        }
        let model = try ProbabilisticEnsemble(config: meta("config", EnsembleConfig.self) {  // keys an older version did not write keep their defaults
                                                  try ConfigCoding.decode(EnsembleConfig(), fromJSON: $0) },
                                              stateNames: meta("state_names", [String].self),
                                              actionNames: meta("action_names", [String].self))
        var failure: Error?
        model.parameters.net.forEachParameter { p in
            do {
                let values = try file.floats(prefix + p.name)
                guard values.count == p.count else { throw DynamicsError.file("\(source): tensor '\(prefix + p.name)' has \(values.count) values, expected \(p.count)") }
                p.value = values
            } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        model.parameters.bounds.maxLogVariance.value = try file.floats(prefix + "max_logvar")
        model.parameters.bounds.minLogVariance.value = try file.floats(prefix + "min_logvar")
        model.inputMean = try file.floats(prefix + "input_mean"); model.inputStd = try file.floats(prefix + "input_std")
        model.targetMean = try file.floats(prefix + "target_mean"); model.targetStd = try file.floats(prefix + "target_std")
        model.eliteMembers = try meta("elites", [Int].self)
        model.lastHoldoutMSE = (try? meta("holdout_mse", [Double].self)) ?? []
        model.provenance = metadata["provenance"] == nil ? [:] : try meta("provenance", [String: String].self)
        return model
    }
}
