import Foundation

/// A problem reading plot sources; the description is one line naming the source, what is missing and what
/// is available.
public struct PlotError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One curve source: a run's `metrics.csv` (`MetricsWriter`: `step,wall_time,<tags>…`, `nan` allowed) as
/// named columns.
public struct MetricsTable: Sendable {
    /// The run's name (its directory) and the file read.
    public var name: String
    public var file: String
    public var columns: [String]
    /// Column-major values (`nan` where the run wrote none).
    public var values: [[Double]]

    /// Reads `path`: a `metrics.csv`, or a run directory holding `metrics.csv` or `metrics/metrics.csv`.
    /// - Throws: `PlotError` for an empty run directory (naming the places looked in), a ragged or
    ///   non-numeric line (file and line).
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw PlotError("\(path): no such file or directory") }
        var file = path
        if isDirectory.boolValue {
            let candidates = ["metrics.csv", "metrics/metrics.csv"].map { (path as NSString).appendingPathComponent($0) }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                let contents = (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? []
                throw PlotError("\(path): no metrics in this run directory (looked for \(candidates.joined(separator: " and "))); it holds "
                                + (contents.isEmpty ? "nothing" : "[\(contents.prefix(12).joined(separator: ", "))\(contents.count > 12 ? ", …" : "")]"))
            }
            file = found
            name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        } else {
            let url = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
            name = url.lastPathComponent == "metrics" ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
        }
        self.file = file
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first else { throw PlotError("\(file): empty file (expected a header step,wall_time,…)") }
        columns = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        values = Array(repeating: [], count: columns.count)
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns.count else {
                throw PlotError("\(file) line \(i + 2): \(fields.count) fields, the header has \(columns.count)")
            }
            for (c, f) in fields.enumerated() {
                let s = f.trimmingCharacters(in: .whitespaces)
                guard let v = Double(s) ?? (s.lowercased() == "nan" || s.isEmpty ? Double.nan : nil) else {
                    throw PlotError("\(file) line \(i + 2) column \(columns[c]): '\(s)' is not a number")
                }
                values[c].append(v)
            }
        }
        guard !(values.first?.isEmpty ?? true) else { throw PlotError("\(file): no rows yet") }
    }

    /// The column `name`. - Throws: `PlotError` naming the metrics that exist.
    public func column(_ name: String) throws -> [Double] {
        guard let i = columns.firstIndex(of: name) else {
            throw PlotError("\(file): no metric '\(name)'; available: \(plottable.joined(separator: ", "))")
        }
        return values[i]
    }

    /// Metrics worth a panel: every column but `step` and `wall_time` with a finite value.
    public var plottable: [String] {
        columns.indices.filter { !["step", "wall_time"].contains(columns[$0]) && values[$0].contains(where: \.isFinite) }.map { columns[$0] }
    }
}

/// Line charts as SVG written by the project: axes with ticks and labels, units, a legend, several runs as
/// their mean with a shaded band (min…max over runs), a moving-average smoothing option and a log-scale
/// option.
public enum SVGPlot {
    /// One line: points (x, y) and, for several runs, the band (x, low, high).
    public struct Series: Sendable {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var band: [(x: Double, low: Double, high: Double)]
        public init(label: String, points: [(x: Double, y: Double)], band: [(x: Double, low: Double, high: Double)] = []) {
            self.label = label; self.points = points; self.band = band
        }
    }
    /// One panel.
    public struct Panel: Sendable {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        public var series: [Series]
        public var logY: Bool
        public init(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false) {
            self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.logY = logY
        }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// Unit of a metric from its name (`_ms` → ms, `seconds` → s, distance → m, speed → m/s), or "".
    public static func unit(of metric: String) -> String {
        let m = metric.lowercased()
        if m.hasSuffix("_ms") || m.contains("_ms_") { return "ms" }
        if m.contains("seconds") || m.hasSuffix("_s") { return "s" }
        if m.contains("speed") || m.contains("velocity") { return "m/s" }
        if m.contains("distance") || m.contains("rmse") { return "m" }
        return ""
    }

    /// Moving average over a centred window of `window` points (1 = none), ignoring non-finite values.
    public static func smooth(_ y: [Double], window: Int) -> [Double] {
        guard window > 1 else { return y }
        let h = window / 2
        return y.indices.map { i in
            let w = y[max(0, i - h)...min(y.count - 1, i + h)].filter(\.isFinite)
            return w.isEmpty ? .nan : w.reduce(0, +) / Double(w.count)
        }
    }

    /// "Nice" tick values (1, 2, 5 × 10ᵏ) covering lo…hi, about `count` of them.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        // tick k is k · (step / mag) decade units, scaled exactly (0.6, not 0.6000000000000001)
        let units = Int((step / mag).rounded()), inverse = (1 / mag).rounded()
        func value(_ k: Int) -> Double { mag >= 1 ? Double(k * units) * mag : Double(k * units) / inverse }
        var out: [Double] = []
        var k = Int(ceil(lo / step - 1e-9))
        while value(k) <= hi + step * 1e-9 { out.append(value(k)); k += 1 }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
        if a >= 100 || v == v.rounded() { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.4g", v) }
        return String(format: "%.3g", v)
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The SVG document of `panels` laid out `columns` to a row, each `width` × `height` px.
    public static func svg(_ panels: [Panel], columns: Int = 2, width: Double = 460, height: Double = 300) -> String {
        let cols = max(1, min(columns, panels.count))
        let rows = (panels.count + cols - 1) / cols
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width) * cols)" height="\(Int(height) * rows)" viewBox="0 0 \(Int(width) * cols) \(Int(height) * rows)" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>

        """
        for (i, p) in panels.enumerated() {
            out += panel(p, x0: Double(i % cols) * width, y0: Double(i / cols) * height, width: width, height: height)
        }
        return out + "</svg>\n"
    }

    static func panel(_ p: Panel, x0: Double, y0: Double, width: Double, height: Double) -> String {
        let left = 62.0, right = 14.0, top = 26.0, bottom = 42.0
        let pw = width - left - right, ph = height - top - bottom
        func ty(_ y: Double) -> Double { p.logY ? log10(y) : y }
        var xs: [Double] = [], ys: [Double] = []
        for s in p.series {
            for q in s.points where q.x.isFinite && q.y.isFinite && (!p.logY || q.y > 0) { xs.append(q.x); ys.append(ty(q.y)) }
            for b in s.band where b.x.isFinite && b.low.isFinite && b.high.isFinite && (!p.logY || b.low > 0) { ys.append(ty(b.low)); ys.append(ty(b.high)) }
        }
        var svg = "<g transform=\"translate(\(x0),\(y0))\">\n"
        svg += "<text x=\"\(left + pw / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(esc(p.title))</text>\n"
        guard var xlo = xs.min(), var xhi = xs.max(), var ylo = ys.min(), var yhi = ys.max() else {
            return svg + "<text x=\"\(left + pw / 2)\" y=\"\(top + ph / 2)\" text-anchor=\"middle\" fill=\"#888\">no finite values</text>\n</g>\n"
        }
        if xhi == xlo { xlo -= 1; xhi += 1 }
        if yhi == ylo { ylo -= p.logY ? 0.5 : max(1, abs(ylo) * 0.1); yhi += p.logY ? 0.5 : max(1, abs(yhi) * 0.1) }
        let pad = (yhi - ylo) * 0.05; ylo -= pad; yhi += pad
        func sx(_ x: Double) -> Double { left + (x - xlo) / (xhi - xlo) * pw }
        func sy(_ y: Double) -> Double { top + ph - (ty(y) - ylo) / (yhi - ylo) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        // grid and ticks
        // log scale: one tick per decade, and at 2 and 5 too when the range spans fewer than 3 decades
        let mantissas: [Double] = yhi - ylo < 3 ? [1, 2, 5] : [1]
        var yTicks: [(pos: Double, text: String)] = []
        if p.logY {
            var d = floor(ylo)
            while d <= ceil(yhi) {
                for m in mantissas {
                    let pos: Double = log10(m) + d
                    if pos >= ylo - 1e-9 && pos <= yhi + 1e-9 { yTicks.append((pos, label(m * pow(10, d)))) }
                }
                d += 1
            }
        } else {
            yTicks = ticks(ylo, yhi).map { ($0, label($0)) }
        }
        for t in yTicks {
            let y = top + ph - (t.pos - ylo) / (yhi - ylo) * ph
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(t.text)</text>\n"
        }
        for t in ticks(xlo, xhi) {
            let x = sx(t)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + ph))\" stroke=\"#f0f0f0\"/>"
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top + ph))\" x2=\"\(f(x))\" y2=\"\(f(top + ph + 4))\" stroke=\"#333\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        svg += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(esc(p.xLabel))</text>\n"
        svg += "<text transform=\"translate(14,\(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(p.yLabel))\(p.logY ? " (log)" : "")</text>\n"
        // series
        for (k, s) in p.series.enumerated() {
            let color = palette[k % palette.count]
            let band = s.band.filter { $0.x.isFinite && $0.low.isFinite && $0.high.isFinite && (!p.logY || $0.low > 0) }
            if band.count > 1 {
                let upper = band.map { "\(f(sx($0.x))),\(f(sy($0.high)))" }
                let lower = band.reversed().map { "\(f(sx($0.x))),\(f(sy($0.low)))" }
                svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.18\" stroke=\"none\"/>\n"
            }
            // break the line at non-finite values
            var segment: [String] = []
            func flush() {
                if segment.count > 1 { svg += "<polyline points=\"\(segment.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"/>\n" }
                if segment.count == 1 { let xy = segment[0].split(separator: ","); svg += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(color)\"/>\n" }
                segment = []
            }
            for q in s.points { if q.x.isFinite && q.y.isFinite && (!p.logY || q.y > 0) { segment.append("\(f(sx(q.x))),\(f(sy(q.y)))") } else { flush() } }
            flush()
        }
        // legend
        if p.series.count > 1 || !(p.series.first?.band.isEmpty ?? true) {
            var ly = top + 8
            for (k, s) in p.series.enumerated() {
                let color = palette[k % palette.count]
                svg += "<line x1=\"\(f(left + 8))\" y1=\"\(f(ly))\" x2=\"\(f(left + 26))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                svg += "<text x=\"\(f(left + 30))\" y=\"\(f(ly + 4))\">\(esc(s.label))</text>\n"
                ly += 14
            }
        }
        return svg + "</g>\n"
    }

    /// Panels for metrics runs: one panel per metric (`metrics`, or every plottable metric of the first run),
    /// x = `x` (default `transitions` when every run has it — environment steps — else `step`). Several runs
    /// in a `group` become one series: the mean over runs at each x value with a min…max band. `smooth` is
    /// the moving-average window (points). - Throws: `PlotError` naming a missing metric and those available.
    public static func metricsPanels(_ runs: [MetricsTable], metrics: [String] = [], x: String? = nil, smooth window: Int = 1,
                                     logY: Bool = false, groupLabel: String? = nil) throws -> [Panel] {
        guard let first = runs.first else { throw PlotError("no runs to plot") }
        let xName = x ?? (runs.allSatisfy { $0.columns.contains("transitions") } ? "transitions" : "step")
        let names = metrics.isEmpty ? first.plottable.filter { $0 != xName } : metrics
        guard !names.isEmpty else { throw PlotError("\(first.file): no metric with a finite value; columns: \(first.columns.joined(separator: ", "))") }
        let xLabel = xName == "transitions" ? "environment steps" : xName
        return try names.map { metric in
            let unit = unit(of: metric)
            let yLabel = unit.isEmpty ? metric : "\(metric) (\(unit))"
            let curves = try runs.map { run -> [(x: Double, y: Double)] in
                let xv = try run.column(xName), yv = smooth(try run.column(metric), window: window)
                return zip(xv, yv).map { ($0, $1) }
            }
            if runs.count == 1 {
                return Panel(title: metric, xLabel: xLabel, yLabel: yLabel, series: [Series(label: first.name, points: curves[0])], logY: logY)
            }
            // mean and min…max over the runs at each x value any run has
            var byX: [Double: [Double]] = [:]
            for c in curves { for q in c where q.y.isFinite { byX[q.x, default: []].append(q.y) } }
            let xsSorted = byX.keys.sorted()
            let mean = xsSorted.map { x in (x: x, y: byX[x]!.reduce(0, +) / Double(byX[x]!.count)) }
            let band = xsSorted.map { x in (x: x, low: byX[x]!.min()!, high: byX[x]!.max()!) }
            let label = (groupLabel ?? "mean of \(runs.count) runs") + " (band: min…max)"
            return Panel(title: metric, xLabel: xLabel, yLabel: yLabel, series: [Series(label: label, points: mean, band: band)], logY: logY)
        }
    }

    /// A panel from `eval-dynamics --json` output: open-loop RMSE per horizon step (one series per file).
    /// - Throws: `PlotError` when a file has no `open_loop_rmse` array (naming the keys it has).
    public static func evalDynamicsPanel(files: [String], logY: Bool = false) throws -> Panel {
        let series = try files.map { file -> Series in
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            // the JSON summary is the last line of the command's stdout
            let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw PlotError("\(file): the last line is not a JSON object (expected `mbc eval-dynamics --json` output)")
            }
            guard let rmse = object["open_loop_rmse"] as? [Double] else {
                throw PlotError("\(file): no 'open_loop_rmse' array; keys: \(object.keys.sorted().joined(separator: ", "))")
            }
            return Series(label: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
                          points: rmse.enumerated().map { (Double($0 + 1), $1) })
        }
        return Panel(title: "open-loop error vs horizon", xLabel: "horizon (model steps)", yLabel: "RMSE (physical units)", series: series, logY: logY)
    }
}

extension SVGPlot {
    /// One bar chart: a value per labelled item.
    public struct BarPanel: Sendable {
        public var title: String
        public var labels: [String]
        public var values: [Double]
        public var logX: Bool
        public init(title: String, labels: [String], values: [Double], logX: Bool = false) {
            self.title = title; self.labels = labels; self.values = values; self.logX = logX
        }
    }

    /// Bar charts from a `bench … --json` summary (the last JSON line of the file): one panel per numeric key
    /// of its `results` objects, one bar per result labelled by its string fields and small whole numbers (< 1000).
    /// - Throws: `PlotError` when the file has no `results` array of objects (naming the keys it has).
    public static func benchPanels(file: String, logX: Bool = false) throws -> [BarPanel] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        guard let line = text.split(whereSeparator: \.isNewline).last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw PlotError("\(file): the last line is not a JSON object (expected `mbc bench … --json` or `eval-dynamics --json` output)")
        }
        guard let results = object["results"] as? [[String: Any]], !results.isEmpty else {
            throw PlotError("\(file): no 'results' array of objects; keys: \(object.keys.sorted().joined(separator: ", "))")
        }
        // small whole numbers (threads, substeps, horizons) label a result rather than measure it
        func isInteger(_ v: Any) -> Bool { (v as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() && abs($0.doubleValue) < 1000 } ?? false }
        let keys = Set(results.flatMap(\.keys)).sorted()
        let labelKeys = keys.filter { k in results.allSatisfy { $0[k] is String || ($0[k].map(isInteger) ?? false) } }
        let labels = results.map { r in labelKeys.compactMap { k in r[k].map { "\($0)" } }.joined(separator: " · ") }
        var panels: [BarPanel] = []
        for k in keys where !labelKeys.contains(k) {
            let values = results.map { ($0[k] as? NSNumber)?.doubleValue ?? .nan }
            guard values.contains(where: \.isFinite) else { continue }
            panels.append(BarPanel(title: k, labels: labels, values: values, logX: logX))
        }
        guard !panels.isEmpty else { throw PlotError("\(file): the results have no numeric values to plot; keys: \(keys.joined(separator: ", "))") }
        return panels
    }

    /// The SVG of bar panels stacked vertically, `width` px wide.
    public static func barSVG(_ panels: [BarPanel], width: Double = 640) -> String {
        let rowHeight = 20.0, top = 28.0, bottom = 30.0, left = 230.0, right = 70.0
        let heights = panels.map { top + bottom + rowHeight * Double($0.labels.count) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(heights.reduce(0, +)))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var y0 = 0.0
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        for (p, h) in zip(panels, heights) {
            let pw = width - left - right
            let finite = p.values.filter { $0.isFinite && (!p.logX || $0 > 0) }
            let top0 = finite.max() ?? 1, linear = ticks(0, max(top0, 1e-12))
            let niceTop = linear.count > 1 && linear.last! < top0 ? linear.last! + (linear[1] - linear[0]) : (linear.last ?? 1)
            let hi = p.logX ? ceil(log10(top0)) : niceTop
            let lo = p.logX ? floor(log10(finite.min() ?? 1)) : min(0, finite.min() ?? 0)
            func sx(_ v: Double) -> Double { left + ((p.logX ? log10(v) : v) - lo) / max(hi - lo, 1e-12) * pw }
            out += "<g transform=\"translate(0,\(f(y0)))\">\n<text x=\"\(f(left + pw / 2))\" y=\"17\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(esc(p.title))\(p.logX ? " (log)" : "")</text>\n"
            let axisTicks: [Double] = p.logX ? stride(from: lo, through: hi, by: 1).map { pow(10, $0) } : ticks(lo, hi)
            for t in axisTicks {
                let x = sx(t)
                out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(h - bottom))\" stroke=\"#e3e3e3\"/><text x=\"\(f(x))\" y=\"\(f(h - bottom + 14))\" text-anchor=\"middle\">\(label(t))</text>\n"
            }
            for (i, (name, v)) in zip(p.labels, p.values).enumerated() {
                let y = top + Double(i) * rowHeight
                out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 14))\" text-anchor=\"end\">\(esc(name))</text>"
                if v.isFinite && (!p.logX || v > 0) {
                    let x0 = p.logX ? left : sx(0), x1 = sx(v)
                    out += "<rect x=\"\(f(min(x0, x1)))\" y=\"\(f(y + 3))\" width=\"\(f(abs(x1 - x0)))\" height=\"\(f(rowHeight - 6))\" fill=\"\(palette[0])\"/>"
                    out += "<text x=\"\(f(max(x0, x1) + 4))\" y=\"\(f(y + 14))\">\(label(v))</text>\n"
                } else {
                    out += "<text x=\"\(f(left + 4))\" y=\"\(f(y + 14))\" fill=\"#888\">n/a</text>\n"
                }
            }
            out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(h - bottom))\" stroke=\"#333\"/>\n</g>\n"
            y0 += h
        }
        return out + "</svg>\n"
    }
}
