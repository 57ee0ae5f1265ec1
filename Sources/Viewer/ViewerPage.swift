import ControlCore
import Datasets
import Foundation
import Robots

/// A problem building a viewer page from a log and a robot; the description is one line naming the log
/// file, what is missing and what is available.
public struct ViewerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Joint or base columns the robot needs are absent from the log.
        case missingColumns
        /// The log has no rows.
        case emptyLog
        /// An option is out of range (e.g. `maxFrames` < 1) or a target column does not exist.
        case invalidArgument
    }
    public var kind: Kind
    /// The log file (or `<table>`).
    public var file: String
    /// The missing column names (for `.missingColumns`).
    public var missing: [String]
    public var message: String
    public init(kind: Kind, file: String, missing: [String] = [], message: String) {
        self.kind = kind; self.file = file; self.missing = missing; self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

/// One drawable primitive of the robot, placed in its body's reference frame (`RobotModel.bodies`).
public struct ViewerShape: Sendable, Codable, Equatable {
    /// `box`, `sphere`, `cylinder` or `capsule` (cylinders and capsules along the local z axis).
    public var type: String
    /// Box: full side lengths (x, y, z), m. Sphere: [radius]. Cylinder and capsule: [radius, length] (length
    /// without the caps for a capsule), m.
    public var size: [Double]
    /// Index into `RobotModel.bodies` of the body carrying the shape.
    public var body: Int
    /// Pose in the body's reference frame: position (m) then quaternion (w, x, y, z).
    public var pose: [Double]
    /// RGBA, 0…1: the URDF `<material>` colour, or a default grey for collision geometry.
    public var rgba: [Double]
    /// The URDF link the shape belongs to.
    public var link: String
}

/// How to build a page from a log.
public struct ViewerOptions: Sendable {
    /// How the base attaches: `.floating` needs the log's `base.position.*`/`base.orientation.*` columns,
    /// `.fixed` poses the root at the origin, `.automatic` floats when the log has those columns.
    public var baseMode: BaseMode = .automatic
    /// At most this many frames in the page over all episodes; longer logs keep every k-th row
    /// (k = ⌈rows / maxFrames⌉) plus each episode's last row.
    public var maxFrames: Int = 6000
    /// Three columns holding a target point (world frame, m) drawn as a marker; nil = automatic: the
    /// arm-reach layout (a fixed base and 2·dof + 6 observation columns: q, q̇, end effector, target) uses
    /// `observation.state.[2·dof+3 ..< 2·dof+6]` (`ArmReachTask.observation()`), otherwise none.
    public var targetColumns: [String]? = nil
    /// Pitch and roll limits (rad) for the safety margin f_s = min(φ̂ − |pitch|, ρ̂ − |roll|) of a floating
    /// base (Ha et al. 2020; the quadruped-walk defaults 0.35). nil = no margin.
    public var safetyLimits: (pitch: Double, roll: Double)? = (0.35, 0.35)
    /// Page title.
    public var title: String? = nil
    public init() {}
}

/// The data of one viewer page: robot geometry and per-frame body poses, computed by the project's forward
/// kinematics (`RobotModel.forwardKinematics(base:q:)`) from each logged row.
///
/// Size: each frame stores 7 Float32 per body (position, quaternion) plus time, reward, cost, margin and
/// target (≤ 7 Float32), base64-encoded (4/3): about (28 · bodies + 28) · 4/3 bytes per frame — 520 bytes
/// for the 13-body quadruped, so a 60 s log at 50 Hz (3,000 frames) is about 1.6 MB; the page grows linearly
/// with frames until `ViewerOptions.maxFrames` subsamples.
public struct ViewerPageData: Sendable {
    public struct Episode: Sendable {
        /// The log's `episode_index` (or 0).
        public var index: Int
        /// The log rows kept (0-based).
        public var rows: [Int]
        /// Time of each frame, s (`timestamp`, or row × 0.02 without it).
        public var time: [Float]
        /// Frames × bodies × 7: world pose of every body's reference frame, (x, y, z, qw, qx, qy, qz).
        public var poses: [Float]
        /// `next.reward`, `next.cost` per frame (empty when the log lacks the column).
        public var reward: [Float]
        public var cost: [Float]
        /// Safety margin f_s per frame, rad (empty for a fixed base or without limits).
        public var margin: [Float]
        /// Target point per frame (frames × 3), m (empty without a target).
        public var target: [Float]
    }
    public var robotName: String
    public var bodyNames: [String]
    public var shapes: [ViewerShape]
    public var floatingBase: Bool
    public var episodes: [Episode]
    /// Rows kept: every `stride`-th.
    public var stride: Int
    public var source: String
    public var title: String
    public var frameCount: Int { episodes.reduce(0) { $0 + $1.rows.count } }
}

public enum ViewerPage {
    /// Reads `log` (CSV, docs/LOG_FORMAT.md) and the robot, and builds the page data.
    public static func build(logURL: URL, robotURL: URL, options: ViewerOptions = .init()) throws -> ViewerPageData {
        let model = try RobotModel(contentsOf: robotURL)
        let table = try LogReader.read(url: logURL)
        return try build(log: table, model: model, options: options)
    }

    /// The drawable shapes of `model`: per link its non-mesh `<visual>` geometry with its material colour,
    /// or, for a link without one, its collision shapes in grey; each placed in its body's reference frame.
    public static func shapes(of model: RobotModel) -> [ViewerShape] {
        var out: [ViewerShape] = []
        let grey: [Double] = [0.6, 0.6, 0.62, 1]
        for link in model.urdf.links {
            guard let frame = model.linkFrames[link.name] else { continue }
            let visuals = link.visuals.filter { if case .mesh = $0.geometry { return false }; return true }
            let useVisuals = !visuals.isEmpty
            for s in (useVisuals ? visuals : link.collisions) {
                let p = frame.pose.compose(s.origin)
                let (type, size): (String, [Double])
                switch s.geometry {
                case .box(let v): (type, size) = ("box", v.array)
                case .sphere(let r): (type, size) = ("sphere", [r])
                case .cylinder(let r, let l): (type, size) = ("cylinder", [r, l])
                case .capsule(let r, let l): (type, size) = ("capsule", [r, l])
                case .mesh: continue
                }
                var rgba = (useVisuals ? s.rgba : nil) ?? grey
                if rgba.count != 4 { rgba = grey }
                out.append(ViewerShape(type: type, size: size, body: frame.body,
                                       pose: p.position.array + p.orientation.array, rgba: rgba, link: link.name))
            }
        }
        return out
    }

    /// Builds the page data: for each kept row, the body poses by forward kinematics from the logged joint
    /// positions (`joint_state.position.<joint>`, every actuated joint of the URDF) and base pose.
    /// - Throws: `ViewerError.missingColumns` naming the absent columns and the joint columns the log has;
    ///   `.emptyLog`; `.invalidArgument`.
    public static func build(log: LogTable, model: RobotModel, options: ViewerOptions = .init()) throws -> ViewerPageData {
        let file = log.source ?? "<table>"
        guard log.rows > 0 else { throw ViewerError(kind: .emptyLog, file: file, message: "the log has no rows") }
        guard options.maxFrames >= 1 else {
            throw ViewerError(kind: .invalidArgument, file: file, message: "maxFrames must be at least 1, not \(options.maxFrames)")
        }
        let jointColumns = model.jointNames.map(LogColumns.jointPosition)
        let baseColumns = LogColumns.basePosition + LogColumns.baseOrientation
        let floating: Bool = switch options.baseMode {
        case .fixed: false
        case .floating: true
        case .automatic: baseColumns.allSatisfy(log.hasColumn)
        }
        let needed = jointColumns + (floating ? baseColumns : [])
        let missing = needed.filter { !log.hasColumn($0) }
        if !missing.isEmpty {
            let available = log.columns(withPrefix: "joint_state.position.").map { String($0.dropFirst("joint_state.position.".count)) }
            let listed = missing.count > 6 ? missing.prefix(6).joined(separator: ", ") + ", … (\(missing.count) in all)" : missing.joined(separator: ", ")
            throw ViewerError(kind: .missingColumns, file: file, missing: missing,
                              message: "the log does not match robot '\(model.name)': missing column\(missing.count == 1 ? "" : "s") \(listed); "
                                + "the log has joint positions for [\(available.joined(separator: ", "))], the robot's joints are [\(model.jointNames.joined(separator: ", "))]")
        }
        let q = try jointColumns.map { try log.column($0) }
        let base = floating ? try baseColumns.map { try log.column($0) } : []
        let time = log.hasColumn(LogColumns.timestamp) ? try log.column(LogColumns.timestamp) : (0..<log.rows).map { Double($0) * 0.02 }
        let reward = log.hasColumn(LogColumns.reward) ? try log.column(LogColumns.reward) : nil
        let cost = log.hasColumn(LogColumns.cost) ? try log.column(LogColumns.cost) : nil
        // target
        var targetColumns = options.targetColumns
        if targetColumns == nil, !floating {
            let obs = log.columns(withPrefix: "observation.state.")
            let d = model.dof
            if obs.count == 2 * d + 6 { targetColumns = (2 * d + 3 ..< 2 * d + 6).map(LogColumns.observationState) }
        }
        var target: [[Double]] = []
        if let tc = targetColumns {
            guard tc.count == 3 else {
                throw ViewerError(kind: .invalidArgument, file: file, message: "target needs 3 columns (x, y, z), got \(tc.count)")
            }
            let absent = tc.filter { !log.hasColumn($0) }
            if !absent.isEmpty {
                throw ViewerError(kind: .missingColumns, file: file, missing: absent,
                                  message: "no target column \(absent.joined(separator: ", ")); the log has \(log.columns(withPrefix: "observation.state.").count) observation.state columns")
            }
            target = try tc.map { try log.column($0) }
        }

        let stride = max(1, (log.rows + options.maxFrames - 1) / options.maxFrames)
        let episodeColumn = log.hasColumn(LogColumns.episodeIndex) ? try log.column(LogColumns.episodeIndex) : nil
        var episodes: [ViewerPageData.Episode] = []
        for range in log.episodeRanges() {
            var rows = Array(Swift.stride(from: range.lowerBound, to: range.upperBound, by: stride))
            if rows.last != range.upperBound - 1 { rows.append(range.upperBound - 1) }
            var e = ViewerPageData.Episode(index: episodeColumn.map { Int($0[range.lowerBound]) } ?? 0, rows: rows,
                                           time: [], poses: [], reward: [], cost: [], margin: [], target: [])
            e.poses.reserveCapacity(rows.count * model.bodies.count * 7)
            for r in rows {
                let b = floating ? Pose(position: Vec3(base[0][r], base[1][r], base[2][r]),
                                        orientation: Quat(w: base[3][r], x: base[4][r], y: base[5][r], z: base[6][r]).normalized) : .identity
                for pose in model.forwardKinematics(base: b, q: q.map { $0[r] }) {
                    e.poses += (pose.position.array + pose.orientation.array).map(Float.init)
                }
                e.time.append(Float(time[r]))
                if let reward { e.reward.append(Float(reward[r])) }
                if let cost { e.cost.append(Float(cost[r])) }
                if floating, let limits = options.safetyLimits {
                    let rpy = b.orientation.rollPitchYaw
                    e.margin.append(Float(min(limits.pitch - abs(rpy.y), limits.roll - abs(rpy.x))))
                }
                if !target.isEmpty { e.target += target.map { Float($0[r]) } }
            }
            episodes.append(e)
        }
        let name = URL(fileURLWithPath: file).lastPathComponent
        return ViewerPageData(robotName: model.name, bodyNames: model.bodies.map(\.name), shapes: shapes(of: model),
                              floatingBase: floating, episodes: episodes, stride: stride, source: name,
                              title: options.title ?? "\(name) — \(model.name)")
    }

    /// Little-endian Float32 array as base64.
    static func base64(_ values: [Float]) -> String {
        var bytes = [UInt8](); bytes.reserveCapacity(values.count * 4)
        for v in values { let b = v.bitPattern.littleEndian; bytes += [UInt8(b & 0xff), UInt8((b >> 8) & 0xff), UInt8((b >> 16) & 0xff), UInt8(b >> 24)] }
        return Data(bytes).base64EncodedString()
    }

    /// The page data as the JSON object the page's script reads (arrays as base64 Float32).
    /// - Throws: `EncodingError` for a non-finite shape size, colour or pose.
    public static func json(_ data: ViewerPageData) throws -> String {
        struct EpisodeJSON: Encodable {
            var index: Int, frames: Int, firstRow: Int, time: String, poses: String, reward: String, cost: String, margin: String, target: String
        }
        struct PageJSON: Encodable {
            var title: String, robot: String, source: String, bodies: [String], shapes: [ViewerShape], floating: Bool, stride: Int, episodes: [EpisodeJSON]
        }
        let page = PageJSON(title: data.title, robot: data.robotName, source: data.source, bodies: data.bodyNames, shapes: data.shapes,
                            floating: data.floatingBase, stride: data.stride,
                            episodes: data.episodes.map { e in
                                EpisodeJSON(index: e.index, frames: e.rows.count, firstRow: e.rows.first ?? 0, time: base64(e.time), poses: base64(e.poses),
                                            reward: base64(e.reward), cost: base64(e.cost), margin: base64(e.margin), target: base64(e.target))
                            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(page), as: UTF8.self)
        // never close the enclosing <script> element from inside the data
        return text.replacingOccurrences(of: "</", with: "<\\/")
    }

    /// The complete self-contained HTML page (inline CSS, JavaScript and data; no network access).
    public static func html(_ data: ViewerPageData) throws -> String {
        let title = data.title.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return ViewerTemplate.html
            .replacingOccurrences(of: "{{TITLE}}", with: title)
            .replacingOccurrences(of: "{{DATA}}", with: try json(data))
    }

    /// Builds the page from the log at `logURL` and `model`, and writes it atomically to `out`. Returns the data written.
    @discardableResult
    public static func write(logURL: URL, model: RobotModel, to out: URL, options: ViewerOptions = .init()) throws -> ViewerPageData {
        let data = try build(log: LogReader.read(url: logURL), model: model, options: options)
        try Data(try html(data).utf8).write(to: out, options: .atomic)
        return data
    }
}
