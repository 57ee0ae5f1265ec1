import Foundation

/// Why a plot cannot be made: names the file (and line) or what is missing, and what is available.
public struct PlotError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A metrics table: the `metrics.csv` that run directories hold (`step,wall_time,<metric>,…`; `nan` marks a
/// value a row does not have), read column by column.
public struct MetricsTable: Sendable {
    /// Where it was read from.
    public var source: String
    public var columns: [String]
    /// One array per column, rows in file order (NaN where the row has no value).
    public var values: [[Double]]

    /// The values of `name`.
    /// - Throws: `PlotError` naming the metric and listing the table's metrics.
    public func column(_ name: String) throws -> [Double] {
        guard let i = columns.firstIndex(of: name) else {
            throw PlotError("\(source): no metric '\(name)' (it has: \(columns.joined(separator: ", ")))")
        }
        return values[i]
    }

    /// Reads a metrics CSV: a header of names, then rows of numbers (`nan`, `inf` and `-inf` allowed).
    /// - Throws: `PlotError` naming the file and line of a malformed row.
    public static func read(url: URL) throws -> MetricsTable {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PlotError("\(url.path): cannot read the file (\(error.localizedDescription))")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first, !header.isEmpty else { throw PlotError("\(url.path): empty file, expected a header of metric names") }
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        var values = [[Double]](repeating: [], count: columns.count)
        for (k, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns.count else {
                throw PlotError("\(url.path):\(k + 1): \(fields.count) fields, the header has \(columns.count)")
            }
            for (c, f) in fields.enumerated() {
                let s = f.trimmingCharacters(in: .whitespaces).lowercased()
                guard let v = Double(s) ?? (s == "nan" ? .nan : s == "inf" ? .infinity : s == "-inf" ? -.infinity : nil) else {
                    throw PlotError("\(url.path):\(k + 1): column '\(columns[c])': '\(f)' is not a number")
                }
                values[c].append(v)
            }
        }
        return MetricsTable(source: url.path, columns: columns, values: values)
    }

    /// The metrics table of a run directory (`metrics/metrics.csv` or `metrics.csv`) or a CSV file.
    /// - Throws: `PlotError` when a directory holds no metrics file (naming where it looked).
    public static func read(run path: String) throws -> MetricsTable {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PlotError("\(path): no such file or run directory")
        }
        if !isDirectory.boolValue { return try read(url: url) }
        for candidate in ["metrics/metrics.csv", "metrics.csv"] {
            let u = url.appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: u.path) { return try read(url: u) }
        }
        throw PlotError("\(path): no metrics in this run directory (looked for metrics/metrics.csv and metrics.csv)")
    }
}

/// One curve: x values and y values, with an optional spread band (lower, upper) around y.
public struct Series: Sendable, Equatable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public var lower: [Double]?
    public var upper: [Double]?
    public init(name: String, x: [Double], y: [Double], lower: [Double]? = nil, upper: [Double]? = nil) {
        self.name = name; self.x = x; self.y = y; self.lower = lower; self.upper = upper
    }

    /// The curve smoothed by a trailing moving average over `window` points (NaN points skipped); the band too.
    public func smoothed(window: Int) -> Series {
        guard window > 1 else { return self }
        func smooth(_ v: [Double]) -> [Double] {
            v.indices.map { i in
                let w = v[max(0, i - window + 1)...i].filter { $0.isFinite }
                return w.isEmpty ? .nan : w.reduce(0, +) / Double(w.count)
            }
        }
        return Series(name: name, x: x, y: smooth(y), lower: lower.map(smooth), upper: upper.map(smooth))
    }

    /// Several runs' curves of one metric as their mean with a ±1 standard deviation band (population
    /// deviation; a single run has no band), at the x values (of any run) that every run's finite range
    /// covers: runs logged at different x (rows at episode ends: 5,018 in one run, 5,022 in another) are
    /// compared by linear interpolation between each run's own finite points, never extrapolated, and the
    /// curve stops where the shortest run stops.
    public static func aggregate(_ runs: [Series], name: String) -> Series {
        let xs = Array(Set(runs.flatMap(\.x).filter(\.isFinite))).sorted()
        var mean: [Double] = [], lower: [Double] = [], upper: [Double] = []
        let points = runs.map { run in zip(run.x, run.y).filter { $0.0.isFinite && $0.1.isFinite }.sorted { $0.0 < $1.0 } }
        func value(_ p: [(Double, Double)], at x: Double) -> Double? {
            guard let first = p.first, let last = p.last, x >= first.0, x <= last.0 else { return nil }
            var hi = p.firstIndex { $0.0 >= x }!
            if p[hi].0 == x { return p[hi].1 }
            hi = max(hi, 1)
            let (x0, y0) = p[hi - 1], (x1, y1) = p[hi]
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        }
        for x in xs {
            let v = points.compactMap { value($0, at: x) }
            guard !v.isEmpty, v.count == points.count else { mean.append(.nan); lower.append(.nan); upper.append(.nan); continue }
            let m = v.reduce(0, +) / Double(v.count)
            let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
            mean.append(m); lower.append(m - sd); upper.append(m + sd)
        }
        return Series(name: name, x: xs, y: mean, lower: runs.count > 1 ? lower : nil, upper: runs.count > 1 ? upper : nil)
    }
}
