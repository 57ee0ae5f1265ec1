// ConfigRanges.swift: what a configuration value may be — numeric ranges, rules between keys, named
// choices — and the one generic decoder that fills missing keys from the defaults. The YAML loader
// (`Configuration.ConfigLoader`) checks all of it and reports violations at the key's file and line.

import Foundation

// MARK: - Ranges

/// An allowed interval of a numeric configuration key: [lower, upper], either end optionally open.
public struct ConfigRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    /// Exclude `lower` (x > lower) or `upper` (x < upper).
    public var lowerOpen: Bool
    public var upperOpen: Bool

    /// [lower, upper] by default; `lowerOpen`/`upperOpen` exclude an end ((0, 1], [0, 1)).
    public init(_ lower: Double, _ upper: Double, lowerOpen: Bool = false, upperOpen: Bool = false) {
        precondition(lower <= upper, "ConfigRange: lower \(lower) > upper \(upper)")
        self.lower = lower; self.upper = upper; self.lowerOpen = lowerOpen; self.upperOpen = upperOpen
    }

    /// Every `UInt64` (seeds): [0, 2⁶⁴ − 1].
    public static let seed = ConfigRange(0, Double(UInt64.max))

    /// True when `x` lies in the interval (never for NaN).
    public func contains(_ x: Double) -> Bool {
        guard !x.isNaN else { return false }
        let aboveLower = lowerOpen ? x > lower : x >= lower
        let belowUpper = upperOpen ? x < upper : x <= upper
        return aboveLower && belowUpper
    }

    /// Interval notation: "[1, 1000]", "[0, 1)", "(0, 100000]".
    public var description: String {
        "\(lowerOpen ? "(" : "[")\(ConfigRange.format(lower)), \(ConfigRange.format(upper))\(upperOpen ? ")" : "]")"
    }

    /// Integers without a fraction or exponent (below 10¹⁵, and 2⁶⁴ − 1 for seeds), other values as Swift prints them.
    static func format(_ x: Double) -> String {
        if x == Double(UInt64.max) { return String(UInt64.max) }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}

/// A configuration value that breaks a rule: the dotted key path from the root of the loaded config
/// (list elements as `key[i]`) and what is wrong, e.g. `planner.horizon`: "1000000000 is outside [1, 1000]".
public struct ConfigViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public var keyPath: String
    public var message: String
    /// Other keys the rule involves (same root as `keyPath`): an error is reported at the line of the first
    /// of `keyPath`, `related` that a file or override set.
    public var related: [String]
    public init(keyPath: String, message: String, related: [String] = []) {
        self.keyPath = keyPath; self.message = message; self.related = related
    }
    public var description: String { "\(keyPath): \(message)" }
}

/// A configuration type whose every numeric key has a documented range, plus any rules between keys.
///
/// Conform in an extension file next to the type (`ArmReachConfig+Ranges.swift`). `ranges` names this
/// type's own keys (coding keys, which are the property names for synthesized `Codable`); a numeric list
/// is checked element by element; nested configuration values are checked with their own conformance.
/// `violations()` walks the value (with `Mirror`) and returns every broken rule with its full key path.
public protocol ConfigRanges {
    /// The allowed interval of each numeric key of this type (its own keys, not nested ones).
    static var ranges: [String: ConfigRange] { get }
    /// Rules between keys or on list lengths (e.g. `eliteCount` ≤ `populationSize`), key paths relative to
    /// this type. Default: none.
    func crossChecks() -> [ConfigViolation]
}

extension ConfigRanges {
    public func crossChecks() -> [ConfigViolation] { [] }

    /// Every range violation and failed cross-check of this value and its nested configuration values,
    /// key paths from this value's root, in declaration order.
    public func violations() -> [ConfigViolation] {
        var out: [ConfigViolation] = []
        var unranged: [String] = []
        collectViolations(self, prefix: "", into: &out, unranged: &unranged)
        return out
    }

    /// Numeric keys (with their full key paths) that have no declared range: a conformance bug, which the
    /// tests check stays empty for every configuration type.
    public func unrangedNumericKeys() -> [String] {
        var out: [ConfigViolation] = []
        var unranged: [String] = []
        collectViolations(self, prefix: "", into: &out, unranged: &unranged)
        return unranged
    }
}

private func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }

/// The value as a Double when it is a number (any integer or floating-point type), else nil.
private func numericValue(_ value: Any) -> Double? {
    if value is Bool { return nil }
    if let i = value as? any BinaryInteger { return Double(i) }
    if let f = value as? any BinaryFloatingPoint { return Double(f) }
    return nil
}

/// True for a list of numbers (by its static type: an empty `[String]` also casts to `[Int]`).
private func isNumericList(_ value: Any) -> Bool {
    let t = type(of: value)
    return t == [Int].self || t == [Double].self || t == [Float].self || t == [UInt64].self || t == [Int32].self || t == [UInt32].self
}

private func collectViolations(_ value: any ConfigRanges, prefix: String, into out: inout [ConfigViolation], unranged: inout [String]) {
    let ranges = type(of: value).ranges
    for child in Mirror(reflecting: value).children {
        guard let label = child.label else { continue }
        let path = join(prefix, label)
        if let nested = child.value as? any ConfigRanges {
            collectViolations(nested, prefix: path, into: &out, unranged: &unranged)
        } else if let x = numericValue(child.value) {
            guard let range = ranges[label] else { unranged.append(path); continue }
            if !range.contains(x) {
                out.append(ConfigViolation(keyPath: path, message: "\(ConfigRange.format(x)) is outside \(range)"))
            }
        } else if isNumericList(child.value), let list = child.value as? [Any] {
            guard let range = ranges[label] else { unranged.append(path); continue }
            for (i, element) in list.enumerated() {
                if let x = numericValue(element), !range.contains(x) {
                    out.append(ConfigViolation(keyPath: "\(path)[\(i)]", message: "\(ConfigRange.format(x)) is outside \(range)"))
                }
            }
        }
    }
    for v in value.crossChecks() {
        out.append(ConfigViolation(keyPath: join(prefix, v.keyPath), message: v.message, related: v.related.map { join(prefix, $0) }))
    }
}

// MARK: - Named choices

/// An enumeration chosen by name in a configuration (`kind: icem`, `env: arm-reach`). Decoding an unknown
/// name throws a `DecodingError.dataCorrupted` whose description lists the allowed values.
public protocol ConfigChoice: CaseIterable, Codable, RawRepresentable where RawValue == String {}

extension ConfigChoice {
    /// The raw values, in declaration order.
    public static var allowedValues: [String] { allCases.map(\.rawValue) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(name)' is not one of: \(Self.allowedValues.joined(separator: ", "))")
        }
        self = value
    }
}

// MARK: - Decoding over defaults

/// The one generic decoder of configuration values: a JSON (or YAML-derived) document merged over the
/// JSON encoding of the defaults, so that config types use synthesized `Codable` and a document (a file,
/// a model's stored settings written by an older version) need only name what it changes.
public enum ConfigCoding {
    /// `defaults` as a JSON object tree (`[String: Any]`, arrays, `NSNumber`, `String`).
    public static func jsonObject<T: Encodable>(_ value: T) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(T.self) does not encode as a JSON object"))
        }
        return object
    }

    /// `overlay` merged over `base`: objects merge key by key (recursively), anything else replaces.
    public static func merge(_ base: Any, _ overlay: Any) -> Any {
        guard var b = base as? [String: Any], let o = overlay as? [String: Any] else { return overlay }
        for (k, v) in o { b[k] = b[k].map { merge($0, v) } ?? v }
        return b
    }

    /// Decodes a JSON object tree produced by `jsonObject` (after merging or editing).
    public static func decode<T: Decodable>(_ type: T.Type, fromObject object: [String: Any]) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// Decodes `data`, a JSON object, over `defaults`: keys present replace their default (nested objects
    /// merge), keys absent keep it. Keys the type does not have are ignored here (the YAML loader rejects
    /// them with their line).
    public static func decode<T: Codable>(_ defaults: T, fromJSON data: Data) throws -> T {
        guard let overlay = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "expected a JSON object of \(T.self) settings"))
        }
        guard let merged = merge(try jsonObject(defaults), overlay) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "cannot merge over the defaults of \(T.self)"))
        }
        return try decode(T.self, fromObject: merged)
    }
}
