import ControlCore
import Foundation
import Physics
import Robots

/// Any URDF as a task (`mbc simulate --robot file.urdf`): for driving and recording a robot, not a task
/// with a goal.
///
/// Observation: joint positions and velocities (DOF order) + for a floating base its pose and twist
/// (world frame: position 3, quaternion w x y z 4, linear 3, angular 3).
/// Action (DOF, in [-1, 1], clamped): torque = a · the joint's URDF effort limit (1 where it has none).
/// Terms: reward 0, safety cost 0. Termination: none (only simulator divergence ends an episode early);
/// truncated after `maxEpisodeSteps`. Reset: every joint at 0, or the middle of its range when 0 is outside
/// it; a floating base at `startHeight`. Task state: none.
public final class GenericRobotTask: RobotTask, @unchecked Sendable {
    public typealias State = Void
    public let simulation: RobotSimulation
    public let substeps: Int
    public let observationDimension: Int
    public var actionDimension: Int { simulation.model.dof }
    public let maxEpisodeSteps: Int
    /// Effort limit of each DOF (N·m or N).
    public let efforts: [Double]
    /// Height (m) at which a floating base starts, so nothing begins inside the ground.
    public let startHeight: Double
    public var state: Void = ()

    /// - Parameters:
    ///   - base: `.automatic` welds a root link named `world`, else floats.
    ///   - startHeight: floating bases start this high (m).
    public init(model: RobotModel, base: BaseMode = .automatic, physicsTimeStep: Double = 0.002,
                controlFrequency: Double = 50, startHeight: Double = 0.5, maxEpisodeSteps: Int = 1000) throws {
        var settings = WorldSettings()
        settings.timeStep = physicsTimeStep
        simulation = try RobotSimulation(model: model, settings: settings, base: base,
                                         basePose: Pose(position: Vec3(0, 0, startHeight)))
        self.startHeight = startHeight
        self.maxEpisodeSteps = maxEpisodeSteps
        substeps = substepCount(controlFrequency: controlFrequency, physicsTimeStep: physicsTimeStep)
        efforts = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? 1 }
        observationDimension = 2 * model.dof + (simulation.fixedBase ? 0 : 13)
    }

    public func reset(rng: inout SeededRNG) {
        let q = simulation.model.actuatedJoints.map { k -> Double in
            guard let r = simulation.model.joints[k].range else { return 0 }
            return r.contains(0) ? 0 : 0.5 * (r.lowerBound + r.upperBound)
        }
        simulation.setState(basePose: Pose(position: Vec3(0, 0, startHeight)), q: q)
    }

    /// Torques (N·m or N) for a normalized action.
    public func commands(for action: [Double]) -> [Double] { zip(action, efforts).map { max(-1, min(1, $0)) * $1 } }

    public func evaluate(action: [Double], appliedTorques: [Double]) -> TaskOutcome { TaskOutcome(reward: 0) }

    public func observation() -> [Double] {
        let (q, qd) = simulation.jointState()
        if simulation.fixedBase { return q + qd }
        let p = simulation.basePose
        let (v, w) = simulation.baseVelocity
        return q + qd + p.position.array + p.orientation.array + v.array + w.array
    }
}

/// Any URDF as an environment.
public typealias GenericRobotEnv = RobotEnv<GenericRobotTask>

extension RobotEnv where Task == GenericRobotTask {
    /// Builds the generic task on `model` and starts an episode.
    public convenience init(model: RobotModel, base: BaseMode = .automatic, physicsTimeStep: Double = 0.002,
                            controlFrequency: Double = 50, startHeight: Double = 0.5, maxEpisodeSteps: Int = 1000) throws {
        self.init(task: try GenericRobotTask(model: model, base: base, physicsTimeStep: physicsTimeStep, controlFrequency: controlFrequency,
                                             startHeight: startHeight, maxEpisodeSteps: maxEpisodeSteps), seed: 0)
    }
}
