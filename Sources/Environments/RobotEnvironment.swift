import ControlCore
import Foundation
import Physics
import Robots

/// An `Env` backed by a robot simulation, so rollouts can be recorded in the log format and replayed.
public protocol RobotEnvironment: Env where Snapshot == RobotEnvSnapshot {
    var simulation: RobotSimulation { get }
    /// Mean torques applied during the last step, N·m or N, DOF order.
    var appliedTorques: [Double] { get }
    /// The physical command sent to the joints for a normalized action: torques (N·m, N) for torque
    /// control, targets (rad, m) for position control. This is what the log's `action.<joint>` holds.
    func commands(for action: [Double]) -> [Double]
}

extension QuadrupedWalkEnv: RobotEnvironment {
    public func commands(for action: [Double]) -> [Double] { jointTargets(for: action) }
}
extension ArmReachEnv: RobotEnvironment {}
extension GenericRobotEnv: RobotEnvironment {}

/// The built-in environments, by their command-line names.
public enum EnvironmentKind: String, CaseIterable, Codable, Sendable {
    case quadrupedWalk = "quadruped-walk"
    case armReach = "arm-reach"

    /// Builds the environment with its default configuration.
    public func make(seed: UInt64 = 0) throws -> any RobotEnvironment {
        switch self {
        case .quadrupedWalk: return try QuadrupedWalkEnv(seed: seed)
        case .armReach: return try ArmReachEnv(seed: seed)
        }
    }
}

/// N environments stepped in parallel with Dispatch, one ODE world per environment (ODE's threading rule).
/// Results are identical to stepping the environments one by one (each world has its own random stream).
public final class VectorEnv<E: Env>: @unchecked Sendable {
    public let envs: [E]
    /// Worker threads (≤ envs.count); 1 steps sequentially.
    public let workers: Int

    public init(_ envs: [E], workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(!envs.isEmpty)
        self.envs = envs
        self.workers = max(1, min(workers, envs.count))
    }

    public var count: Int { envs.count }

    /// Resets every environment, environment i with seed `seed + i`.
    public func reset(seed: UInt64) -> [[Double]] {
        var out = [[Double]](repeating: [], count: envs.count)
        out.withUnsafeMutableBufferPointer { buf in run { i in buf[i] = self.envs[i].reset(seed: seed &+ UInt64(i)) } }
        return out
    }

    /// Steps environment i with `actions[i]`. Environments that are done are not reset here.
    public func step(_ actions: [[Double]]) -> [StepResult] {
        precondition(actions.count == envs.count)
        var out = [StepResult?](repeating: nil, count: envs.count)
        out.withUnsafeMutableBufferPointer { buf in run { i in buf[i] = self.envs[i].step(actions[i]) } }
        return out.map { $0! }
    }

    private func run(_ body: (Int) -> Void) {
        if workers == 1 { for i in envs.indices { body(i) }; return }
        let n = envs.count, w = workers
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                var i = worker
                while i < n { box.value(i); i += w }
            }
        }
    }
}

/// Carries a non-Sendable value into a concurrent closure whose accesses are partitioned by index.
struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
