import Foundation

/// A line chart drawn as SVG by this project: axes with "nice" ticks (1, 2, 5 × 10ᵏ; decades on a log
/// scale), tick labels, axis labels with units, a legend, one polyline per series (NaN values break the
/// line), and each series' spread band (lower…upper) shaded behind it.
public struct LinePlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Logarithmic y axis (non-positive values are left out).
    public var logY: Bool
    public var width: Double = 560
    public var height: Double = 360

    public init(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.logY = logY
    }

    /// A standalone SVG document.
    public func svg() -> String { document(width: width, height: height, body: group(x: 0, y: 0)) }

    /// The chart as an SVG group at (x, y), for composing panels.
    public func group(x: Double, y: Double) -> String {
        let left = 70.0, right = 16.0, top = 34.0, bottom = 52.0
        let pw = width - left - right, ph = height - top - bottom
        // data ranges over lines and bands
        func usable(_ v: Double) -> Bool { v.isFinite && (!logY || v > 0) }
        let xs = series.flatMap(\.x).filter(\.isFinite)
        var ys = series.flatMap(\.y).filter(usable)
        for s in series { ys += (s.lower ?? []).filter(usable) + (s.upper ?? []).filter(usable) }
        var out = "<g transform=\"translate(\(f(x)),\(f(y)))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"white\"/>\n"
        out += "<text x=\"\(f(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else {
            return out + "<text x=\"\(f(width / 2))\" y=\"\(f(height / 2))\" text-anchor=\"middle\" fill=\"#888\">no finite values</text>\n</g>\n"
        }
        let xAxis = Axis(lower: x0, upper: x1, log: false)
        let yAxis = Axis(lower: y0, upper: y1, log: logY)
        func px(_ v: Double) -> Double { left + xAxis.fraction(v) * pw }
        func py(_ v: Double) -> Double { top + (1 - yAxis.fraction(v)) * ph }
        // grid, ticks and labels
        for t in xAxis.ticks {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + ph))\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(top + ph + 15))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in yAxis.ticks {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + pw))\" y2=\"\(f(py(t)))\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(16,\(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))\(logY ? " (log scale)" : "")</text>\n"
        // bands, then lines
        for (k, s) in series.enumerated() {
            guard let lo = s.lower, let hi = s.upper else { continue }
            for run in segments(s.x.indices.filter { usable(lo[$0]) && usable(hi[$0]) && s.x[$0].isFinite }) where run.count > 1 {
                let upperEdge = run.map { "\(f(px(s.x[$0]))),\(f(py(hi[$0])))" }
                let lowerEdge = run.reversed().map { "\(f(px(s.x[$0]))),\(f(py(lo[$0])))" }
                out += "<polygon points=\"\((upperEdge + lowerEdge).joined(separator: " "))\" fill=\"\(color(k))\" fill-opacity=\"0.18\" stroke=\"none\"/>\n"
            }
        }
        for (k, s) in series.enumerated() {
            let valid = s.x.indices.filter { s.x[$0].isFinite && usable(s.y[$0]) }
            for run in segments(valid) {
                if run.count == 1 {
                    out += "<circle cx=\"\(f(px(s.x[run[0]])))\" cy=\"\(f(py(s.y[run[0]])))\" r=\"2.5\" fill=\"\(color(k))\"/>\n"
                } else {
                    out += "<polyline points=\"\(run.map { "\(f(px(s.x[$0]))),\(f(py(s.y[$0])))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color(k))\" stroke-width=\"1.8\"/>\n"
                }
            }
        }
        // legend (top left, inside the plot)
        if series.count > 1 || series.first?.lower != nil {
            for (k, s) in series.enumerated() {
                let ly = top + 14 + Double(k) * 15
                out += "<line x1=\"\(f(left + 8))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + 26))\" y2=\"\(f(ly - 4))\" stroke=\"\(color(k))\" stroke-width=\"2.5\"/>\n"
                let band = s.lower != nil ? " (mean ± 1 s.d.)" : ""
                out += "<text x=\"\(f(left + 31))\" y=\"\(f(ly))\">\(escape(s.name + band))</text>\n"
            }
        }
        return out + "</g>\n"
    }

    /// Runs of consecutive indices (a NaN breaks a line).
    private func segments(_ indices: [Int]) -> [[Int]] {
        var out: [[Int]] = [], current: [Int] = []
        for i in indices {
            if let last = current.last, i != last + 1 { out.append(current); current = [] }
            current.append(i)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// Horizontal bars, one per label (benchmark ratios), with a reference line (1 = parity).
public struct BarPlot: Sendable {
    public var title: String
    public var valueLabel: String
    public var bars: [(label: String, value: Double)]
    public var reference: Double?
    public init(title: String, valueLabel: String, bars: [(label: String, value: Double)], reference: Double? = 1) {
        self.title = title; self.valueLabel = valueLabel; self.bars = bars; self.reference = reference
    }

    public func svg() -> String {
        // room for the longest label (≈ 6.5 px per character at 11 px sans-serif)
        let left = max(160, 6.5 * Double(bars.map(\.label.count).max() ?? 0) + 16), right = 50.0, top = 34.0, rowHeight = 22.0, bottom = 46.0
        let width = left + 500, height = top + bottom + rowHeight * Double(max(bars.count, 1))
        let pw = width - left - right
        let finite = bars.map(\.value).filter(\.isFinite) + (reference.map { [$0] } ?? [])
        let axis = Axis(lower: min(0, finite.min() ?? 0), upper: max(finite.max() ?? 1, 1e-12), log: false)
        func px(_ v: Double) -> Double { left + axis.fraction(v) * pw }
        var out = "<g font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"\(f(width))\" height=\"\(f(height))\" fill=\"white\"/>\n"
        out += "<text x=\"\(f(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        for t in axis.ticks {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(height - bottom))\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(height - bottom + 15))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for (i, b) in bars.enumerated() {
            let y = top + Double(i) * rowHeight
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(escape(b.label))</text>\n"
            if b.value.isFinite {
                let a = px(min(0, b.value)), c = px(max(0, b.value))
                out += "<rect x=\"\(f(a))\" y=\"\(f(y + 4))\" width=\"\(f(max(c - a, 0.5)))\" height=\"\(f(rowHeight - 8))\" fill=\"\(color(0))\"/>\n"
                out += "<text x=\"\(f(c + 4))\" y=\"\(f(y + 15))\">\(label(b.value))</text>\n"
            }
        }
        if let r = reference {
            out += "<line x1=\"\(f(px(r)))\" y1=\"\(f(top - 4))\" x2=\"\(f(px(r)))\" y2=\"\(f(height - bottom))\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n"
        }
        out += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escape(valueLabel))</text>\n</g>\n"
        return document(width: width, height: height, body: out)
    }
}

/// Several line charts in a grid of `columns`, as one SVG document.
public func panelGrid(_ plots: [LinePlot], columns: Int = 2) -> String {
    guard let first = plots.first else { return document(width: 10, height: 10, body: "") }
    let c = max(1, min(columns, plots.count)), rows = (plots.count + c - 1) / c
    var body = ""
    for (i, p) in plots.enumerated() { body += p.group(x: Double(i % c) * first.width, y: Double(i / c) * first.height) }
    return document(width: Double(c) * first.width, height: Double(rows) * first.height, body: body)
}

// MARK: - axes

/// A linear or logarithmic axis over [lower, upper] with nice tick values.
struct Axis {
    var lower: Double, upper: Double
    let log: Bool
    let ticks: [Double]

    init(lower: Double, upper: Double, log: Bool) {
        self.log = log
        var lo = lower, hi = upper
        if log {
            lo = Foundation.log10(lo); hi = Foundation.log10(hi)
            if hi - lo < 1e-12 { lo -= 0.5; hi += 0.5 }
            lo = lo.rounded(.down); hi = hi.rounded(.up)
            self.lower = lo; self.upper = hi
            let step = max(1, ((hi - lo) / 6).rounded(.up))
            ticks = stride(from: lo, through: hi + 1e-9, by: step).map { Foundation.pow(10, $0) }
            return
        }
        if hi - lo < 1e-12 * max(1, abs(hi)) { lo -= max(abs(lo) * 0.1, 0.5); hi += max(abs(hi) * 0.1, 0.5) }
        let step = Axis.niceStep((hi - lo) / 5)
        lo = (lo / step).rounded(.down) * step; hi = (hi / step).rounded(.up) * step
        self.lower = lo; self.upper = hi
        ticks = stride(from: lo, through: hi + step * 1e-6, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
    }

    /// 1, 2 or 5 × 10ᵏ, the smallest at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let e = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        for m in [1.0, 2, 5, 10] where m * e >= raw * (1 - 1e-12) { return m * e }
        return 10 * e
    }

    /// Position of `v` on the axis, 0…1.
    func fraction(_ v: Double) -> Double {
        let t = log ? Foundation.log10(v) : v
        return (t - lower) / (upper - lower)
    }
}

// MARK: - helpers

func document(width: Double, height: Double, body: String) -> String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\">\n" + body + "</svg>\n"
}

/// A coordinate with two decimals.
func f(_ v: Double) -> String { String(format: "%.2f", v) }

/// A tick or value label: up to 4 significant digits, no trailing zeros.
func label(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    // environment steps and the like: 50k, 150k, 1.5M
    if a >= 1e4, a < 1e10, v == v.rounded() {
        let (scaled, suffix) = a >= 1e6 ? (v / 1e6, "M") : (v / 1e3, "k")
        var s = String(format: "%.3g", scaled)
        if s.contains("e") { s = String(format: "%.0f", scaled) }
        return s + suffix
    }
    if a >= 1e5 || a < 1e-3 { return String(format: "%.3g", v) }
    var s = String(format: "%.4g", v)
    if s.contains(".") && !s.contains("e") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
    return s
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}

/// Colour k of a palette that stays distinct for 8 series.
func color(_ k: Int) -> String {
    ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"][k % 8]
}
