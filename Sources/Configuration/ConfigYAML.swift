// ConfigYAML.swift: a resolved configuration written back as YAML with every value, in declaration order,
// so that `--config` on the written file reproduces the value exactly.

import ControlCore
import Foundation

/// Writes configuration values as YAML that `ConfigLoader` reads back to the same value.
public enum ConfigYAML {
    /// The YAML text of `config`: every key, nested settings as indented blocks, lists of scalars in flow
    /// style (`[0, -0.785]`), floating-point numbers in Swift's shortest round-trip form. Keys come in
    /// declaration order (from `Mirror`; the coding keys of synthesized `Codable`), any others after them,
    /// sorted. `header` lines are written first as `# ` comments.
    public static func string<T: Encodable>(_ config: T, header: [String] = []) throws -> String {
        let tree = try ConfigCoding.jsonObject(config)
        var out = header.map { "# \($0)\n" }.joined()
        emit(tree, swiftValue: config, indent: 0, into: &out)
        return out
    }

    private static func emit(_ object: [String: Any], swiftValue: Any?, indent: Int, into out: inout String) {
        var children: [String: Any] = [:]
        var order: [String] = []
        if let swiftValue {
            for child in Mirror(reflecting: swiftValue).children {
                guard let label = child.label else { continue }
                children[label] = child.value
                if object[label] != nil { order.append(label) }
            }
        }
        order += object.keys.filter { children[$0] == nil }.sorted()
        let pad = String(repeating: " ", count: indent)
        for key in order {
            let value = object[key]!
            if let nested = value as? [String: Any] {
                out += "\(pad)\(key):\n"
                emit(nested, swiftValue: children[key], indent: indent + 2, into: &out)
            } else {
                out += "\(pad)\(key): \(scalarOrList(value, swiftValue: children[key]))\n"
            }
        }
    }

    private static func scalarOrList(_ value: Any, swiftValue: Any?) -> String {
        if let list = value as? [Any] {
            let swiftElements = swiftValue.map { Mirror(reflecting: $0).children.map(\.value) }
            let items = list.enumerated().map { i, element in
                scalarOrList(element, swiftValue: swiftElements.flatMap { i < $0.count ? $0[i] : nil })
            }
            return "[" + items.joined(separator: ", ") + "]"
        }
        if let d = swiftValue as? Double { return formatDouble(d) }
        if let f = swiftValue as? Float { return formatDouble(Double(f)) }
        if let s = value as? String { return quoteIfNeeded(s) }
        if isJSONBoolean(value) { return (value as? Bool ?? false) ? "true" : "false" }
        if let n = value as? NSNumber {
            let type = String(cString: n.objCType)
            if type == "d" || type == "f" { return formatDouble(n.doubleValue) }
            if type == "Q" { return String(n.uint64Value) }
            return String(n.int64Value)
        }
        if let object = value as? [String: Any] {
            // a mapping inside a list: flow style
            let body = object.keys.sorted().map { "\($0): \(scalarOrList(object[$0]!, swiftValue: nil))" }
            return "{" + body.joined(separator: ", ") + "}"
        }
        return quoteIfNeeded("\(value)")
    }

    /// Shortest round-trip form with a decimal point or exponent ("0.002", "100.0", "2.5e-05").
    static func formatDouble(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? ".nan" : (d > 0 ? ".inf" : "-.inf") }
        return "\(d)"
    }

    /// A plain scalar when YAML reads it back as the same string, else a double-quoted one (JSON escaping).
    static func quoteIfNeeded(_ s: String) -> String {
        let reserved: Set<String> = ["", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
                                     "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"]
        let safe = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "_-./+".unicodeScalars.contains($0) }
        let first = s.unicodeScalars.first
        if safe, !reserved.contains(s), let first, CharacterSet.letters.contains(first) || first == "_" || first == "/" || first == "." {
            return s
        }
        return doubleQuoted(s)
    }

    /// A YAML double-quoted scalar: `\` and `"` escaped, control characters as `\uXXXX`.
    static func doubleQuoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\u%04X", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
