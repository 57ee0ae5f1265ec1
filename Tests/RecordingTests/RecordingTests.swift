import ControlCore
import Datasets
import Environments
import Foundation
import Physics
import Robots
import Testing
@testable import Recording

@Suite("Recording and replay")
struct RecordingTests {
    @Test("recording writes the log format; replaying it one step at a time reproduces a gentle arm motion")
    func recordAndReplay() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-env-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("arm.csv")
        let env = try ArmReachEnv(seed: 1)
        let recorder = try RolloutRecorder(url: url, env: env)
        // small torques: no joint reaches its velocity limit, so the logged mean effort is the applied torque
        final class Gentle: Policy {
            var rng = SeededRNG(seed: 9)
            func act(_ o: [Double], deterministic: Bool) -> [Double] { (0..<7).map { _ in 0.05 * rng.uniform(-1, 1) } }
        }
        let summary = try runEpisodes(env: env, policy: Gentle(), steps: 60, seed: 1, recorder: recorder)
        try recorder.close()
        #expect(summary.steps == 60)
        let table = try LogReader.read(url: url)
        #expect(table.rows == 60)
        #expect(table.hasColumn("joint_state.position.joint1") && table.hasColumn("action.joint7") && table.hasColumn("next.reward"))
        var options = ReplayOptions()
        options.resetEvery = 1
        options.settings.solver = .exact
        let result = try replayLog(model: env.simulation.model, table: table, options: options)
        #expect(result.predictedRows == 59)
        // not bit-exact: a restart places the bodies by forward kinematics from the logged joint state, while
        // the recorded simulation carried its small joint-constraint drift
        for e in result.positionRMSE { #expect(e < 1e-4) }
        for e in result.velocityRMSE { #expect(e < 5e-3) }
    }

    @Test("a replay of a log without a joint's columns names the missing column")
    func replayMissingColumn() throws {
        let model = try RobotModel(contentsOf: resolveResource("robots/pendulum.urdf"))
        let table = try LogTable(columns: ["timestamp", "joint_state.position.hinge"], values: [[0, 0.02], [0, 0]])
        #expect {
            _ = try replayLog(model: model, table: table)
        } throws: { error in
            "\(error)".contains("joint_state.velocity.hinge")
        }
    }
}
