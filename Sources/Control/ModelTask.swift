import ControlCore
import Datasets
import Dynamics
import Environments
import Foundation
import Robots

/// A task's cost in closed form on model states, the "known reward function" of PETS (Chua et al. 2018,
/// §4): a planner on a learned model predicts states and scores them with this, never with the simulator.
///
/// Rows are (rows × S) model states in the ensemble's own columns (`stateNames`, physical units, `Float`),
/// planner actions are normalized to [−1, 1] (rows × A, the environment's action order), and model actions
/// are what the ensemble was trained on (`actionNames`: the log's `action.<joint>` physical commands).
public protocol ModelTask: AnyObject {
    /// Model state columns the task reads (the ensemble's `stateNames`).
    var stateNames: [String] { get }
    /// Model action columns the task writes (the ensemble's `actionNames`).
    var actionNames: [String] { get }
    /// Planner action dimension A (the environment's normalized action space).
    var actionDimension: Int { get }

    /// The model's action inputs (rows × actionNames.count, physical units) for normalized planner actions
    /// taken in `states` — the environment's own command mapping, evaluated in closed form.
    func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>)

    /// Writes each row's step cost (−reward, plus any weighted safety cost) for the transition
    /// `states` → `next` under `actions` into `cost`, and sets `terminated[i] = 1` for a row whose
    /// `next` state ends the episode (a fall), else 0.
    func stepCost(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, next: UnsafePointer<Float>, rows: Int,
                  cost: UnsafeMutablePointer<Float>, terminated: UnsafeMutablePointer<UInt8>)

    /// Reads what the plan depends on besides the state from the live environment (the arm's target),
    /// before each plan.
    func update(from env: any RobotEnvironment)
}

extension ModelTask {
    /// The step cost of one transition (model columns, physical units; normalized action), by the same
    /// formula the planner uses; NaN when the shapes do not match.
    public func cost(state: [Double], action: [Double], next: [Double]) -> Double {
        guard state.count == stateNames.count, next.count == stateNames.count, action.count == actionDimension else { return .nan }
        let s = state.map(Float.init), n = next.map(Float.init), a = action.map(Float.init)
        var c: Float = 0
        var t: UInt8 = 0
        s.withUnsafeBufferPointer { sp in n.withUnsafeBufferPointer { np in a.withUnsafeBufferPointer { ap in
            stepCost(states: sp.baseAddress!, actions: ap.baseAddress!, next: np.baseAddress!, rows: 1, cost: &c, terminated: &t)
        } } }
        return Double(c)
    }
}

/// Why a task cannot be built on a model's columns.
public struct ModelTaskError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Reading the live state in model columns

extension RobotEnvironment {
    /// The current simulator state under the log format's column names (docs/LOG_FORMAT.md):
    /// `joint_state.position.<j>`, `joint_state.velocity.<j>`, the 13 `base.*` columns (floating base,
    /// world frame) and `observation.state.<k>` for `observation`.
    public func logStateValues(observation: [Double]) -> [String: Double] {
        let joints = simulation.model.jointNames
        let (q, qd) = simulation.jointState()
        var out: [String: Double] = [:]
        for (i, j) in joints.enumerated() {
            out[LogColumns.jointPosition(j)] = q[i]
            out[LogColumns.jointVelocity(j)] = qd[i]
        }
        if !simulation.fixedBase {
            let p = simulation.basePose
            let (v, w) = simulation.baseVelocity
            let values = p.position.array + p.orientation.array + v.array + w.array
            for (name, value) in zip(LogColumns.basePosition + LogColumns.baseOrientation + LogColumns.baseLinearVelocity
                                     + LogColumns.baseAngularVelocity, values) { out[name] = value }
        }
        for (k, v) in observation.enumerated() { out[LogColumns.observationState(k)] = v }
        return out
    }

    /// The current state in the given model columns.
    /// - Throws: `ModelTaskError` naming a column this environment cannot provide.
    public func modelState(names: [String], observation: [Double]) throws -> [Double] {
        let values = logStateValues(observation: observation)
        return try names.map { name in
            guard let v = values[name] else {
                throw ModelTaskError("the model's state column '\(name)' is not a state this environment logs (joint_state.*, base.*, observation.state.*)")
            }
            return v
        }
    }
}

/// Index of each name in `names` within `columns`, or a clear error naming the first missing one.
func indices(of names: [String], in columns: [String], what: String) throws -> [Int] {
    try names.map { n in
        guard let i = columns.firstIndex(of: n) else {
            throw ModelTaskError("the model has no \(what) column '\(n)' (it has: \(columns.joined(separator: ", ")))")
        }
        return i
    }
}

// MARK: - Arm reaching

/// `arm-reach` on model states: cost = ‖ee(q′) − target‖ + w_c Σ a², the negative of `ArmReachEnv`'s
/// reward, with the end effector from exact forward kinematics of the predicted joint positions (the robot's
/// geometry is known; only its dynamics are learned). Model actions reproduce the environment's commands:
/// torque mode τ = torqueScale · effort · a (+ the gravity-holding torque g(q) when enabled), position
/// mode q_target = clamp(home + a · half range).
public final class ArmReachModelTask: ModelTask {
    public let stateNames: [String], actionNames: [String]
    public let actionDimension: Int
    let config: ArmReachConfig
    let kinematics: BatchKinematics
    /// Model state index of each DOF's position; model action column of each DOF.
    let qIndex: [Int], actionColumnOfDOF: [Int]
    let efforts: [Float], home: [Float], low: [Float], high: [Float]
    /// Target position, world frame, m.
    public var target: (Float, Float, Float) = (0, 0, 0)
    /// Scratch: joint positions (rows × DOF) and kinematics outputs.
    private var qScratch: [Double] = [], eeScratch: [Double] = [], gScratch: [Double] = []

    /// - Throws: `ModelTaskError` when the model lacks a joint position or action column of the arm.
    public init(env: ArmReachEnv, stateNames: [String], actionNames: [String]) throws {
        self.stateNames = stateNames; self.actionNames = actionNames
        config = env.config
        let model = env.simulation.model
        let joints = model.jointNames
        actionDimension = joints.count
        kinematics = try BatchKinematics(model: model, base: env.simulation.basePoseAtBuild, endEffector: config.endEffector,
                                         gravity: env.simulation.world.settings.gravity)
        qIndex = try indices(of: joints.map(LogColumns.jointPosition), in: stateNames, what: "state")
        let cols = try indices(of: joints.map(LogColumns.action), in: actionNames, what: "action")
        guard actionNames.count == joints.count else {
            throw ModelTaskError("the model has \(actionNames.count) action columns, the arm \(joints.count) joints")
        }
        actionColumnOfDOF = cols
        efforts = model.actuatedJoints.map { Float(model.joints[$0].limit?.effort ?? 0) }
        home = config.homePose.map(Float.init)
        let ranges = model.actuatedJoints.map { model.joints[$0].range ?? (-Double.pi...Double.pi) }
        low = ranges.map { Float($0.lowerBound) }; high = ranges.map { Float($0.upperBound) }
    }

    public func update(from env: any RobotEnvironment) {
        if let arm = env as? ArmReachEnv { target = (Float(arm.target.x), Float(arm.target.y), Float(arm.target.z)) }
    }

    private func ensureScratch(_ rows: Int) {
        let n = qIndex.count
        if qScratch.count < rows * n { qScratch = .init(repeating: 0, count: rows * n); gScratch = qScratch }
        if eeScratch.count < rows * 3 { eeScratch = .init(repeating: 0, count: rows * 3) }
    }

    public func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let n = qIndex.count, S = stateNames.count, M = actionNames.count
        switch config.controlMode {
        case .torque:
            let scale = Float(config.torqueScale)
            if config.gravityCompensation {
                ensureScratch(rows)
                for r in 0..<rows { for i in 0..<n { qScratch[r * n + i] = Double(states[r * S + qIndex[i]]) } }
                qScratch.withUnsafeBufferPointer { q in gScratch.withUnsafeMutableBufferPointer { g in
                    kinematics.evaluate(q: q.baseAddress!, rows: rows, stride: n, endEffector: nil, gravityTorques: g.baseAddress!)
                } }
            }
            for r in 0..<rows {
                for i in 0..<n {
                    let a = max(-1, min(1, actions[r * n + i]))
                    var tau = scale * a * efforts[i]
                    if config.gravityCompensation { tau += Float(gScratch[r * n + i]) }
                    out[r * M + actionColumnOfDOF[i]] = tau
                }
            }
        case .position:
            for r in 0..<rows {
                for i in 0..<n {
                    let a = max(-1, min(1, actions[r * n + i]))
                    out[r * M + actionColumnOfDOF[i]] = min(max(home[i] + a * 0.5 * (high[i] - low[i]), low[i]), high[i])
                }
            }
        }
    }

    public func stepCost(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, next: UnsafePointer<Float>, rows: Int,
                         cost: UnsafeMutablePointer<Float>, terminated: UnsafeMutablePointer<UInt8>) {
        let n = qIndex.count, S = stateNames.count
        ensureScratch(rows)
        for r in 0..<rows { for i in 0..<n { qScratch[r * n + i] = Double(next[r * S + qIndex[i]]) } }
        qScratch.withUnsafeBufferPointer { q in eeScratch.withUnsafeMutableBufferPointer { e in
            kinematics.evaluate(q: q.baseAddress!, rows: rows, stride: n, endEffector: e.baseAddress!, gravityTorques: nil)
        } }
        let w = Float(config.controlCostWeight)
        for r in 0..<rows {
            let dx = Float(eeScratch[3 * r]) - target.0, dy = Float(eeScratch[3 * r + 1]) - target.1, dz = Float(eeScratch[3 * r + 2]) - target.2
            var c = (dx * dx + dy * dy + dz * dz).squareRoot()
            var aa: Float = 0
            for i in 0..<n { let a = actions[r * n + i]; aa += a * a }
            c += w * aa
            cost[r] = c
            terminated[r] = 0
        }
    }
}

// MARK: - Joint regulation (any fixed-base robot)

/// Drive every joint of a robot to a target configuration (`GenericRobotEnv`, torque control normalized
/// by effort limits): cost = Σ_j wrap(q′_j − q*_j)² + w_v Σ q̇′² + w_c Σ a². Angles are wrapped to (−π, π]
/// so a continuous joint is at its target however many turns it made. Used by the pendulum tests of PETS.
public final class JointRegulationTask: ModelTask {
    public let stateNames: [String], actionNames: [String]
    public let actionDimension: Int
    let qIndex: [Int], qdIndex: [Int], actionColumnOfDOF: [Int]
    let efforts: [Float]
    /// Target joint positions (rad or m), DOF order.
    public var targets: [Float]
    public var velocityWeight: Float, controlWeight: Float
    /// Success: every joint within this distance of its target (rad or m).
    public var successTolerance: Float

    public init(model: RobotModel, stateNames: [String], actionNames: [String], targets: [Double],
                velocityWeight: Double = 0.01, controlWeight: Double = 0.001, successTolerance: Double = 0.1) throws {
        self.stateNames = stateNames; self.actionNames = actionNames
        let joints = model.jointNames
        actionDimension = joints.count
        guard targets.count == joints.count else { throw ModelTaskError("\(targets.count) targets for \(joints.count) joints") }
        qIndex = try indices(of: joints.map(LogColumns.jointPosition), in: stateNames, what: "state")
        qdIndex = try indices(of: joints.map(LogColumns.jointVelocity), in: stateNames, what: "state")
        actionColumnOfDOF = try indices(of: joints.map(LogColumns.action), in: actionNames, what: "action")
        efforts = model.actuatedJoints.map { Float(model.joints[$0].limit?.effort ?? 1) }
        self.targets = targets.map(Float.init)
        self.velocityWeight = Float(velocityWeight); self.controlWeight = Float(controlWeight)
        self.successTolerance = Float(successTolerance)
    }

    public func update(from env: any RobotEnvironment) {}

    public func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let n = qIndex.count, M = actionNames.count
        for r in 0..<rows { for i in 0..<n { out[r * M + actionColumnOfDOF[i]] = max(-1, min(1, actions[r * n + i])) * efforts[i] } }
    }

    public func stepCost(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, next: UnsafePointer<Float>, rows: Int,
                         cost: UnsafeMutablePointer<Float>, terminated: UnsafeMutablePointer<UInt8>) {
        let n = qIndex.count, S = stateNames.count
        for r in 0..<rows {
            var c: Float = 0
            for i in 0..<n {
                let e = wrappedToPi(next[r * S + qIndex[i]] - targets[i]), v = next[r * S + qdIndex[i]], a = actions[r * n + i]
                c += e * e + velocityWeight * v * v + controlWeight * a * a
            }
            cost[r] = c
            terminated[r] = 0
        }
    }

    /// Cost of a real transition, by the same formula (for the returns PETS reports).
    public func cost(next q: [Double], velocities qd: [Double], action: [Double]) -> Double {
        var c = 0.0
        for i in 0..<q.count {
            let e = Double(wrappedToPi(Float(q[i]) - targets[i]))
            c += e * e + Double(velocityWeight) * qd[i] * qd[i] + Double(controlWeight) * action[i] * action[i]
        }
        return c
    }

    /// Whether every joint is within `successTolerance` of its target.
    public func reached(_ q: [Double]) -> Bool {
        (0..<q.count).allSatisfy { abs(wrappedToPi(Float(q[$0]) - targets[$0])) < successTolerance }
    }
}
