import ControlCore
import Datasets
import Dynamics
import Environments
import Foundation
import Physics
import Robots

/// A task's reward, safety cost and termination in closed form on model states, the "known reward function" of
/// PETS (Chua et al. 2018, §4): a planner on a learned model predicts states and scores them with this, never
/// with the simulator. Each implementation evaluates its environment task's own term functions
/// (`ArmReachTask.reward`, `QuadrupedWalkTask.terms`, …) on quantities read from the predicted rows.
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

    /// Writes each row's reward and safety cost (≥ 0) for the transition `states` → `next` under `actions`
    /// (the previous step's clamped actions in `previousActions`, rows × A), and sets `terminated[i] = 1` for a
    /// row whose `next` state ends the episode (a fall), else 0.
    func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                  next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                  terminated: UnsafeMutablePointer<UInt8>)

    /// Reads what the plan depends on besides the state from the live task (the arm's target), before each plan.
    func update()

    /// The live task's previous clamped action (A values; zeros for tasks that do not use it), read at `update()`.
    var previousAction: [Float] { get }
}

extension ModelTask {
    public func update() {}
    public var previousAction: [Float] { Array(repeating: 0, count: actionDimension) }

    /// The planning cost of one transition (model columns, physical units; normalized actions), by the same
    /// formula the planner uses: −reward + `safetyWeight` · cost. NaN when the shapes do not match.
    public func cost(state: [Double], action: [Double], next: [Double], previousAction: [Double]? = nil, safetyWeight: Double = 0) -> Double {
        guard state.count == stateNames.count, next.count == stateNames.count, action.count == actionDimension else { return .nan }
        let s = state.map(Float.init), n = next.map(Float.init), a = action.map(Float.init)
        let p = previousAction.map { $0.map(Float.init) } ?? self.previousAction
        guard p.count == actionDimension else { return .nan }
        var r: Float = 0, c: Float = 0
        var t: UInt8 = 0
        evaluate(states: s, actions: a, previousActions: p, next: n, rows: 1, reward: &r, cost: &c, terminated: &t)
        return Double(-r + Float(safetyWeight) * c)
    }
}

/// A model task that also gives the environment's policy observation of a model state: MBPO's branched
/// rollouts (Janner et al. 2019) run a policy trained on the environment's observations from predicted states.
/// Implementations call the environment task's own observation rule (`QuadrupedWalkTask.observation`, …).
public protocol ObservingModelTask: ModelTask {
    /// Observation width (the environment's `observationDimension`).
    var observationDimension: Int { get }
    /// Writes the observation of each row's state (rows × S, model columns) after the previous clamped action
    /// (rows × A, normalized) into `out` (rows × observationDimension).
    func observations(states: UnsafePointer<Float>, previousActions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>)
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

    /// The model columns of this environment's logs under the default transition spec (`TransitionSpec()`:
    /// joint positions and velocities, the base state of a floating base; `action.*`) — what PETS and MBPO learn on.
    public func defaultModelColumns() throws -> (state: [String], action: [String]) {
        let columns = LogColumns.standard(joints: simulation.model.jointNames, floatingBase: !simulation.fixedBase,
                                          observationDimension: observationSpace.dimension)
        return try TransitionSpec().resolve(in: LogTable(columns: columns, values: columns.map { _ in [] }))
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

/// `arm-reach` on model states: `ArmReachTask.reward` with the end effector from exact forward kinematics
/// of the predicted joint positions (the robot's geometry is known; only its dynamics are learned). Model
/// actions reproduce the task's commands (`ArmReachTask.torque` + the gravity-holding torque g(q) when
/// enabled, or `ArmReachTask.positionTarget`).
public final class ArmReachModelTask: ModelTask {
    public let stateNames: [String], actionNames: [String]
    public let actionDimension: Int
    /// The live task (its target is read at `update()`).
    public let task: ArmReachTask
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
    public init(task: ArmReachTask, stateNames: [String], actionNames: [String]) throws {
        self.stateNames = stateNames; self.actionNames = actionNames
        self.task = task
        config = task.config
        let model = task.simulation.model
        let joints = model.jointNames
        actionDimension = joints.count
        kinematics = try BatchKinematics(model: model, base: task.simulation.basePoseAtBuild, endEffector: config.endEffector,
                                         gravity: task.simulation.world.settings.gravity)
        qIndex = try indices(of: joints.map(LogColumns.jointPosition), in: stateNames, what: "state")
        let cols = try indices(of: joints.map(LogColumns.action), in: actionNames, what: "action")
        guard actionNames.count == joints.count else {
            throw ModelTaskError("the model has \(actionNames.count) action columns, the arm \(joints.count) joints")
        }
        actionColumnOfDOF = cols
        efforts = task.efforts.map(Float.init)
        home = config.homePose.map(Float.init)
        low = task.ranges.map { Float($0.lowerBound) }; high = task.ranges.map { Float($0.upperBound) }
        update()
    }

    /// The model task of `env`'s arm-reach task.
    public convenience init(env: ArmReachEnv, stateNames: [String], actionNames: [String]) throws {
        try self.init(task: env.task, stateNames: stateNames, actionNames: actionNames)
    }

    public func update() {
        target = (Float(task.target.x), Float(task.target.y), Float(task.target.z))
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
                    var tau = ArmReachTask.torque(action: a, effort: efforts[i], torqueScale: scale)
                    if config.gravityCompensation { tau += Float(gScratch[r * n + i]) }
                    out[r * M + actionColumnOfDOF[i]] = tau
                }
            }
        case .position:
            for r in 0..<rows {
                for i in 0..<n {
                    let a = max(-1, min(1, actions[r * n + i]))
                    out[r * M + actionColumnOfDOF[i]] = ArmReachTask.positionTarget(home: home[i], action: a, low: low[i], high: high[i])
                }
            }
        }
    }

    public func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                         next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                         terminated: UnsafeMutablePointer<UInt8>) {
        let n = qIndex.count, S = stateNames.count
        ensureScratch(rows)
        for r in 0..<rows { for i in 0..<n { qScratch[r * n + i] = Double(next[r * S + qIndex[i]]) } }
        qScratch.withUnsafeBufferPointer { q in eeScratch.withUnsafeMutableBufferPointer { e in
            kinematics.evaluate(q: q.baseAddress!, rows: rows, stride: n, endEffector: e.baseAddress!, gravityTorques: nil)
        } }
        let w = Float(config.controlCostWeight)
        for r in 0..<rows {
            let dx = Float(eeScratch[3 * r]) - target.0, dy = Float(eeScratch[3 * r + 1]) - target.1, dz = Float(eeScratch[3 * r + 2]) - target.2
            var aa: Float = 0
            for i in 0..<n { let a = actions[r * n + i]; aa += a * a }
            reward[r] = ArmReachTask.reward(distance: (dx * dx + dy * dy + dz * dz).squareRoot(), actionSquaredNorm: aa, controlCostWeight: w)
            cost[r] = 0
            terminated[r] = 0
        }
    }
}

// MARK: - Quadruped walking

/// `quadruped-walk` on model states: `QuadrupedWalkTask.terms` (reward, the Ha et al. 2020 pitch/roll safety
/// cost, the fall) evaluated on the predicted base state (`base.*`: pose, linear and angular velocity, world
/// frame) and joint velocities, so learned-model MPC and MBPO score predicted states by the environment's
/// own rule. Two quantities are not in a model state and come from closed forms instead:
/// - ground contact of the trunk, hips and thighs: `QuadrupedWalkTask.fallLinkTouchesGround` (their collision
///   shapes posed by forward kinematics of the predicted base pose and joints, reaching z = 0), where the
///   environment reads the simulator's contacts (see `QuadrupedWalkTask` for where the two differ);
/// - the joint torques of the step: the PD law the servos run, τ = clamp(kp (target − q) − kd q̇, ±effort),
///   averaged between the state before and after the step (the environment measures the mean over its
///   substeps; the difference is bounded in the tests);
/// Model actions are the joint targets `QuadrupedWalkTask.jointTarget`.
public final class QuadrupedWalkModelTask: ObservingModelTask {
    public let stateNames: [String], actionNames: [String]
    public let actionDimension = 12
    /// The live task (its previous action is read at `update()`).
    public let task: QuadrupedWalkTask
    let config: QuadrupedWalkConfig
    let model: RobotModel
    let qIndex: [Int], qdIndex: [Int], actionColumnOfDOF: [Int]
    /// Model state indices of base position (3), orientation w x y z (4), linear (3) and angular (3) velocity.
    let baseIndex: [Int]
    let standing: [Double], efforts: [Double]
    public private(set) var previousAction: [Float] = Array(repeating: 0, count: 12)
    /// When set (rows × 12, N·m), used as the step's torques instead of the PD estimate (tests compare the
    /// terms with the environment's on its measured torques).
    public var measuredTorques: UnsafePointer<Float>?

    /// - Throws: `ModelTaskError` when the model lacks a joint, base or action column of the quadruped.
    public init(task: QuadrupedWalkTask, stateNames: [String], actionNames: [String]) throws {
        self.stateNames = stateNames; self.actionNames = actionNames
        self.task = task
        config = task.config
        let model = task.simulation.model
        self.model = model
        let joints = model.jointNames
        qIndex = try indices(of: joints.map(LogColumns.jointPosition), in: stateNames, what: "state")
        qdIndex = try indices(of: joints.map(LogColumns.jointVelocity), in: stateNames, what: "state")
        baseIndex = try indices(of: LogColumns.basePosition + LogColumns.baseOrientation + LogColumns.baseLinearVelocity
                                + LogColumns.baseAngularVelocity, in: stateNames, what: "state")
        guard actionNames.count == joints.count else {
            throw ModelTaskError("the model has \(actionNames.count) action columns, the quadruped \(joints.count) joints")
        }
        actionColumnOfDOF = try indices(of: joints.map(LogColumns.action), in: actionNames, what: "action")
        standing = task.standing
        efforts = model.actuatedJoints.map { model.joints[$0].limit?.effort ?? .infinity }
        update()
    }

    public func update() { previousAction = task.previousAction.map(Float.init) }

    public func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let M = actionNames.count
        for r in 0..<rows {
            for i in 0..<12 {
                out[r * M + actionColumnOfDOF[i]] = Float(QuadrupedWalkTask.jointTarget(standing: standing[i], action: Double(actions[r * 12 + i]),
                                                                                         actionScale: config.actionScale))
            }
        }
    }

    public var observationDimension: Int { task.observationDimension }

    public func observations(states: UnsafePointer<Float>, previousActions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let S = stateNames.count, D = observationDimension
        for r in 0..<rows {
            let s = states + r * S, p = previousActions + r * 12
            func base(_ k: Int) -> Double { Double(s[baseIndex[k]]) }
            let obs = QuadrupedWalkTask.observation(height: base(2), orientation: Quat(w: base(3), x: base(4), y: base(5), z: base(6)).normalized,
                                                    linearVelocity: Vec3(base(7), base(8), base(9)), angularVelocity: Vec3(base(10), base(11), base(12)),
                                                    joints: 12, q: { Double(s[self.qIndex[$0]]) }, qd: { Double(s[self.qdIndex[$0]]) },
                                                    standing: standing, previousAction: { Double(p[$0]) })
            for k in 0..<D { out[r * D + k] = Float(obs[k]) }
        }
    }

    /// PD torque of joint i at (q, q̇) towards `target`, clamped to the effort limit.
    @inline(__always) func servoTorque(_ i: Int, target: Double, q: Double, qd: Double) -> Double {
        max(-efforts[i], min(efforts[i], config.kp * (target - q) - config.kd * qd))
    }

    public func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                         next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                         terminated: UnsafeMutablePointer<UInt8>) {
        let S = stateNames.count
        var q = [Double](repeating: 0, count: 12), torque = [Double](repeating: 0, count: 12)
        var frames: [Pose] = []
        for r in 0..<rows {
            let s = states + r * S, n = next + r * S, a = actions + r * 12, p = previousActions + r * 12
            func base(_ k: Int) -> Double { Double(n[baseIndex[k]]) }
            let orientation = Quat(w: base(3), x: base(4), y: base(5), z: base(6)).normalized
            for i in 0..<12 {
                q[i] = Double(n[qIndex[i]])
                if let measured = measuredTorques {
                    torque[i] = Double(measured[r * 12 + i])
                } else {
                    let target = QuadrupedWalkTask.jointTarget(standing: standing[i], action: Double(a[i]), actionScale: config.actionScale)
                    torque[i] = 0.5 * (servoTorque(i, target: target, q: Double(s[qIndex[i]]), qd: Double(s[qdIndex[i]]))
                                       + servoTorque(i, target: target, q: q[i], qd: Double(n[qdIndex[i]])))
                }
            }
            let touches = task.fallLinkTouchesGround(base: Pose(position: Vec3(base(0), base(1), base(2)), orientation: orientation), q: q, frames: &frames)
            let t = QuadrupedWalkTask.terms(config: config, orientation: orientation, height: base(2),
                                            linearVelocity: Vec3(base(7), base(8), base(9)), angularVelocity: Vec3(base(10), base(11), base(12)),
                                            joints: 12, torque: { torque[$0] }, jointVelocity: { Double(n[self.qdIndex[$0]]) },
                                            action: { Double(a[$0]) }, previousAction: { Double(p[$0]) }, fallLinkTouchesGround: touches)
            reward[r] = Float(t.reward)
            cost[r] = Float(t.cost)
            terminated[r] = t.fell ? 1 : 0
        }
    }
}

// MARK: - Pendulum swing-up

/// `pendulum-swingup` on model states (`joint_state.position.<hinge>`, `joint_state.velocity.<hinge>`):
/// `PendulumSwingUpTask.reward` and `.observation` on the predicted hinge state; the model action is the
/// hinge torque `PendulumSwingUpTask.torque` (N·m). No cost, no termination.
public final class PendulumSwingUpModelTask: ObservingModelTask {
    public let stateNames: [String], actionNames: [String]
    public let actionDimension = 1
    public let observationDimension = 3
    let config: PendulumSwingUpConfig
    let qIndex: Int, qdIndex: Int

    /// - Throws: `ModelTaskError` when the model lacks the hinge's position, velocity or action column.
    public init(task: PendulumSwingUpTask, stateNames: [String], actionNames: [String]) throws {
        self.stateNames = stateNames; self.actionNames = actionNames
        config = task.config
        let joint = task.simulation.model.jointNames[0]
        qIndex = try indices(of: [LogColumns.jointPosition(joint)], in: stateNames, what: "state")[0]
        qdIndex = try indices(of: [LogColumns.jointVelocity(joint)], in: stateNames, what: "state")[0]
        guard actionNames == [LogColumns.action(joint)] else {
            throw ModelTaskError("the model's action columns \(actionNames) are not the pendulum's [\(LogColumns.action(joint))]")
        }
    }

    public func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { out[r] = Float(PendulumSwingUpTask.torque(action: Double(actions[r]), maxTorque: config.maxTorque)) }
    }

    public func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                         next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                         terminated: UnsafeMutablePointer<UInt8>) {
        let S = stateNames.count
        for r in 0..<rows {
            let tau = PendulumSwingUpTask.torque(action: Double(actions[r]), maxTorque: config.maxTorque)
            reward[r] = Float(PendulumSwingUpTask.reward(q: Double(next[r * S + qIndex]), qd: Double(next[r * S + qdIndex]), torque: tau, config: config))
            cost[r] = 0
            terminated[r] = 0
        }
    }

    public func observations(states: UnsafePointer<Float>, previousActions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let S = stateNames.count
        for r in 0..<rows {
            let o = PendulumSwingUpTask.observation(q: Double(states[r * S + qIndex]), qd: Double(states[r * S + qdIndex]))
            for k in 0..<3 { out[r * 3 + k] = Float(o[k]) }
        }
    }
}

// MARK: - Joint regulation (any fixed-base robot)

/// Drive every joint of a robot to a target configuration (`GenericRobotEnv`, torque control normalized
/// by effort limits): reward = −(Σ_j wrap(q′_j − q*_j)² + w_v Σ q̇′² + w_c Σ a²). Angles are wrapped to
/// (−π, π] so a continuous joint is at its target however many turns it made. Used by the pendulum tests of PETS.
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

    public func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let n = qIndex.count, M = actionNames.count
        for r in 0..<rows { for i in 0..<n { out[r * M + actionColumnOfDOF[i]] = max(-1, min(1, actions[r * n + i])) * efforts[i] } }
    }

    public func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                         next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                         terminated: UnsafeMutablePointer<UInt8>) {
        let n = qIndex.count, S = stateNames.count
        for r in 0..<rows {
            var c: Float = 0
            for i in 0..<n {
                let e = wrappedToPi(next[r * S + qIndex[i]] - targets[i]), v = next[r * S + qdIndex[i]], a = actions[r * n + i]
                c += e * e + velocityWeight * v * v + controlWeight * a * a
            }
            reward[r] = -c
            cost[r] = 0
            terminated[r] = 0
        }
    }

    /// Whether every joint is within `successTolerance` of its target.
    public func reached(_ q: [Double]) -> Bool {
        (0..<q.count).allSatisfy { abs(wrappedToPi(Float(q[$0]) - targets[$0])) < successTolerance }
    }
}

// MARK: - Tasks that have a closed form

/// An environment task with a closed-form model version (what `mpc --model`, PETS and MBPO plan and score with).
public protocol ModelTaskProviding: RobotTask {
    /// The task on a model's state and action columns.
    /// - Throws: `ModelTaskError` naming a column the model lacks.
    func modelTask(stateNames: [String], actionNames: [String]) throws -> any ModelTask
    /// What a model trained on this task's logs must record about its data (e.g. the arm's control mode,
    /// which decides what `action.<joint>` means).
    var modelProvenance: [String: String] { get }
}

extension ArmReachTask: ModelTaskProviding {
    public func modelTask(stateNames: [String], actionNames: [String]) throws -> any ModelTask {
        try ArmReachModelTask(task: self, stateNames: stateNames, actionNames: actionNames)
    }
    public var modelProvenance: [String: String] { ["env": EnvironmentKind.armReach.rawValue, "arm.controlMode": config.controlMode.rawValue] }
}

extension QuadrupedWalkTask: ModelTaskProviding {
    public func modelTask(stateNames: [String], actionNames: [String]) throws -> any ModelTask {
        try QuadrupedWalkModelTask(task: self, stateNames: stateNames, actionNames: actionNames)
    }
    public var modelProvenance: [String: String] { ["env": EnvironmentKind.quadrupedWalk.rawValue] }
}

extension PendulumSwingUpTask: ModelTaskProviding {
    public func modelTask(stateNames: [String], actionNames: [String]) throws -> any ModelTask {
        try PendulumSwingUpModelTask(task: self, stateNames: stateNames, actionNames: actionNames)
    }
    public var modelProvenance: [String: String] { ["env": EnvironmentKind.pendulumSwingUp.rawValue] }
}
