// ConfigLoader.swift: YAML configuration files merged over the written-out defaults of a `Codable` config,
// `--set key.path=value` overrides, and checks (types, ranges, choices) reported at the key's file and line.

import ControlCore
import Foundation
import Yams

/// One `--set key.path=value` override: the value is YAML (a scalar, or a flow list or mapping such as
/// `[0, 0.5]` or `{populationSize: 64}`), typed and range-checked exactly like the same key in a file.
public struct ConfigOverride: Sendable, Equatable {
    /// Key names from the root, e.g. ["planner", "cem", "populationSize"].
    public var keyPath: [String]
    /// The value as YAML text.
    public var yaml: String
    /// How errors name this override, e.g. `--set planner.horizon=0` or `--episodes`.
    public var origin: String

    public init(keyPath: String, yaml: String, origin: String? = nil) {
        self.keyPath = keyPath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        self.yaml = yaml
        self.origin = origin ?? "--set \(keyPath)=\(yaml)"
    }

    /// Parses `key.path=value` (what `--set` takes).
    /// - Throws: `ConfigError` when there is no `=` or the key path is empty or malformed.
    public init(parsing assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw ConfigError(source: "--set \(assignment)", message: "expected key.path=value, e.g. --set planner.horizon=20")
        }
        let key = String(assignment[..<eq]).trimmingCharacters(in: .whitespaces)
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard !key.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError(source: "--set \(assignment)", message: "'\(key)' is not a key path (names separated by dots, e.g. planner.cem.populationSize)")
        }
        self.init(keyPath: key, yaml: String(assignment[assignment.index(after: eq)...]), origin: "--set \(assignment)")
    }

    /// A string value taken literally (not interpreted as YAML), e.g. from a command-line option.
    public static func string(_ keyPath: String, _ value: String, origin: String) -> ConfigOverride {
        ConfigOverride(keyPath: keyPath, yaml: ConfigYAML.doubleQuoted(value), origin: origin)
    }
}

/// Loads configuration values: a YAML file (optional) merged over the defaults' JSON encoding, then
/// overrides, then decoded with the type's synthesized `Codable` and checked against its `ConfigRanges`.
///
/// Every problem is one `ConfigError` line naming the file and line of the key (or the override):
/// unknown keys (with the known keys at that level), duplicate keys, wrong types, values outside a key's
/// range, broken rules between keys, unknown names of a choice (with the allowed names), nesting deeper
/// than `maximumDepth`, unreadable or invalid YAML.
public struct ConfigLoader: Sendable {
    /// Deepest nesting of lists and mappings accepted, as bounded by `YAMLNesting` (indentation column +
    /// `- ` markers + open brackets + 1; the shipped configs reach 7). Deeper text is refused before it
    /// reaches the YAML parser, whose recursive composer would overflow the stack.
    public var maximumDepth = 64
    /// Largest file read, bytes (its nesting is scanned before parsing, so this only bounds memory).
    public var maximumFileSize = 64 << 20

    public init() {}

    /// Loads `file` (nil: the defaults only) over `defaults`, then applies `overrides` in order.
    public func load<T: Codable & ConfigRanges>(_ defaults: T, file: String?, overrides: [ConfigOverride] = []) throws -> T {
        guard let file else { return try load(defaults, yaml: nil, source: "defaults", overrides: overrides) }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        if let size = attributes?[.size] as? Int, size > maximumFileSize {
            throw ConfigError(source: file, message: "the file has \(size) bytes; a config file may have at most \(maximumFileSize)")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(source: file, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: file, message: "the file is not UTF-8 text")
        }
        return try load(defaults, yaml: text, source: file, overrides: overrides)
    }

    /// Loads YAML text (nil: none) named `source` in errors over `defaults`, then applies `overrides`.
    public func load<T: Codable & ConfigRanges>(_ defaults: T, yaml text: String?, source: String,
                                                overrides: [ConfigOverride] = []) throws -> T {
        var merge = Merge(maximumDepth: maximumDepth)
        var tree = try ConfigCoding.jsonObject(defaults)
        if let text {
            let from = Merge.Source(name: source, isFile: true, rank: 0)
            if let node = try merge.compose(text, from: from) {
                guard let mapping = node.mapping else {
                    throw ConfigError(source: source, line: node.mark?.line, message: "expected a mapping of settings (key: value lines) at the top level")
                }
                tree = try merge.merge(mapping, into: tree, swift: defaults, prefix: "", from: from)
            }
        }
        for (i, o) in overrides.enumerated() {
            try merge.apply(o, to: &tree, swift: defaults, from: Merge.Source(name: o.origin, isFile: false, rank: i + 1))
        }
        let value: T
        do { value = try ConfigCoding.decode(T.self, fromObject: tree) } catch let error as DecodingError {
            let (path, message) = describe(error, tree: tree)
            throw merge.error(at: path, message: message, fallback: source)
        }
        // the first violation in the order the values were written: a value out of its own range before a
        // rule between keys (so `--set populationSize=-1` is named, not the eliteCount it breaks); then keys
        // set exactly (by line, file before overrides), then those located only by a parent key, then defaults
        let ranked = value.violations().map { v -> (ConfigViolation, ConfigLocation?, Int) in
            let between = v.related.isEmpty ? 0 : 3
            for key in [v.keyPath] + v.related { if let l = merge.locations[key] { return (v, l, between) } }
            let parent = merge.location(of: v.keyPath)
            return (v, parent, between + (parent == nil ? 2 : 1))
        }
        if let (v, l, _) = ranked.min(by: { ($0.2, $0.1?.rank ?? 0, $0.1?.line ?? 0) < ($1.2, $1.1?.rank ?? 0, $1.1?.line ?? 0) }) {
            throw ConfigError(source: l?.source ?? source, line: l?.line, message: v.description)
        }
        return value
    }

    /// The key path and a message for a decoding failure of the merged tree.
    private func describe(_ error: DecodingError, tree: [String: Any]) -> (String, String) {
        func pathString(_ codingPath: [any CodingKey]) -> String {
            var s = ""
            for key in codingPath {
                if let i = key.intValue { s += "[\(i)]" } else { s += s.isEmpty ? key.stringValue : "." + key.stringValue }
            }
            return s
        }
        func valueText(_ codingPath: [any CodingKey]) -> String {
            var node: Any? = tree
            for key in codingPath {
                if let i = key.intValue, let list = node as? [Any], i < list.count { node = list[i] }
                else if let map = node as? [String: Any] { node = map[key.stringValue] } else { node = nil }
            }
            switch node {
            case let s as String: return "'\(s)'"
            case nil: return "nothing"
            case let v?: return "\(v)"
            }
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            case is Double.Type, is Float.Type: return "a number"
            case is any BinaryInteger.Type: return "an integer"
            default: return String(describing: type)
            }
        }
        switch error {
        case .typeMismatch(let type, let c):
            let p = pathString(c.codingPath)
            return (p, "\(p): expected \(kind(type)), not \(valueText(c.codingPath))")
        case .valueNotFound(let type, let c):
            let p = pathString(c.codingPath)
            return (p, "\(p): missing value (expected \(kind(type)))")
        case .keyNotFound(let key, let c):
            let p = pathString(c.codingPath)
            return (p, "\(p.isEmpty ? "" : p + ": ")missing key '\(key.stringValue)'")
        case .dataCorrupted(let c):
            let p = pathString(c.codingPath)
            if c.debugDescription.contains("is not one of") { return (p, "\(p): \(c.debugDescription)") }
            // numbers that do not fit the key's type (a fraction or a negative value for an integer key, …)
            return (p, "\(p): \(valueText(c.codingPath)) is not a valid value (\(c.debugDescription))")
        @unknown default:
            return ("", "\(error)")
        }
    }
}

/// The state of one load: where each key path was set.
struct Merge {
    struct Source { var name: String; var isFile: Bool; var rank: Int }
    let maximumDepth: Int
    var locations: [String: ConfigLocation] = [:]

    init(maximumDepth: Int) { self.maximumDepth = maximumDepth }

    /// Composes YAML text after checking its nesting depth; nil for an empty document.
    func compose(_ text: String, from source: Source) throws -> Node? {
        if let (line, message) = YAMLNesting.firstProblem(in: text, maximumDepth: maximumDepth, maximumTreeDepth: 1024) {
            throw ConfigError(source: source.name, line: source.isFile ? line : nil, message: message)
        }
        do { return try Yams.compose(yaml: text) } catch let e as YamlError {
            let (line, problem) = Merge.describe(e)
            throw ConfigError(source: source.name, line: source.isFile ? line : nil, message: "invalid YAML: \(problem)")
        }
    }

    static func describe(_ e: YamlError) -> (Int?, String) {
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return (mark.line, problem + (context.map { " \($0.text)" } ?? ""))
        case .reader(let problem, _, _, _): return (nil, problem)
        default: return (nil, "\(e)")
        }
    }

    mutating func record(_ path: String, _ node: Node, _ source: Source) {
        locations[path] = ConfigLocation(source: source.name, line: source.isFile ? node.mark?.line : nil, rank: source.rank)
    }

    /// Where `path` (or, failing that, its nearest recorded parent) was set.
    func location(of path: String) -> ConfigLocation? {
        var p = path
        while true {
            if let l = locations[p] { return l }
            if p.hasSuffix("]"), let open = p.lastIndex(of: "[") { p = String(p[..<open]); continue }
            guard let dot = p.lastIndex(of: ".") else { return nil }
            p = String(p[..<dot])
        }
    }

    func error(at path: String, message: String, fallback: String) -> ConfigError {
        if let l = location(of: path) { return ConfigError(source: l.source, line: l.line, message: message) }
        return ConfigError(source: fallback, message: message)
    }

    func error(_ node: Node, _ source: Source, _ message: String) -> ConfigError {
        ConfigError(source: source.name, line: source.isFile ? node.mark?.line : nil, message: message)
    }

    /// The Swift values of a configuration value's stored properties, by name (= coding key).
    static func children(_ swift: Any?) -> [String: Any] {
        guard let swift else { return [:] }
        var out: [String: Any] = [:]
        for child in Mirror(reflecting: swift).children { if let label = child.label { out[label] = child.value } }
        return out
    }

    /// A YAML mapping merged key by key into `dict` (the defaults at `prefix`; `swift`: their Swift value).
    mutating func merge(_ mapping: Node.Mapping, into dict: [String: Any], swift: Any?, prefix: String, from source: Source) throws -> [String: Any] {
        var out = dict
        let swiftChildren = Merge.children(swift)
        var seen: [String: Int?] = [:]
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.scalar?.string else { throw error(keyNode, source, "a key must be a name, not a list or mapping") }
            let path = prefix.isEmpty ? name : prefix + "." + name
            if let first = seen[name] {
                throw error(keyNode, source, "duplicate key '\(path)'\(first.map { " (first at line \($0))" } ?? "")")
            }
            seen[name] = source.isFile ? keyNode.mark?.line : nil
            guard let old = dict[name] else {
                throw error(keyNode, source, Merge.unknownKey(name, in: prefix, known: Array(dict.keys)))
            }
            record(path, keyNode, source)
            out[name] = try convert(valueNode, like: old, swift: swiftChildren[name], path: path, from: source)
        }
        return out
    }

    static func unknownKey(_ name: String, in prefix: String, known: [String]) -> String {
        let sorted = known.sorted()
        var message = "unknown key '\(name)'\(prefix.isEmpty ? "" : " in \(prefix)")"
        if let near = sorted.min(by: { editDistance($0, name) < editDistance($1, name) }), editDistance(near, name) <= max(2, name.count / 3) {
            message += " (did you mean '\(near)'?)"
        }
        return message + "; known keys: \(sorted.joined(separator: ", "))"
    }

    /// Levenshtein distance, for "did you mean".
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    /// The kind of a numeric Swift value, for typing YAML scalars: nil when it is not a number.
    enum NumberKind { case signed, unsigned, real }
    static func numberKind(_ swift: Any?) -> NumberKind? {
        switch swift {
        case is Bool: return nil
        case is UInt64, is UInt, is UInt32, is UInt16, is UInt8: return .unsigned
        case is any BinaryInteger: return .signed
        case is any BinaryFloatingPoint: return .real
        default: return nil
        }
    }

    /// The element kind of a Swift list value (also when it is empty): a number kind, or nil (strings, …).
    static func elementKind(_ swift: Any?) -> NumberKind? {
        guard let swift else { return nil }
        // by the static type: an empty [String] also casts to [Int]
        let t = type(of: swift)
        if t == [UInt64].self || t == [UInt].self || t == [UInt32].self { return .unsigned }
        if t == [Int].self || t == [Int64].self || t == [Int32].self { return .signed }
        if t == [Double].self || t == [Float].self { return .real }
        return nil
    }

    /// A YAML scalar as a number of `kind` (an integer key takes only whole numbers within its type).
    func number(_ node: Node, _ scalar: Node.Scalar, kind: NumberKind, path: String, from source: Source) throws -> Any {
        let text = scalar.string.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .signed:
            if let i = Int(text) { return i }
            if let d = Double(text), d.isFinite, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
            throw error(node, source, "\(path) must be an integer, not '\(scalar.string)'")
        case .unsigned:
            if let u = UInt64(text) { return u }
            if let d = Double(text), d.isFinite, d == d.rounded(), d >= 0, d < 9e15 { return UInt64(d) }
            throw error(node, source, "\(path) must be a non-negative integer below 2^64, not '\(scalar.string)'")
        case .real:
            if let i = Int(text) { return i }
            guard let d = Double.construct(from: scalar) ?? Double(text), d.isFinite else {
                throw error(node, source, "\(path) must be a finite number, not '\(scalar.string)'")
            }
            return d
        }
    }

    /// A YAML node converted to the JSON shape of `existing` (the default, whose Swift value is `swift`),
    /// with its type checked.
    mutating func convert(_ node: Node, like existing: Any, swift: Any?, path: String, from source: Source) throws -> Any {
        if let list = existing as? [Any] {
            guard let sequence = node.sequence else { throw error(node, source, "\(path) must be a list, e.g. [1, 2]") }
            let kind = Merge.elementKind(swift)
            let swiftFirst = (swift as? [Any])?.first
            return try sequence.enumerated().map { i, element in
                let p = "\(path)[\(i)]"
                record(p, element, source)
                if let kind {
                    guard let scalar = element.scalar else { throw error(element, source, "\(p) must be a number") }
                    return try number(element, scalar, kind: kind, path: p, from: source)
                }
                if let template = list.first { return try convert(element, like: template, swift: swiftFirst, path: p, from: source) }
                // an empty default list of non-numbers (e.g. names)
                guard let scalar = element.scalar else { throw error(element, source, "\(p) must be a single value") }
                return scalar.string
            }
        }
        if let dict = existing as? [String: Any] {
            guard let mapping = node.mapping else { throw error(node, source, "\(path) must be a mapping of settings (nested key: value lines)") }
            return try merge(mapping, into: dict, swift: swift, prefix: path, from: source)
        }
        guard let scalar = node.scalar else {
            throw error(node, source, "\(path) must be a single value, not a \(node.sequence != nil ? "list" : "mapping")")
        }
        if existing is String { return scalar.string }
        if isJSONBoolean(existing) || swift is Bool {
            guard let b = Bool.construct(from: scalar) else { throw error(node, source, "\(path) must be true or false, not '\(scalar.string)'") }
            return b
        }
        if let kind = Merge.numberKind(swift) { return try number(node, scalar, kind: kind, path: path, from: source) }
        if existing is NSNumber { return try number(node, scalar, kind: .real, path: path, from: source) }
        return scalar.string
    }

    /// Applies one override to the merged tree (`swift`: the defaults' Swift value).
    mutating func apply(_ o: ConfigOverride, to tree: inout [String: Any], swift: Any, from source: Source) throws {
        let node = try compose(o.yaml, from: source) ?? Node("", Tag(.str), .plain)
        try set(node, keys: o.keyPath[...], in: &tree, swift: swift, prefix: "", from: source)
    }

    private mutating func set(_ node: Node, keys: ArraySlice<String>, in tree: inout [String: Any], swift: Any?, prefix: String,
                              from source: Source) throws {
        let name = keys.first!
        let path = prefix.isEmpty ? name : prefix + "." + name
        guard let old = tree[name] else {
            throw ConfigError(source: source.name, message: Merge.unknownKey(name, in: prefix, known: Array(tree.keys)))
        }
        let swiftChild = Merge.children(swift)[name]
        if keys.count == 1 {
            record(path, node, source)
            tree[name] = try convert(node, like: old, swift: swiftChild, path: path, from: source)
            return
        }
        guard var sub = old as? [String: Any] else {
            throw ConfigError(source: source.name, message: "\(path) is a single value; it has no key '\(keys.dropFirst().first!)'")
        }
        try set(node, keys: keys.dropFirst(), in: &sub, swift: swiftChild, prefix: path, from: source)
        tree[name] = sub
    }
}

/// True for a JSON boolean from JSONSerialization (an NSNumber of Objective-C type "c" on every platform).
func isJSONBoolean(_ value: Any) -> Bool {
    if let n = value as? NSNumber { return String(cString: n.objCType) == "c" }
    return value is Bool
}

/// A conservative nesting-depth scan of YAML text, run before the text reaches the parser (Yams composes
/// recursively, so about 5,000 levels overflow an 8 MB stack, and destroying a deep tree recurses too).
///
/// The depth of a line is bounded from above by its indentation column + its leading `- ` markers + the
/// open `[`/`{` (counted everywhere but in comment-only lines, quotes included) + 1: each block level
/// needs more indentation or a `- `, each flow level a bracket. Aliases (`*name`) can repeat an anchored
/// node inside another, so the composed tree is at most (aliases + 1) × the deepest line. The bound
/// over-counts (brackets in strings, deep indentation of continuation lines) and never under-counts, so
/// the limits can be generous: real configs nest 3 levels.
enum YAMLNesting {
    /// The first line that breaks a limit and what is wrong there; nil when the text is within both.
    static func firstProblem(in text: String, maximumDepth: Int, maximumTreeDepth: Int) -> (line: Int, message: String)? {
        var flow = 0, aliases = 0, deepest = 0, lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Array(rawLine.utf8)
            var i = 0
            while i < line.count, line[i] == UInt8(ascii: " ") || line[i] == UInt8(ascii: "\t") { i += 1 }
            if i == line.count || line[i] == UInt8(ascii: "#") { continue }
            var dashes = 0, j = i
            while j + 1 < line.count, line[j] == UInt8(ascii: "-"), line[j + 1] == UInt8(ascii: " ") {
                dashes += 1; j += 2
                while j < line.count, line[j] == UInt8(ascii: " ") { j += 1 }
            }
            var lineFlow = flow
            for k in i..<line.count {
                switch line[k] {
                case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; lineFlow = max(lineFlow, flow)
                case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
                case UInt8(ascii: "*"):
                    let before = k == 0 ? UInt8(ascii: " ") : line[k - 1]
                    let after = k + 1 < line.count ? line[k + 1] : UInt8(ascii: " ")
                    if " \t[{,".utf8.contains(before), !" \t[]{},".utf8.contains(after) { aliases += 1 }
                default: break
                }
            }
            let depth = i + dashes + lineFlow + 1
            if depth > maximumDepth {
                return (lineNumber, "lists and mappings nest deeper than \(maximumDepth) levels here; configs nest a few levels")
            }
            deepest = max(deepest, depth)
            if (aliases + 1) * deepest > maximumTreeDepth {
                return (lineNumber, "\(aliases) aliases (*name) into settings nested up to \(deepest) levels could nest deeper than \(maximumTreeDepth) levels; use fewer aliases")
            }
        }
        return nil
    }
}
