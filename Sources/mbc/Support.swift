import ArgumentParser
import Foundation
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the final summary as one JSON object on the last line of stdout.")
    var json = false
}

/// A progress bar on a terminal (stderr), plain lines every 10 % when stderr is not a TTY.
final class Progress {
    let total: Int
    let label: String
    let tty = isatty(2) != 0
    private var lastPercent = -1
    private let start = Date()
    init(total: Int, label: String) { self.total = max(total, 1); self.label = label }

    func update(_ done: Int) {
        let percent = min(100, done * 100 / total)
        if tty {
            guard percent != lastPercent else { return }
            lastPercent = percent
            let width = 30, filled = width * percent / 100
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let elapsed = Date().timeIntervalSince(start)
            FileHandle.standardError.write("\r\(label) \(bar) \(percent)% \(done)/\(total) \(String(format: "%.1f", elapsed)) s".data(using: .utf8)!)
            if done >= total { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else if Date().timeIntervalSince(start) > 2, percent / 10 != lastPercent / 10 || (done >= total && lastPercent != 100) {
            // plain lines, and only for runs longer than a couple of seconds
            lastPercent = percent
            FileHandle.standardError.write("\(label): \(percent)% (\(done)/\(total))\n".data(using: .utf8)!)
        }
    }
}

/// Prints a human line to stdout.
func say(_ s: String) { print(s) }

/// Prints `object` as one line of JSON (sorted keys) to stdout; NaN and ±∞ (not JSON) become null.
func printJSON(_ object: [String: Any]) {
    func clean(_ v: Any) -> Any {
        switch v {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? Double(f) : NSNull()
        case let a as [Any]: return a.map(clean)
        case let o as [String: Any]: return o.mapValues(clean)
        default: return v
        }
    }
    let data = try! JSONSerialization.data(withJSONObject: clean(object), options: [.sortedKeys, .fragmentsAllowed])
    print(String(data: data, encoding: .utf8)!)
}

/// A YAML config that cannot be used, naming the file, line and key.
struct ConfigError: Error, CustomStringConvertible {
    var file: String
    var line: Int?
    var message: String
    var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Loads a YAML file over the defaults of a `Codable` config: keys present override, keys absent keep their
/// defaults, unknown keys and wrong types are errors naming the line and key.
func loadConfig<T: Codable>(_ defaults: T, from path: String) throws -> T {
    let url = URL(fileURLWithPath: path)
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
        throw ConfigError(file: path, line: nil, message: "cannot read the file")
    }
    let node: Node?
    do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
        throw ConfigError(file: path, line: nil, message: "invalid YAML: \(e)")
    }
    guard let root = node, let mapping = root.mapping else {
        throw ConfigError(file: path, line: nil, message: "expected a mapping of settings at the top level")
    }
    // defaults as a JSON object, then overridden key by key
    let defaultData = try JSONEncoder().encode(defaults)
    var object = try JSONSerialization.jsonObject(with: defaultData) as! [String: Any]
    for (keyNode, valueNode) in mapping {
        guard let key = keyNode.string else { continue }
        let line = keyNode.mark.map { $0.line }
        guard let existing = object[key] else {
            let known = object.keys.sorted().joined(separator: ", ")
            throw ConfigError(file: path, line: line, message: "unknown key '\(key)' (known keys: \(known))")
        }
        object[key] = try jsonValue(valueNode, like: existing, key: key, file: path)
    }
    let data = try JSONSerialization.data(withJSONObject: object)
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
        throw ConfigError(file: path, line: nil, message: "invalid value: \(error)")
    }
}

private func jsonValue(_ node: Node, like existing: Any, key: String, file: String) throws -> Any {
    let line = node.mark.map { $0.line }
    if existing is [Any] {
        guard let seq = node.sequence else { throw ConfigError(file: file, line: line, message: "'\(key)' must be a list") }
        let first = (existing as! [Any]).first ?? 0.0
        return try seq.map { try jsonValue($0, like: first, key: key, file: file) }
    }
    if existing is [String: Any] {
        guard let map = node.mapping else { throw ConfigError(file: file, line: line, message: "'\(key)' must be a mapping") }
        var out = existing as! [String: Any]
        for (k, v) in map {
            guard let name = k.string, let old = out[name] else {
                throw ConfigError(file: file, line: k.mark.map { $0.line }, message: "unknown key '\(k.string ?? "?")' in '\(key)'")
            }
            out[name] = try jsonValue(v, like: old, key: "\(key).\(name)", file: file)
        }
        return out
    }
    guard let scalar = node.scalar else { throw ConfigError(file: file, line: line, message: "'\(key)' must be a single value") }
    if existing is String { return scalar.string }
    if isBoolean(existing) {
        guard let b = Bool.construct(from: scalar) else { throw ConfigError(file: file, line: line, message: "'\(key)' must be true or false, not '\(scalar.string)'") }
        return b
    }
    if let n = existing as? NSNumber, !"fd".contains(String(cString: n.objCType)), let i = Int(scalar.string) {
        return i  // an integer setting stays an integer (e.g. seeds, counts)
    }
    guard let d = Double.construct(from: scalar), d.isFinite else {
        throw ConfigError(file: file, line: line, message: "'\(key)' must be a finite number, not '\(scalar.string)'")
    }
    return d
}

/// True for a JSON boolean from JSONSerialization (an NSNumber of ObjC type "c" on every platform).
func isBoolean(_ value: Any) -> Bool {
    if let n = value as? NSNumber { return String(cString: n.objCType) == "c" }
    return value is Bool
}
