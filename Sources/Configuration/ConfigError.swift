import Foundation

/// A configuration that cannot be used, as one line: where (`file:line`, or the command-line override
/// that set the value) and what is wrong.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config file's path, or the override as typed (`--set planner.horizon=0`).
    public var source: String
    /// 1-based line in `source` when it is a file.
    public var line: Int?
    public var message: String

    public init(source: String, line: Int? = nil, message: String) {
        self.source = source; self.line = line; self.message = message
    }

    /// `source:line: message`.
    public var description: String { "\(source)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Where a value of the merged configuration came from (for error messages).
struct ConfigLocation: Sendable, Equatable {
    var source: String
    var line: Int?
    /// Ordering for "the first error": file lines, then overrides in the order given.
    var rank: Int
}
