import ArgumentParser
import Foundation

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
    /// Text after the bar (e.g. the latest return), set by the caller.
    var suffix = ""
    init(total: Int, label: String) { self.total = max(total, 1); self.label = label }

    func update(_ done: Int) {
        let percent = min(100, done * 100 / total)
        if tty {
            guard percent != lastPercent else { return }
            lastPercent = percent
            let width = 30, filled = width * percent / 100
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let elapsed = Date().timeIntervalSince(start)
            let eta = done > 0 && done < total ? " ETA " + formatDuration(elapsed * Double(total - done) / Double(done)) : ""
            FileHandle.standardError.write("\r\(label) \(bar) \(percent)% \(done)/\(total) \(formatDuration(elapsed))\(eta)\(suffix)\u{1B}[K".data(using: .utf8)!)
            if done >= total { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else if Date().timeIntervalSince(start) > 2, percent / 10 != lastPercent / 10 || (done >= total && lastPercent != 100) {
            // plain lines, and only for runs longer than a couple of seconds
            lastPercent = percent
            FileHandle.standardError.write("\(label): \(percent)% (\(done)/\(total))\(suffix)\n".data(using: .utf8)!)
        }
    }
}

/// Seconds as "42.0 s", "12 min 5 s" or "2 h 03 min".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let s = Int(seconds.rounded())
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
}

/// Prints a human line to stdout (to stderr with `--events`, where stdout carries only events).
func say(_ s: String) {
    if Events.shared.enabled { FileHandle.standardError.write(Data((s + "\n").utf8)) } else { print(s) }
}

/// Prints `object` as one line of JSON (sorted keys) to stdout; NaN and ±∞ (not JSON) become null. With
/// `--events` it is the summary of the `done` event instead.
func printJSON(_ object: [String: Any]) {
    if Events.shared.enabled { Events.shared.emit("done", ["summary": object]); return }
    print(jsonLine(object))
}

/// `object` as one line of JSON with sorted keys; NaN and ±∞ (not JSON) become null.
func jsonLine(_ object: [String: Any]) -> String {
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
    return String(decoding: data, as: UTF8.self)
}
