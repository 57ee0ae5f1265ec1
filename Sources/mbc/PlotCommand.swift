import ArgumentParser
import Foundation
import Plotting

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw run metrics (one run, or several as mean ± 1 s.d.), eval-dynamics' open-loop error or bench ratios as SVG.")
    @Argument(help: "Run directories (metrics/metrics.csv), metrics CSV files, JSON files saved from eval-dynamics --json (drawn together), or one from bench --json. `label=run1,run2,…` makes a group: one mean ± 1 s.d. curve per group (e.g. SAC=runs/s0,runs/s1 SACLag=runs/l0,runs/l1).")
    var sources: [String] = []
    @Option(help: "A metric to draw (repeatable; default: every metric with values, one panel each).") var metric: [String] = []
    @Option(help: "The x column (default: transitions, i.e. environment steps, when every run has it, else step).") var x: String?
    @Option(help: "Panels per row.") var columns: Int = 2
    @Option(help: "Trailing moving-average window (1: no smoothing).") var smooth: Int = 1
    @Flag(help: "Logarithmic y axis.") var logY = false
    @Option(help: "Output SVG file.") var out: String = "plot.svg"
    @OptionGroup var common: CommonOptions

    func run() throws {
        let result = try makePlot(PlotRequest(sources: sources, metrics: metric, x: x, smooth: smooth, logY: logY, columns: columns))
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(result.svg.utf8).write(to: url, options: .atomic)
        say("wrote \(out): \(result.kind), \(result.drawn.count) \(result.drawn.count == 1 ? "curve" : "curves/panels") (\(result.drawn.joined(separator: ", ")))")
        if common.json { printJSON(["out": out, "kind": result.kind, "drawn": result.drawn, "sources": sources]) }
    }
}
