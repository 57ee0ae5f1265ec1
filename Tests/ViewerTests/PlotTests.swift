import Foundation
import Testing
@testable import Viewer

private func tempRun(_ name: String, csv: String?) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-plot-\(UUID().uuidString)/\(name)")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("metrics"), withIntermediateDirectories: true)
    if let csv { try csv.write(to: dir.appendingPathComponent("metrics/metrics.csv"), atomically: true, encoding: .utf8) }
    return dir.path
}

@Suite struct PlotTests {
    @Test func severalRunsGiveTheMeanAndAMinMaxBand() throws {
        let a = try tempRun("a", csv: "step,wall_time,transitions,episode_return,holdout_mse\n0,1,100,-40,nan\n1,2,200,-20,0.5\n")
        let b = try tempRun("b", csv: "step,wall_time,transitions,episode_return,holdout_mse\n0,1,100,-30,nan\n1,2,200,-10,0.25\n")
        let runs = try [a, b].map(MetricsTable.init(path:))
        #expect(runs[0].name == "a")
        #expect(runs[0].plottable == ["transitions", "episode_return", "holdout_mse"])
        let panels = try SVGPlot.metricsPanels(runs, metrics: ["episode_return", "holdout_mse"])
        #expect(panels.map(\.xLabel) == ["environment steps", "environment steps"])
        let s = panels[0].series[0]
        #expect(s.points.map(\.x) == [100, 200] && s.points.map(\.y) == [-35, -15])
        #expect(s.band.map(\.low) == [-40, -20] && s.band.map(\.high) == [-30, -10])
        #expect(panels[1].series[0].points.map(\.y) == [0.375])  // nan rows are left out
        let svg = SVGPlot.svg(panels)
        #expect(svg.contains("<polygon") && svg.contains("mean of 2 runs (band: min…max)") && svg.contains(">episode_return</text>"))
    }

    @Test func emptyRunDirectoryAndMissingMetricAreNamed() throws {
        let empty = try tempRun("empty", csv: nil)
        let e1 = #expect(throws: PlotError.self) { try MetricsTable(path: empty) }
        #expect(e1?.description.contains("no metrics in this run directory (looked for \(empty)/metrics.csv and \(empty)/metrics/metrics.csv); it holds [metrics]") == true)
        let run = try MetricsTable(path: tempRun("r", csv: "step,wall_time,episode_return\n0,1,-3\n"))
        let e2 = #expect(throws: PlotError.self) { try SVGPlot.metricsPanels([run], metrics: ["eval/return"]) }
        #expect(e2?.description.hasSuffix("metrics.csv: no metric 'eval/return'; available: episode_return") == true)
        let ragged = try tempRun("bad", csv: "step,wall_time,x\n0,1\n")
        let e3 = #expect(throws: PlotError.self) { try MetricsTable(path: ragged) }
        #expect(e3?.description.hasSuffix("metrics.csv line 2: 2 fields, the header has 3") == true)
    }

    @Test func ticksSmoothingAndUnits() {
        #expect(SVGPlot.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 })
        #expect(SVGPlot.ticks(-43, -4) == [-40, -30, -20, -10])
        #expect(SVGPlot.smooth([1, 2, 3, .nan, 5], window: 3) == [1.5, 2, 2.5, 4, 5])
        #expect(SVGPlot.unit(of: "planning_ms_mean") == "ms" && SVGPlot.unit(of: "final_distance") == "m" && SVGPlot.unit(of: "success") == "")
        // log scale: one tick per decade, non-positive values left out
        let p = SVGPlot.Panel(title: "mse", xLabel: "x", yLabel: "y", series: [.init(label: "a", points: [(1, 0.01), (2, 1), (3, 0), (4, 100)])], logY: true)
        let svg = SVGPlot.svg([p])
        #expect(svg.contains(">0.01</text>") && svg.contains(">1</text>") && svg.contains(">100</text>") && svg.contains("y (log)"))
    }

    @Test func benchJSONGivesABarChartPerMeasuredQuantity() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-bench-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        bench sim: progress lines first
        {"peers":[],"results":[{"env":"quadruped-walk","threads":1,"env_steps_per_s":5230.5},{"env":"arm-reach","threads":2,"env_steps_per_s":2100}]}
        """.write(to: file, atomically: true, encoding: .utf8)
        let panels = try SVGPlot.benchPanels(file: file.path)
        #expect(panels.map(\.title) == ["env_steps_per_s"])
        #expect(panels[0].labels == ["quadruped-walk · 1", "arm-reach · 2"] && panels[0].values == [5230.5, 2100])
        let svg = SVGPlot.barSVG(panels)
        #expect(svg.contains(">5230</text>") && svg.contains(">quadruped-walk · 1</text>"))
        try #"{"open_loop_rmse":[0.1]}"#.write(to: file, atomically: true, encoding: .utf8)
        let error = #expect(throws: PlotError.self) { try SVGPlot.benchPanels(file: file.path) }
        #expect(error?.description.hasSuffix("no 'results' array of objects; keys: open_loop_rmse") == true)
    }
}
