// RunDirectory.swift: where a command writes its outputs, with the resolved configuration beside them.

import ControlCore
import Foundation

/// A run's output directory. It holds `config.yaml`, the resolved configuration with every value (written
/// atomically: a temporary file in the directory, then a rename), next to whatever the command writes.
/// A resumed run must have the same configuration as the stored one, unless the caller forces it.
public struct RunDirectory: Sendable {
    public let url: URL
    /// Name of the stored configuration.
    public static let configFileName = "config.yaml"

    public init(path: String) { url = URL(fileURLWithPath: path) }

    /// The resolved configuration's file.
    public var configURL: URL { url.appendingPathComponent(Self.configFileName) }
    public var hasConfig: Bool { FileManager.default.fileExists(atPath: configURL.path) }

    /// `runs/<command>-<yyyyMMdd-HHmmss>` (local time) under `root`; when that exists, `-2`, `-3`, … is
    /// appended so that runs started in the same second do not share a directory.
    public static func defaultPath(command: String, root: String = "runs", date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = (root as NSString).appendingPathComponent("\(command)-\(formatter.string(from: date))")
        var path = base, k = 1
        while FileManager.default.fileExists(atPath: path) { k += 1; path = "\(base)-\(k)" }
        return path
    }

    /// Why a run directory cannot be used.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var message: String
        /// Key paths whose stored and new values differ (resuming with another configuration).
        public var differingKeys: [String]
        public var description: String { message }
    }

    /// Creates the directory and writes `config` as `config.yaml`.
    ///
    /// - Parameters:
    ///   - resume: continue the run stored here: a stored `config.yaml` is loaded (as `T`, over the defaults
    ///     in `defaults`) and compared with `config` key by key; any difference is refused, naming the key
    ///     paths, unless `forceConfig`, in which case the new configuration replaces the stored one.
    ///   - allowedChanges: key paths that may differ on resume without `forceConfig` (how far to run, e.g.
    ///     PETS' `iterations`: continuing a run with more iterations is what resuming is for).
    ///   - resumable: the command can resume (a new run then refuses a directory that already holds one,
    ///     rather than mixing two runs); a command that cannot resume replaces `config.yaml`.
    ///   - header: comment lines at the top of `config.yaml` (e.g. the command).
    /// - Returns: the key paths whose values differ from the stored configuration (empty unless resuming
    ///   with `forceConfig` or with changes of `allowedChanges`); `config.yaml` then holds the new values.
    @discardableResult
    public func prepare<T: Codable & ConfigRanges>(config: T, defaults: T, resume: Bool, forceConfig: Bool = false,
                                                   allowedChanges: Set<String> = [], resumable: Bool,
                                                   header: [String] = []) throws -> [String] {
        var differences: [String] = []
        if resume, hasConfig {
            let stored = try ConfigLoader().load(defaults, file: configURL.path)
            let changes = try Self.differences(stored, config)
            let refused = changes.filter { !allowedChanges.contains($0.keyPath) }
            if !refused.isEmpty && !forceConfig {
                let list = refused.map { "\($0.keyPath) (\($0.stored) → \($0.new))" }.joined(separator: ", ")
                throw Refusal(message: "\(url.path): this run's settings differ from its stored \(Self.configFileName) at \(list); resume with the stored settings, or pass --force-config to continue with the new ones",
                              differingKeys: refused.map(\.keyPath))
            }
            differences = changes.map(\.keyPath)
        } else if !resume, resumable, hasConfig {
            throw Refusal(message: "\(url.path) already holds a run (\(Self.configFileName)); pass --resume to continue it, or choose another run directory",
                          differingKeys: [])
        }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let text = try ConfigYAML.string(config, header: header)
        try Data(text.utf8).write(to: configURL, options: .atomic)
        return differences
    }

    /// The keys (dotted paths) whose values differ between two configurations, with both values as text;
    /// lists are compared whole.
    public static func differences<T: Encodable>(_ stored: T, _ new: T) throws -> [(keyPath: String, stored: String, new: String)] {
        var out: [(String, String, String)] = []
        func text(_ v: Any?) -> String {
            guard let v else { return "absent" }
            if let s = v as? String { return "'\(s)'" }
            if let list = v as? [Any] { return "[" + list.map { text($0) }.joined(separator: ", ") + "]" }
            if isJSONBoolean(v) { return (v as? Bool ?? false) ? "true" : "false" }
            return "\(v)"
        }
        func equal(_ a: Any?, _ b: Any?) -> Bool {
            switch (a, b) {
            case (nil, nil): return true
            case let (x as [String: Any], y as [String: Any]): return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { equal(x[$0], y[$0]) }
            case let (x as [Any], y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
            case let (x as String, y as String): return x == y
            case let (x as NSNumber, y as NSNumber): return x == y
            default: return false
            }
        }
        func walk(_ a: [String: Any], _ b: [String: Any], prefix: String) {
            for key in Set(a.keys).union(b.keys).sorted() {
                let path = prefix.isEmpty ? key : prefix + "." + key
                if let x = a[key] as? [String: Any], let y = b[key] as? [String: Any] { walk(x, y, prefix: path); continue }
                if !equal(a[key], b[key]) { out.append((path, text(a[key]), text(b[key]))) }
            }
        }
        walk(try ConfigCoding.jsonObject(stored), try ConfigCoding.jsonObject(new), prefix: "")
        return out
    }
}
