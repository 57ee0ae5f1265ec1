import Foundation

/// What `mbc plot` draws and from what.
public struct PlotRequest: Sendable {
    /// Run directories (or metrics CSV files), or JSON files written by `eval-dynamics --json` (drawn
    /// together) or one written by `bench … --json` (the whole stdout or its last line). A source
    /// `label=run1,run2,…` is a group: its runs are drawn as one curve (mean ± 1 s.d.) named `label`, next to
    /// the other groups.
    public var sources: [String]
    /// The metrics to draw, one panel each; empty draws every metric with values.
    public var metrics: [String]
    /// The x column of metrics tables; nil: `transitions` (environment steps) when every run has it, else `step`.
    public var x: String?
    /// Trailing moving-average window (1: none).
    public var smooth: Int = 1
    public var logY: Bool = false
    /// Panels per row when several metrics are drawn.
    public var columns: Int = 2
    public init(sources: [String], metrics: [String] = [], x: String? = nil, smooth: Int = 1, logY: Bool = false, columns: Int = 2) {
        self.sources = sources; self.metrics = metrics; self.x = x; self.smooth = smooth; self.logY = logY; self.columns = columns
    }
}

/// What was drawn.
public struct PlotResult: Sendable {
    public var svg: String
    /// The metrics (or measures) drawn.
    public var drawn: [String]
    public var kind: String
}

/// Builds the plot for a request: several runs of one metric as mean ± 1 s.d. (one run: its curve); every
/// metric of the runs as panels; an `eval-dynamics` summary as open-loop error vs horizon; a `bench` summary
/// as bars of its ratios.
/// - Throws: `PlotError` naming a missing run, metric (with the available ones) or an unknown JSON shape.
public func makePlot(_ request: PlotRequest) throws -> PlotResult {
    guard !request.sources.isEmpty else { throw PlotError("nothing to plot: give run directories, metrics CSVs or a --json output") }
    guard request.smooth >= 1, request.columns >= 1 else { throw PlotError("--smooth and --columns must be at least 1") }
    let json = request.sources.filter { $0.lowercased().hasSuffix(".json") }
    if !json.isEmpty {
        guard json.count == request.sources.count else { throw PlotError("plot either JSON summaries or runs, not both") }
        return try jsonPlot(json, logY: request.logY)
    }
    // groups: "label=run1,run2" (a plain path is one run; plain paths together are one group, as before)
    let grouped = request.sources.contains { $0.contains("=") }
    let groups: [(label: String?, paths: [String])] = grouped
        ? request.sources.map { source in
            guard let eq = source.firstIndex(of: "=") else { return (URL(fileURLWithPath: source).standardized.lastPathComponent, [source]) }
            return (String(source[..<eq]), source[source.index(after: eq)...].split(separator: ",").map(String.init))
        }
        : [(nil, request.sources)]
    if let empty = groups.first(where: { $0.paths.isEmpty }) { throw PlotError("group '\(empty.label ?? "")' names no runs") }
    let tables = try groups.flatMap(\.paths).map { try MetricsTable.read(run: $0) }
    let names = groups.flatMap(\.paths).map { URL(fileURLWithPath: $0).standardized.lastPathComponent }
    let x = request.x ?? (tables.allSatisfy { $0.columns.contains("transitions") } ? "transitions" : "step")
    let metrics: [String]
    if !request.metrics.isEmpty {
        metrics = request.metrics
    } else {
        // every metric with a finite value in some run (a reach metric in a walking run is all NaN)
        metrics = tables[0].columns.filter { name in
            name != x && name != "step" && name != "wall_time" && tables.contains { (try? $0.column(name))?.contains(where: \.isFinite) == true }
        }
        guard !metrics.isEmpty else { throw PlotError("\(tables[0].source): no metrics with values besides '\(x)'") }
    }
    var plots: [LinePlot] = []
    for metric in metrics {
        let runs = try zip(tables, names).map { table, name in
            Series(name: name, x: try table.column(x), y: try table.column(metric)).smoothed(window: request.smooth)
        }
        var series: [Series] = []
        var start = 0
        for group in groups {
            let members = Array(runs[start..<(start + group.paths.count)])
            start += group.paths.count
            let label = group.label.map { members.count == 1 ? $0 : "\($0), \(members.count) runs" } ?? "\(metric), \(members.count) runs"
            series.append(members.count == 1 && group.label == nil ? members[0] : Series.aggregate(members, name: label))
        }
        let smoothing = request.smooth > 1 ? " (moving average of \(request.smooth))" : ""
        plots.append(LinePlot(title: metric + smoothing, xLabel: x == "transitions" ? "environment steps" : x,
                              yLabel: unitLabel(metric), series: series, logY: request.logY))
    }
    let svg = plots.count == 1 ? plots[0].svg() : panelGrid(plots, columns: request.columns)
    return PlotResult(svg: svg, drawn: metrics, kind: tables.count > 1 ? "runs" : "run")
}

/// A metric's axis label with its unit where the name tells it.
func unitLabel(_ metric: String) -> String {
    if metric.hasSuffix("_ms") || metric.contains("_ms_") { return metric + " (ms)" }
    if metric.hasSuffix("_seconds") { return metric + " (s)" }
    if metric.contains("distance") { return metric + " (m)" }
    if metric.contains("speed") || metric.contains("velocity") { return metric + " (m/s)" }
    return metric
}

/// The last JSON object of a file (a whole `--json` stdout, or just its last line).
func lastJSONObject(_ path: String) throws -> [String: Any] {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw PlotError("\(path): cannot read the file") }
    guard let line = text.split(separator: "\n").last(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("{") }),
          let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw PlotError("\(path): no JSON object (expected the output of a command run with --json)")
    }
    return object
}

func jsonPlot(_ paths: [String], logY: Bool) throws -> PlotResult {
    let objects = try paths.map(lastJSONObject)
    if objects.allSatisfy({ $0["open_loop_rmse"] is [Any] }) {
        // one curve per file (normalized RMSE: comparable across models with different state units)
        let series = zip(paths, objects).map { path, o -> Series in
            let key = o["open_loop_normalized_rmse"] is [Any] ? "open_loop_normalized_rmse" : "open_loop_rmse"
            let values = (o[key] as? [Any] ?? []).map { ($0 as? Double) ?? .nan }
            return Series(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, x: values.indices.map { Double($0 + 1) }, y: values)
        }
        let plot = LinePlot(title: "open-loop prediction error vs horizon", xLabel: "horizon step (control steps)",
                            yLabel: "normalized RMSE (per-dimension z-score)", series: series, logY: logY)
        return PlotResult(svg: plot.svg(), drawn: series.map(\.name), kind: "eval-dynamics")
    }
    guard paths.count == 1 else {
        throw PlotError("several JSON files plot together only as eval-dynamics summaries (each with 'open_loop_rmse')")
    }
    let path = paths[0], o = objects[0]
    if let results = o["results"] as? [[String: Any]] {
        // `bench plan|dynamics`: results with a `ratio`; `bench sim --concurrent`: side-by-side ratios per loop
        var bars = results.compactMap { r -> (label: String, value: Double)? in
            guard let ratio = r["ratio"] as? Double else { return nil }
            return ((r["measure"] as? String) ?? (r["env"] as? String) ?? "ratio", ratio)
        }
        for c in o["concurrent"] as? [[String: Any]] ?? [] {
            let pair = "\(c["env"] as? String ?? "ours") ÷ \(c["peer"] as? String ?? "peer")"
            if let r = c["ratio_python_loop"] as? Double { bars.append(("\(pair) (Python loop)", r)) }
            if let r = c["ratio_cpp_loop"] as? Double { bars.append(("\(pair) (C++ loop)", r)) }
        }
        guard !bars.isEmpty else {
            throw PlotError("\(path): the bench results have no ratios ('ratio', or 'concurrent' from bench sim --concurrent with --peers-python)")
        }
        let plot = BarPlot(title: "benchmark ratios (\(URL(fileURLWithPath: path).lastPathComponent)); dashed line: parity",
                           valueLabel: "ratio (ours / peer; > 1: ours faster)", bars: bars)
        return PlotResult(svg: plot.svg(), drawn: bars.map(\.label), kind: "bench")
    }
    throw PlotError("\(path): not an eval-dynamics or bench summary (expected 'open_loop_rmse' or 'results'; it has: \(o.keys.sorted().joined(separator: ", ")))")
}
