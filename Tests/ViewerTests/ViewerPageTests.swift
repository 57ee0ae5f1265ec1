import ControlCore
import Datasets
import Foundation
import Robots
import Testing
@testable import Viewer

private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private func robot(_ name: String) throws -> RobotModel { try RobotModel(contentsOf: packageRoot.appendingPathComponent("robots/\(name).urdf")) }

/// A quadruped log in the standard layout: `episodes` episodes of the given lengths, joints swinging with
/// row-dependent angles and the base moving forward and pitching.
private func quadrupedLog(_ model: RobotModel, lengths: [Int], dropping: Set<String> = [], baseColumns: Bool = true) throws -> LogTable {
    var columns = [LogColumns.episodeIndex, LogColumns.frameIndex, LogColumns.timestamp] + model.jointNames.map(LogColumns.jointPosition)
    if baseColumns { columns += LogColumns.basePosition + LogColumns.baseOrientation }
    columns += [LogColumns.reward, LogColumns.cost]
    var values = [[Double]](repeating: [], count: columns.count)
    var row = 0
    for (e, n) in lengths.enumerated() {
        for f in 0..<n {
            var v: [Double] = [Double(e), Double(f), 0.02 * Double(f)]
            v += (0..<model.dof).map { j in 0.3 * sin(0.1 * Double(row) + Double(j)) }
            if baseColumns {
                let q = Quat(roll: 0.05 * Double(f), pitch: 0.1, yaw: 0.2)
                v += [0.01 * Double(row), 0.002 * Double(row), 0.3] + q.array
            }
            v += [Double(row) * 0.5, f % 2 == 0 ? 1 : 0]
            for c in v.indices { values[c].append(v[c]) }
            row += 1
        }
    }
    let keep = columns.indices.filter { !dropping.contains(columns[$0]) }
    return try LogTable(columns: keep.map { columns[$0] }, values: keep.map { values[$0] }, source: "walk.csv")
}

private func decodeFloats(_ b64: String) -> [Float] {
    let bytes = [UInt8](Data(base64Encoded: b64)!)
    var out: [Float] = []
    for i in stride(from: 0, to: bytes.count, by: 4) {
        var bits = UInt32(bytes[i])
        bits |= UInt32(bytes[i + 1]) << 8
        bits |= UInt32(bytes[i + 2]) << 16
        bits |= UInt32(bytes[i + 3]) << 24
        out.append(Float(bitPattern: bits))
    }
    return out
}

@Suite struct ViewerPageTests {
    @Test func pageIsSelfContainedAndEmbedsEveryFrameAndBody() throws {
        let model = try robot("quadruped")
        let data = try ViewerPage.build(log: quadrupedLog(model, lengths: [7, 5]), model: model)
        #expect(data.floatingBase)
        #expect(data.episodes.map(\.rows.count) == [7, 5])
        #expect(data.bodyNames.count == 13)
        let html = try ViewerPage.html(data)
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(!html.contains("<script src") && !html.contains("<link"))
        #expect(!html.contains("{{DATA}}") && !html.contains("{{TITLE}}"))
        // the embedded JSON is the data: frames × bodies × 7 Float32 per episode
        let start = html.range(of: #"<script id="mbc-data" type="application/json">"#)!.upperBound
        let end = html.range(of: "</script>", range: start..<html.endIndex)!.lowerBound
        let json = try JSONSerialization.jsonObject(with: Data(html[start..<end].replacingOccurrences(of: "<\\/", with: "</").utf8)) as! [String: Any]
        #expect((json["bodies"] as! [String]).count == 13)
        let episodes = json["episodes"] as! [[String: Any]]
        #expect(episodes.map { $0["frames"] as! Int } == [7, 5])
        #expect(decodeFloats(episodes[1]["poses"] as! String).count == 5 * 13 * 7)
        #expect(decodeFloats(episodes[0]["reward"] as! String) == [0, 0.5, 1, 1.5, 2, 2.5, 3])
        #expect(decodeFloats(episodes[1]["cost"] as! String) == [1, 0, 1, 0, 1])
        // shapes: the trunk box with its URDF material colour (body_grey), every shape on a valid body
        let shapes = json["shapes"] as! [[String: Any]]
        #expect(shapes.count == data.shapes.count && shapes.count >= 13)
        let trunk = data.shapes.first { $0.link == "trunk" && $0.type == "box" }
        #expect(trunk?.rgba == [0.35, 0.36, 0.38, 1.0])
        #expect(data.shapes.allSatisfy { (0..<13).contains($0.body) })
    }

    @Test func transformsEqualForwardKinematicsAtASampleFrame() throws {
        let model = try robot("quadruped")
        let log = try quadrupedLog(model, lengths: [7, 5])
        let data = try ViewerPage.build(log: log, model: model)
        let r = 9  // episode 1, frame 2
        let base = Pose(position: Vec3(try LogColumns.basePosition.map { try log.column($0)[r] }),
                        orientation: Quat(w: try log.column("base.orientation.w")[r], x: try log.column("base.orientation.x")[r],
                                          y: try log.column("base.orientation.y")[r], z: try log.column("base.orientation.z")[r]))
        let q = try model.jointNames.map { try log.column(LogColumns.jointPosition($0))[r] }
        let poses = model.forwardKinematics(base: base, q: q)
        let e = data.episodes[1]
        #expect(e.rows[2] == r)
        for b in 0..<13 {
            let stored = Array(e.poses[(2 * 13 + b) * 7 ..< (2 * 13 + b + 1) * 7])
            let expected = (poses[b].position.array + poses[b].orientation.array).map(Float.init)
            #expect(stored == expected, "body \(model.bodies[b].name)")
        }
        // margin = min(φ̂ − |pitch|, ρ̂ − |roll|) = min(0.35 − 0.1, 0.35 − 0.1): pitch 0.1, roll 0.05 · 2
        #expect(abs(e.margin[2] - Float(min(0.35 - 0.1, 0.35 - 0.1))) < 1e-5)
    }

    @Test func missingJointColumnsAreNamedWithWhatIsAvailable() throws {
        let model = try robot("quadruped")
        let log = try quadrupedLog(model, lengths: [4], dropping: ["joint_state.position.RL_calf_joint"])
        let error = #expect(throws: ViewerError.self) { try ViewerPage.build(log: log, model: model) }
        #expect(error?.kind == .missingColumns)
        #expect(error?.missing == ["joint_state.position.RL_calf_joint"])
        #expect(error?.description.hasPrefix("walk.csv: the log does not match robot 'quadruped': missing column joint_state.position.RL_calf_joint;") == true)
        #expect(error?.description.contains("the log has joint positions for [FR_hip_joint,") == true)
    }

    @Test func armLogAgainstTheQuadrupedNamesTheMismatch() throws {
        let arm = try robot("arm"), quadruped = try robot("quadruped")
        let columns = [LogColumns.timestamp] + arm.jointNames.map(LogColumns.jointPosition)
        let log = try LogTable(columns: columns, values: columns.map { _ in [0, 0] }, source: "arm.csv")
        let error = #expect(throws: ViewerError.self) { try ViewerPage.build(log: log, model: quadruped) }
        #expect(error?.missing.count == 12)
        #expect(error?.description.contains("… (12 in all)") == true)
        #expect(error?.description.contains("[joint1, joint2, joint3, joint4, joint5, joint6, joint7]") == true)
    }

    @Test func floatingBaseWithoutBaseColumnsAndEmptyLogs() throws {
        let model = try robot("quadruped")
        var options = ViewerOptions(); options.baseMode = .floating
        let log = try quadrupedLog(model, lengths: [3], baseColumns: false)
        let error = #expect(throws: ViewerError.self) { try ViewerPage.build(log: log, model: model, options: options) }
        #expect(error?.missing == LogColumns.basePosition + LogColumns.baseOrientation)
        // automatic: no base columns → the root stays at the origin
        #expect(try ViewerPage.build(log: log, model: model).floatingBase == false)
        let empty = try LogTable(columns: model.jointNames.map(LogColumns.jointPosition), values: model.jointNames.map { _ in [] }, source: "empty.csv")
        let emptyError = #expect(throws: ViewerError.self) { try ViewerPage.build(log: empty, model: model) }
        #expect(emptyError?.description == "empty.csv: the log has no rows")
    }

    @Test func longLogsAreSubsampledKeepingEachEpisodesLastRow() throws {
        let model = try robot("quadruped")
        var options = ViewerOptions(); options.maxFrames = 4
        let data = try ViewerPage.build(log: quadrupedLog(model, lengths: [10]), model: model, options: options)
        #expect(data.stride == 3)
        #expect(data.episodes[0].rows == [0, 3, 6, 9])
        #expect(data.episodes[0].time == [0, 0.06, 0.12, 0.18].map { Float($0) })
    }

    @Test func armReachTargetComesFromTheObservation() throws {
        let arm = try robot("arm")
        // the arm-reach observation: q (7), q̇ (7), end effector (3), target (3) — ArmReachTask.observation()
        let columns = [LogColumns.timestamp] + arm.jointNames.map(LogColumns.jointPosition) + (0..<20).map(LogColumns.observationState)
        var values = columns.map { _ in [0.0, 0.0] }
        values[0] = [0, 0.02]
        values[1 + 7 + 17] = [0.4, 0.41]; values[1 + 7 + 18] = [-0.2, -0.2]; values[1 + 7 + 19] = [0.5, 0.5]
        let data = try ViewerPage.build(log: LogTable(columns: columns, values: values, source: "arm.csv"), model: arm)
        #expect(!data.floatingBase)
        #expect(data.episodes[0].target == [0.4, -0.2, 0.5, 0.41, -0.2, 0.5].map { Float($0) })
        #expect(data.episodes[0].margin.isEmpty)
        var options = ViewerOptions(); options.targetColumns = ["observation.state.17", "observation.state.18", "nope"]
        let error = #expect(throws: ViewerError.self) { try ViewerPage.build(log: LogTable(columns: columns, values: values, source: "arm.csv"), model: arm, options: options) }
        #expect(error?.missing == ["nope"])
    }
}
