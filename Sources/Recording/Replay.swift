import ControlCore
import Datasets
import Foundation
import Physics
import Robots

/// Open-loop replay of a log on a robot: drive the joints with the logged torques, held over each row's
/// interval, starting from the logged state and restarting from it every `resetEvery` rows (and at each
/// episode start). Compares the simulated joint positions and velocities with the log.
public struct ReplayOptions: Sendable {
    /// Rows between restarts from the logged state (1 = one-step prediction).
    public var resetEvery: Int = 100
    /// Where the torques come from: `effort` (`joint_state.effort.*`), `action` (`action.*`), or `automatic`
    /// (effort when present, else action).
    public var torqueSource: TorqueSource = .automatic
    public var settings = WorldSettings()
    /// `.automatic`: floating when the log has `base.*` columns, else fixed.
    public var base: BaseMode = .automatic
    public enum TorqueSource: String, Sendable, CaseIterable { case automatic, effort, action }
    public init() {}
}

/// Per-joint error of a replay.
public struct ReplayResult: Sendable {
    /// Joint names in DOF order.
    public var joints: [String]
    /// RMSE of joint positions (rad or m) and velocities (rad/s or m/s) over every predicted row.
    public var positionRMSE: [Double]
    public var velocityRMSE: [Double]
    public var rows: Int
    public var predictedRows: Int
    public var resets: Int
    public var torqueColumns: String
}

/// Replays `table` (read from a log) on `model`, optionally recording the simulated rollout.
/// - Throws: `DataFormatError` for missing columns or bad timestamps (naming the column/row), `SimulationError`
///   when the simulation diverges.
public func replayLog(model: RobotModel, table: LogTable, options: ReplayOptions = ReplayOptions(),
                      record: URL? = nil) throws -> ReplayResult {
    let joints = model.jointNames
    let source = table.source ?? "<log>"
    func need(_ name: String) throws -> [Double] { try table.column(name) }
    let q = try joints.map { try need(LogColumns.jointPosition($0)) }
    let qd = try joints.map { try need(LogColumns.jointVelocity($0)) }
    let useEffort: Bool
    switch options.torqueSource {
    case .effort: useEffort = true
    case .action: useEffort = false
    case .automatic: useEffort = joints.allSatisfy { table.hasColumn(LogColumns.jointEffort($0)) }
    }
    let tau = try joints.map { try need(useEffort ? LogColumns.jointEffort($0) : LogColumns.action($0)) }
    let time = try need(LogColumns.timestamp)
    let episode = table.hasColumn(LogColumns.episodeIndex) ? try need(LogColumns.episodeIndex) : Array(repeating: 0, count: table.rows)
    // automatic base: floating when the log has base columns (LOG_FORMAT.md writes them for floating bases only)
    let base: BaseMode = options.base != .automatic ? options.base
        : (table.hasColumn(LogColumns.basePosition[0]) ? .floating : (model.urdf.rootLink == "world" ? .automatic : .fixed))
    let sim = try RobotSimulation(model: model, settings: options.settings, base: base)
    let floating = !sim.fixedBase
    var baseCols: [[Double]] = []
    if floating {
        let names = LogColumns.basePosition + LogColumns.baseOrientation + LogColumns.baseLinearVelocity + LogColumns.baseAngularVelocity
        baseCols = try names.map { try need($0) }
    }
    let dt = options.settings.timeStep
    let n = joints.count
    var sumQ = [Double](repeating: 0, count: n), sumQd = [Double](repeating: 0, count: n)
    var predicted = 0, resets = 0
    let recorder = try record.map { try LogWriter(url: $0, columns: LogColumns.standard(joints: joints, floatingBase: floating, observationDimension: 0)) }
    func setLogged(_ r: Int) {
        let base = floating ? Pose(position: Vec3(baseCols[0][r], baseCols[1][r], baseCols[2][r]),
                                   orientation: Quat(w: baseCols[3][r], x: baseCols[4][r], y: baseCols[5][r], z: baseCols[6][r])) : nil
        sim.setState(basePose: base,
                     baseLinearVelocity: floating ? Vec3(baseCols[7][r], baseCols[8][r], baseCols[9][r]) : .zero,
                     baseAngularVelocity: floating ? Vec3(baseCols[10][r], baseCols[11][r], baseCols[12][r]) : .zero,
                     q: (0..<n).map { q[$0][r] }, qd: (0..<n).map { qd[$0][r] })
    }
    var sinceReset = 0
    for r in 0..<table.rows {
        let newEpisode = r == 0 || episode[r] != episode[r - 1]
        if !newEpisode {
            // the simulator has been driven from the previous row: compare its prediction with row r
            let (sq, sqd) = sim.jointState()
            for j in 0..<n {
                sumQ[j] += pow(sq[j] - q[j][r], 2); sumQd[j] += pow(sqd[j] - qd[j][r], 2)
            }
            predicted += 1
        }
        if newEpisode || sinceReset >= options.resetEvery {
            setLogged(r); sinceReset = 0; resets += 1
        }
        let (sq, sqd) = sim.jointState()
        let torques = (0..<n).map { tau[$0][r] }
        // hold the torques over this row's interval (the next row's timestamp, or the previous interval)
        var interval = r + 1 < table.rows && episode[r + 1] == episode[r] ? time[r + 1] - time[r] : (r > 0 ? time[r] - time[r - 1] : dt)
        if !(interval > 0) {
            throw DataFormatError(kind: .nonMonotonicTimestamp, file: source, row: r + 2, column: LogColumns.timestamp,
                           message: "timestamp does not increase after row \(r + 1)")
        }
        interval = max(interval, dt)
        let substeps = max(1, Int((interval / dt).rounded()))
        if let recorder {
            var row = [episode[r], Double(r), time[r]] + sq + sqd + torques
            if floating {
                let p = sim.basePose, (v, w) = sim.baseVelocity
                row += p.position.array + p.orientation.array + v.array + w.array
            }
            row += torques + [0, 0, 0]
            try recorder.append(row)
        }
        try sim.step(commands: torques, substeps: substeps)
        sinceReset += 1
    }
    try recorder?.close()
    let denom = Double(max(predicted, 1))
    return ReplayResult(joints: joints, positionRMSE: sumQ.map { ($0 / denom).squareRoot() },
                        velocityRMSE: sumQd.map { ($0 / denom).squareRoot() }, rows: table.rows,
                        predictedRows: predicted, resets: resets, torqueColumns: useEffort ? "joint_state.effort" : "action")
}
