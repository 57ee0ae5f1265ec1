import ControlCore
import Foundation
import Physics
import Robots

/// Any URDF as an environment (`mbc simulate --robot file.urdf`): torque control normalized by each
/// joint's effort limit, observation = joint positions and velocities (+ base pose and twist, world frame,
/// for a floating base: position 3, quaternion w x y z 4, linear 3, angular 3). Reward and cost are 0: it
/// is for driving and recording a robot, not a task. Terminated only on simulator divergence.
public final class GenericRobotEnv: Env, @unchecked Sendable {
    public typealias Snapshot = RobotEnvSnapshot
    public let simulation: RobotSimulation
    public let observationSpace: BoxSpace
    public let actionSpace: BoxSpace
    public let controlTimeStep: Double
    public let maxEpisodeSteps: Int
    let substeps: Int
    let efforts: [Double]
    let startHeight: Double
    private var stepCount = 0
    private var lastTorques: [Double]

    /// - Parameters:
    ///   - base: `.automatic` welds a root link named `world`, else floats.
    ///   - startHeight: floating bases start this high (m) so nothing begins inside the ground.
    public init(model: RobotModel, base: BaseMode = .automatic, physicsTimeStep: Double = 0.002,
                controlFrequency: Double = 50, startHeight: Double = 0.5, maxEpisodeSteps: Int = 1000) throws {
        var settings = WorldSettings()
        settings.timeStep = physicsTimeStep
        simulation = try RobotSimulation(model: model, settings: settings, base: base,
                                         basePose: Pose(position: Vec3(0, 0, startHeight)))
        self.startHeight = startHeight
        self.maxEpisodeSteps = maxEpisodeSteps
        substeps = max(1, Int((1 / (controlFrequency * physicsTimeStep)).rounded()))
        controlTimeStep = Double(substeps) * physicsTimeStep
        efforts = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? 1 }
        let n = 2 * model.dof + (simulation.fixedBase ? 0 : 13)
        observationSpace = BoxSpace(dimension: n, bound: .infinity)
        actionSpace = BoxSpace(dimension: model.dof, bound: 1)
        lastTorques = Array(repeating: 0, count: model.dof)
        _ = reset(seed: 0)
    }

    public func reset(seed: UInt64?) -> [Double] {
        let q = simulation.model.actuatedJoints.map { k -> Double in
            guard let r = simulation.model.joints[k].range else { return 0 }
            return r.contains(0) ? 0 : 0.5 * (r.lowerBound + r.upperBound)
        }
        simulation.setState(basePose: Pose(position: Vec3(0, 0, startHeight)), q: q)
        stepCount = 0
        return observation()
    }

    /// Torques (N·m or N) for a normalized action.
    public func commands(for action: [Double]) -> [Double] { zip(action, efforts).map { max(-1, min(1, $0)) * $1 } }

    public func step(_ action: [Double]) -> StepResult {
        do {
            lastTorques = try simulation.step(commands: commands(for: action), substeps: substeps)
        } catch {
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false, endReason: "diverged: \(error)")
        }
        stepCount += 1
        let truncated = stepCount >= maxEpisodeSteps
        return StepResult(observation: observation(), reward: 0, terminated: false, truncated: truncated,
                          endReason: truncated ? "time_limit" : nil)
    }

    public func observation() -> [Double] {
        let (q, qd) = simulation.jointState()
        if simulation.fixedBase { return q + qd }
        let p = simulation.basePose
        let (v, w) = simulation.baseVelocity
        return q + qd + p.position.array + p.orientation.array + v.array + w.array
    }

    public var appliedTorques: [Double] { lastTorques }

    public func snapshot() -> RobotEnvSnapshot {
        RobotEnvSnapshot(physics: simulation.snapshot(), rng: SeededRNG(seed: 0), previousAction: [], stepCount: stepCount, target: .zero, done: false)
    }

    public func restore(_ s: RobotEnvSnapshot) { simulation.restore(s.physics); stepCount = s.stepCount }
}
