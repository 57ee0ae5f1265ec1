import ControlCore
import Datasets
import Environments
import Foundation
import Physics
import Robots

/// Writes a robot environment's rollout in the log format (`docs/LOG_FORMAT.md`): row i holds the state at
/// the start of control step i, the effort applied during it (mean over its physics substeps), the command
/// sent (`action.<joint>`: torque or position target), the observation, and the step's reward/cost/done.
public final class RolloutRecorder: StepRecorder {
    public let writer: LogWriter
    let joints: [String]
    let floating: Bool
    let observationDimension: Int

    /// Opens `url` for writing (atomically: the file appears on `close()`).
    public init<E: RobotEnvironment>(url: URL, env: E) throws {
        joints = env.simulation.model.jointNames
        floating = !env.simulation.fixedBase
        observationDimension = env.observationSpace.dimension
        writer = try LogWriter(url: url, columns: LogColumns.standard(joints: joints, floatingBase: floating,
                                                                      observationDimension: observationDimension))
    }

    /// Appends one row.
    public func record(episode: Int, frame: Int, state: StepFrame, effort: [Double], command: [Double], result: StepResult) throws {
        var row: [Double] = [Double(episode), Double(frame), state.time]
        row += state.q; row += state.qd; row += effort
        if floating {
            row += state.base.position.array + state.base.orientation.array + state.linear.array + state.angular.array
        }
        row += command
        row += state.observation
        row += [result.reward, result.cost, result.done ? 1 : 0]
        try writer.append(row)
    }

    /// Finishes the file (temporary file renamed over the destination).
    public func close() throws { try writer.close() }
}
