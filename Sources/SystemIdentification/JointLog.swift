// JointLog.swift: the joint signals of a fixed-base robot's log (docs/LOG_FORMAT.md), checked against its URDF.

import ControlCore
import Datasets
import Foundation
import Robots

/// Joint positions, velocities (when logged) and torques of each episode of a log, in the robot's DOF order.
///
/// Columns read: `timestamp`, `joint_state.position.<joint>`, `joint_state.velocity.<joint>` (optional: else
/// differentiated), and the torque `joint_state.effort.<joint>` (else `action.<joint>`, the command of a
/// torque-controlled joint). Episodes follow `episode_index` when present.
public struct JointLog: Sendable {
    public struct Episode: Sendable {
        /// Sampling interval, s (uniform).
        public var dt: Double
        /// [joint][sample].
        public var q: [[Double]]
        public var qd: [[Double]]?
        public var tau: [[Double]]
        public var count: Int { q.first?.count ?? 0 }
        public init(dt: Double, q: [[Double]], qd: [[Double]]?, tau: [[Double]]) {
            self.dt = dt; self.q = q; self.qd = qd; self.tau = tau
        }
    }
    public var episodes: [Episode]
    /// The file it came from.
    public var source: String
    /// Which column held the torques: `joint_state.effort` or `action`.
    public var torqueColumns: String

    public init(episodes: [Episode], source: String, torqueColumns: String) {
        self.episodes = episodes; self.source = source; self.torqueColumns = torqueColumns
    }

    public var duration: Double { episodes.reduce(0) { $0 + Double($1.count) * $1.dt } }

    /// Reads `url` for `model`'s joints.
    /// - Throws: `SystemIdentificationError.invalidInput` naming the file and what is wrong: a joint of the URDF
    ///   without a position or torque column, a logged joint the URDF does not have, irregular or non-increasing
    ///   timestamps (with the row), NaN/Inf values (with the row and column); `DataFormatError` for a malformed CSV.
    public static func read(url: URL, model: RobotModel) throws -> JointLog {
        let table = try LogReader.read(url: url)
        return try JointLog(table: table, model: model, source: url.path)
    }

    public init(table: LogTable, model: RobotModel, source: String) throws {
        self.source = source
        let joints = try loggedJoints(table, model: model, source: source)
        let missing = joints.filter { !table.hasColumn(LogColumns.jointPosition($0)) }
        guard missing.isEmpty else {
            throw SystemIdentificationError.invalidInput("\(source): no column \(missing.map(LogColumns.jointPosition).joined(separator: ", ")) for the URDF's joints")
        }
        let useEffort = joints.allSatisfy { table.hasColumn(LogColumns.jointEffort($0)) }
        guard useEffort || joints.allSatisfy({ table.hasColumn(LogColumns.action($0)) }) else {
            throw SystemIdentificationError.invalidInput("\(source): no joint torques: needs joint_state.effort.<joint> (or action.<joint> for torque-controlled joints) for every joint of the URDF")
        }
        torqueColumns = useEffort ? "joint_state.effort" : "action"
        guard table.hasColumn(LogColumns.timestamp) else {
            throw SystemIdentificationError.invalidInput("\(source): no '\(LogColumns.timestamp)' column")
        }
        let hasVelocity = joints.allSatisfy { table.hasColumn(LogColumns.jointVelocity($0)) }
        let torqueColumn = useEffort ? LogColumns.jointEffort : LogColumns.action
        let read = try finiteColumns(table, [LogColumns.timestamp] + joints.map(LogColumns.jointPosition) + joints.map(torqueColumn)
                                     + (hasVelocity ? joints.map(LogColumns.jointVelocity) : []), source: source)
        let time = read[LogColumns.timestamp]!
        let positions = joints.map { read[LogColumns.jointPosition($0)]! }
        let velocities = hasVelocity ? joints.map { read[LogColumns.jointVelocity($0)]! } : nil
        let torques = joints.map { read[torqueColumn($0)]! }
        episodes = try uniformEpisodes(table, time: time, source: source).map { range, dt in
            Episode(dt: dt, q: positions.map { Array($0[range]) }, qd: velocities?.map { Array($0[range]) },
                           tau: torques.map { Array($0[range]) })
        }
    }
}

/// The URDF's joint names, after checking that the log names no joint the URDF lacks.
func loggedJoints(_ table: LogTable, model: RobotModel, source: String) throws -> [String] {
    let joints = model.jointNames
    let logged = Set(table.columns(withPrefix: "joint_state.position.").map { String($0.dropFirst("joint_state.position.".count)) })
    let unknown = logged.subtracting(joints).sorted()
    guard unknown.isEmpty else {
        throw SystemIdentificationError.invalidInput("\(source): joints \(unknown.joined(separator: ", ")) are logged but not in \(model.name)'s URDF (its joints: \(joints.joined(separator: ", ")))")
    }
    return joints
}

/// Each episode's rows (`episode_index`, else the whole table) and its sampling interval, s: at least 3 rows,
/// increasing timestamps, intervals within 1 % of the median (else the line is named).
func uniformEpisodes(_ table: LogTable, time: [Double], source: String) throws -> [(Range<Int>, Double)] {
    let ranges = table.hasColumn(LogColumns.episodeIndex) ? table.episodeRanges() : [0..<table.rows]
    return try ranges.map { range in
        guard range.count >= 3 else {
            throw SystemIdentificationError.invalidInput("\(source): an episode starting at line \(range.lowerBound + 2) has \(range.count) rows")
        }
        let steps = zip(time[range].dropFirst(), time[range]).map { $0 - $1 }
        let dt = steps.sorted()[steps.count / 2]
        guard dt > 0 else {
            throw SystemIdentificationError.invalidInput("\(source): timestamps do not increase (episode starting at line \(range.lowerBound + 2))")
        }
        if let k = steps.firstIndex(where: { abs($0 - dt) > 0.01 * dt }) {
            throw SystemIdentificationError.invalidInput("\(source): line \(range.lowerBound + k + 3): the sampling interval \(steps[k]) s differs from the log's \(dt) s; resample the log to a uniform rate")
        }
        return (range, dt)
    }
}

/// The named columns of a log, after checking that every value is finite (else the line and column are named: a
/// table read by `LogReader` has been checked already, one built in memory has not).
func finiteColumns(_ table: LogTable, _ names: [String], source: String) throws -> [String: [Double]] {
    var out: [String: [Double]] = [:]
    for name in names {
        let column = try table.column(name)
        if let r = column.firstIndex(where: { !$0.isFinite }) {
            throw SystemIdentificationError.invalidInput("\(source): line \(r + 2): \(name) is \(column[r])")
        }
        out[name] = column
    }
    return out
}
