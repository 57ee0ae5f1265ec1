import ArgumentParser
import Environments
import Foundation
import Robots
import Viewer

// MARK: - view

struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained HTML page (WebGL, no network) that replays a log in 3D.",
        discussion: "Bodies are posed by the robot's forward kinematics from the logged joint positions and base pose.")
    @Argument(help: "CSV log (docs/LOG_FORMAT.md).") var log: String
    @Option(help: "URDF of the robot the log was recorded with.") var robot: String
    @Option(help: "Output HTML file.") var out: String
    @Option(help: "automatic (floating when the log has base.* columns), floating or fixed.") var base = "automatic"
    @Option(help: "At most this many frames in the page (longer logs are subsampled).") var maxFrames = 6000
    @Option(help: "Three comma-separated columns holding a target point to draw (default: the arm-reach target).") var target: String?
    @OptionGroup var common: CommonOptions

    func run() throws {
        guard let mode = BaseMode(rawValue: base) else { throw ValidationError("--base must be automatic, floating or fixed") }
        guard maxFrames >= 1 else { throw ValidationError("--max-frames must be at least 1") }
        var options = ViewerOptions()
        options.baseMode = mode
        options.maxFrames = maxFrames
        options.targetColumns = target.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        let model = try RobotModel(contentsOf: resolveResource(robot))
        try writeViewerPage(log: URL(fileURLWithPath: log), model: model, out: URL(fileURLWithPath: out), options: options, json: common.json)
    }
}

/// Builds and writes a viewer page, printing one line (and the JSON summary with `json`).
func writeViewerPage(log: URL, model: RobotModel, out: URL, options: ViewerOptions = ViewerOptions(), json: Bool) throws {
    let data = try ViewerPage.write(logURL: log, model: model, to: out, options: options)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0
    say("wrote \(out.path): \(data.episodes.count) episode\(data.episodes.count == 1 ? "" : "s"), \(data.frameCount) frames"
        + (data.stride > 1 ? " (every \(data.stride)th row)" : "") + ", \(data.bodyNames.count) bodies, \(data.shapes.count) shapes, "
        + String(format: "%.2f MB", Double(bytes) / 1e6) + " — open it in a browser")
    if json {
        printJSON(["page": out.path, "episodes": data.episodes.count, "frames": data.frameCount, "stride": data.stride,
                   "bodies": data.bodyNames.count, "shapes": data.shapes.count, "bytes": bytes])
    }
}

/// `--view page.html` of the commands that record: the page is built from the recorded log.
struct ViewOptions: ParsableArguments {
    @Option(help: "Also write a 3D viewer page (self-contained HTML) of the run; without --record the rollout is recorded to the run directory's rollout.csv.")
    var view: String?

    /// Where to record: `record`, else (with `--view`) `rollout.csv` in the run directory, else nil.
    func recordPath(record: String?, runDirectory: @autoclosure () -> URL) throws -> String? {
        if let record { return record }
        guard view != nil else { return nil }
        let dir = runDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("rollout.csv").path
    }

    /// Writes the page from the closed log at `recordPath` for `env`'s robot (fixed or floating as simulated).
    func write<E: RobotEnvironment>(env: E, recordPath: String?) throws {
        guard let view, let recordPath else { return }
        var options = ViewerOptions()
        options.baseMode = env.simulation.fixedBase ? .fixed : .floating
        try writeViewerPage(log: URL(fileURLWithPath: recordPath), model: env.simulation.model, out: URL(fileURLWithPath: view), options: options, json: false)
    }
}
