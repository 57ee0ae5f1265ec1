import Foundation
import Testing
@testable import Plotting

@Suite("Plots: metrics tables, aggregation and SVG")
struct PlottingTests {
    /// A temporary run directory with `metrics/metrics.csv` holding `csv`.
    static func run(_ csv: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("metrics"), withIntermediateDirectories: true)
        try csv.write(to: dir.appendingPathComponent("metrics/metrics.csv"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test("a metrics CSV with nan reads column by column; a malformed row names file and line")
    func readMetrics() throws {
        let dir = try Self.run("step,wall_time,episode_return,final_distance\n0,1.5,-3,nan\n1,2.5,-1,0.25\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try MetricsTable.read(run: dir.path)
        #expect(try t.column("episode_return") == [-3, -1])
        #expect(try t.column("final_distance")[0].isNaN)
        #expect(throws: PlotError.self) { try t.column("success") }
        let bad = try Self.run("step,r\n0,1\n1,x\n")
        defer { try? FileManager.default.removeItem(at: bad) }
        #expect { try MetricsTable.read(run: bad.path) } throws: { "\($0)".hasSuffix("metrics.csv:3: column 'r': 'x' is not a number") }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("plot-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect { try MetricsTable.read(run: empty.path) } throws: { "\($0)".contains("looked for metrics/metrics.csv and metrics.csv") }
    }

    @Test("several runs aggregate to the mean with a ±1 s.d. band where every run has data")
    func aggregate() {
        let a = Series(name: "a", x: [0, 1, 2], y: [1, 2, 3]), b = Series(name: "b", x: [0, 1], y: [3, 4])
        let m = Series.aggregate([a, b], name: "m")
        #expect(m.x == [0, 1, 2] && m.y[0...1] == [2, 3] && m.y[2].isNaN)  // b stops at 1
        #expect(m.lower?[0...1] == [1, 2] && m.upper?[0...1] == [3, 4])
        #expect(Series.aggregate([a], name: "one").lower == nil)
        #expect(a.smoothed(window: 2).y == [1, 1.5, 2.5])
    }

    @Test("axes get 1-2-5 ticks (decades on a log scale) covering the data")
    func ticks() {
        #expect(Axis.niceStep(0.23) == 0.5 && Axis.niceStep(1) == 1 && Axis.niceStep(130) == 200)
        let lin = Axis(lower: -0.3, upper: 1.7, log: false)
        #expect(lin.ticks.first! <= -0.3 && lin.ticks.last! >= 1.7 && lin.ticks.contains(0))
        let log = Axis(lower: 0.003, upper: 40, log: true)
        #expect(log.ticks == [0.001, 0.01, 0.1, 1, 10, 100])
    }

    @Test("the SVG has labelled axes, a legend, a band for several runs, and NaN breaks a line")
    func svg() {
        let runs = [Series(name: "a", x: [0, 1, 2, 3], y: [0, 1, .nan, 3]), Series(name: "b", x: [0, 1, 2, 3], y: [1, 2, 3, 4])]
        let band = LinePlot(title: "return", xLabel: "env steps", yLabel: "return", series: [Series.aggregate(runs, name: "return, 2 runs")]).svg()
        #expect(band.hasPrefix("<svg") && band.contains("<polygon") && band.contains("mean ± 1 s.d.") && band.contains(">env steps<"))
        let lines = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: [runs[0]]).svg()
        #expect(!lines.contains("<polygon"))
        #expect(lines.components(separatedBy: "<polyline").count - 1 == 1 && lines.contains("<circle"))  // 0–1 a line, 3 a point
        #expect(!lines.contains("http://") || lines.components(separatedBy: "http://").count == 2)  // only the SVG namespace
    }

    @Test("plots of eval-dynamics and bench summaries; unknown inputs are named")
    func jsonSummaries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let eval = dir.appendingPathComponent("eval.json")
        try "some text\n{\"open_loop_rmse\": [0.1, 0.2, 0.4], \"open_loop_normalized_rmse\": [0.5, 0.7, 1.1]}\n".write(to: eval, atomically: true, encoding: .utf8)
        let e = try makePlot(PlotRequest(sources: [eval.path]))
        #expect(e.kind == "eval-dynamics" && e.drawn == ["eval"] && e.svg.contains("horizon step"))
        let eval2 = dir.appendingPathComponent("quad.json")
        try "{\"open_loop_rmse\": [0.3, 0.5], \"open_loop_normalized_rmse\": [0.2, 0.9]}\n".write(to: eval2, atomically: true, encoding: .utf8)
        #expect(try makePlot(PlotRequest(sources: [eval.path, eval2.path])).drawn == ["eval", "quad"])
        let bench = dir.appendingPathComponent("bench.json")
        try "{\"results\": [{\"measure\": \"speedup vs torch\", \"ratio\": 1.35}, {\"env\": \"arm-reach\", \"ratio\": 0.83}]}\n".write(to: bench, atomically: true, encoding: .utf8)
        let b = try makePlot(PlotRequest(sources: [bench.path]))
        #expect(b.kind == "bench" && b.drawn == ["speedup vs torch", "arm-reach"] && b.svg.contains("1.35"))
        let sim = dir.appendingPathComponent("sim.json")
        try "{\"results\": [{\"env\": \"arm-reach\", \"threads\": 1}], \"concurrent\": [{\"env\": \"arm-reach\", \"peer\": \"mujoco pusher_v5.xml\", \"ratio_python_loop\": 1.19, \"ratio_cpp_loop\": 0.82}]}\n".write(to: sim, atomically: true, encoding: .utf8)
        #expect(try makePlot(PlotRequest(sources: [sim.path])).drawn == ["arm-reach ÷ mujoco pusher_v5.xml (Python loop)", "arm-reach ÷ mujoco pusher_v5.xml (C++ loop)"])
        let bare = dir.appendingPathComponent("bare.json")
        try "{\"results\": [{\"env\": \"arm-reach\", \"threads\": 1}], \"concurrent\": []}\n".write(to: bare, atomically: true, encoding: .utf8)
        #expect { try makePlot(PlotRequest(sources: [bare.path])) } throws: { "\($0)".contains("no ratios") }
        let other = dir.appendingPathComponent("other.json")
        try "{\"episodes\": 3}\n".write(to: other, atomically: true, encoding: .utf8)
        #expect { try makePlot(PlotRequest(sources: [other.path])) } throws: { "\($0)".contains("not an eval-dynamics or bench summary") && "\($0)".contains("episodes") }
    }

    @Test("without --metric every metric with values gets a panel; a missing metric lists the available ones")
    func panels() throws {
        let a = try Self.run("step,wall_time,episode_return,final_distance\n0,1,-3,nan\n1,2,-1,nan\n")
        let b = try Self.run("step,wall_time,episode_return,final_distance\n0,1,-5,nan\n1,2,1,nan\n")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let all = try makePlot(PlotRequest(sources: [a.path]))
        #expect(all.drawn == ["episode_return"])
        let two = try makePlot(PlotRequest(sources: [a.path, b.path], metrics: ["episode_return"]))
        #expect(two.kind == "runs" && two.svg.contains("<polygon"))
        #expect { try makePlot(PlotRequest(sources: [a.path], metrics: ["cost"])) } throws: { "\($0)".contains("no metric 'cost' (it has: step, wall_time, episode_return, final_distance)") }
    }

    @Test("runs logged at different steps are compared by interpolation, never extrapolated")
    func interpolatedAggregate() {
        let a = Series(name: "a", x: [0, 10, 20], y: [0, 10, 20]), b = Series(name: "b", x: [4, 14, 24], y: [8, .nan, 28])
        let m = Series.aggregate([a, b], name: "m")
        #expect(m.x == [0, 4, 10, 14, 20, 24])
        // b is interpolated between its finite points 4 and 24 (10 → 14, 14 → 18, 20 → 24); a stops at 20
        #expect(m.y[1...4] == [6, 12, 16, 22] && m.y[0].isNaN && m.y[5].isNaN)
        #expect(m.lower?[1] == 4 && m.upper?[1] == 8)
        #expect(label(150_000) == "150k" && label(1_500_000) == "1.5M" && label(50_000) == "50k" && label(0.25) == "0.25")
    }

    @Test("label=run1,run2 sources draw one mean ± 1 s.d. curve per group, named by its label")
    func groups() throws {
        let a = try Self.run("step,wall_time,r\n0,1,1\n10,2,3\n"), b = try Self.run("step,wall_time,r\n0,1,3\n10,2,5\n")
        let c = try Self.run("step,wall_time,r\n0,1,-1\n10,2,-2\n")
        defer { for u in [a, b, c] { try? FileManager.default.removeItem(at: u) } }
        let p = try makePlot(PlotRequest(sources: ["SAC=\(a.path),\(b.path)", "other=\(c.path)"], metrics: ["r"]))
        #expect(p.svg.contains("SAC, 2 runs (mean ± 1 s.d.)") && p.svg.contains(">other<"))
        #expect(p.svg.components(separatedBy: "<polygon").count - 1 == 1)  // a band for the two-run group only
        #expect { try makePlot(PlotRequest(sources: ["empty="], metrics: ["r"])) } throws: { "\($0)".contains("group 'empty' names no runs") }
    }
}
