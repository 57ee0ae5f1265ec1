import Foundation

/// What `mbc plot` draws and from what.
public struct PlotRequest: Sendable {
    /// Run directories (or metrics CSV files), or one JSON file written by `eval-dynamics --json` or
    /// `bench … --json` (the whole stdout or its last line).
    public var sources: [String]
    /// The metric to draw; nil draws every metric of the runs, one panel each.
    public var metric: String?
    /// The x column of metrics tables.
    public var x: String = "step"
    /// Trailing moving-average window (1: none).
    public var smooth: Int = 1
    public var logY: Bool = false
    public init(sources: [String], metric: String? = nil, x: String = "step", smooth: Int = 1, logY: Bool = false) {
        self.sources = sources; self.metric = metric; self.x = x; self.smooth = smooth; self.logY = logY
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
    guard request.smooth >= 1 else { throw PlotError("--smooth must be at least 1 (got \(request.smooth))") }
    if request.sources.count == 1, request.sources[0].lowercased().hasSuffix(".json") {
        return try jsonPlot(request.sources[0], logY: request.logY)
    }
    let tables = try request.sources.map { try MetricsTable.read(run: $0) }
    let names = request.sources.map { URL(fileURLWithPath: $0).standardized.lastPathComponent }
    let metrics: [String]
    if let m = request.metric {
        metrics = [m]
    } else {
        // every metric with a finite value in some run (a reach metric in a walking run is all NaN)
        metrics = tables[0].columns.filter { name in
            name != request.x && name != "wall_time" && tables.contains { (try? $0.column(name))?.contains(where: \.isFinite) == true }
        }
        guard !metrics.isEmpty else { throw PlotError("\(tables[0].source): no metrics with values besides '\(request.x)'") }
    }
    var plots: [LinePlot] = []
    for metric in metrics {
        let runs = try zip(tables, names).map { table, name in
            Series(name: name, x: try table.column(request.x), y: try table.column(metric)).smoothed(window: request.smooth)
        }
        let series = runs.count == 1 ? runs : [Series.aggregate(runs, name: "\(metric), \(runs.count) runs")]
        let smoothing = request.smooth > 1 ? " (moving average of \(request.smooth))" : ""
        plots.append(LinePlot(title: metric + smoothing, xLabel: request.x, yLabel: unitLabel(metric), series: series, logY: request.logY))
    }
    let svg = plots.count == 1 ? plots[0].svg() : panelGrid(plots, columns: 2)
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

func jsonPlot(_ path: String, logY: Bool) throws -> PlotResult {
    let o = try lastJSONObject(path)
    if let rmse = o["open_loop_rmse"] as? [Any] {
        let steps = (1...max(rmse.count, 1)).map(Double.init)
        var series = [Series(name: "open-loop RMSE (physical units)", x: Array(steps.prefix(rmse.count)), y: rmse.map { ($0 as? Double) ?? .nan })]
        if let normalized = o["open_loop_normalized_rmse"] as? [Any] {
            series.append(Series(name: "normalized (per-dimension z-score)", x: Array(steps.prefix(normalized.count)),
                                 y: normalized.map { ($0 as? Double) ?? .nan }))
        }
        let plot = LinePlot(title: "open-loop prediction error vs horizon (\(URL(fileURLWithPath: path).lastPathComponent))",
                            xLabel: "horizon step", yLabel: "RMSE", series: series, logY: logY)
        return PlotResult(svg: plot.svg(), drawn: series.map(\.name), kind: "eval-dynamics")
    }
    if let results = o["results"] as? [[String: Any]] {
        let bars = results.compactMap { r -> (label: String, value: Double)? in
            guard let ratio = r["ratio"] as? Double else { return nil }
            return ((r["measure"] as? String) ?? (r["env"] as? String) ?? "ratio", ratio)
        }
        guard !bars.isEmpty else { throw PlotError("\(path): the bench results have no 'ratio' values") }
        let plot = BarPlot(title: "benchmark ratios (\(URL(fileURLWithPath: path).lastPathComponent)); dashed line: parity",
                           valueLabel: "ratio (ours / peer; > 1: ours faster)", bars: bars)
        return PlotResult(svg: plot.svg(), drawn: bars.map(\.label), kind: "bench")
    }
    throw PlotError("\(path): not an eval-dynamics or bench summary (expected 'open_loop_rmse' or 'results'; it has: \(o.keys.sorted().joined(separator: ", ")))")
}
