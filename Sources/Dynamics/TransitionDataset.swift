// Transitions (s, a, s') for fitting dynamics models, from CSV logs (Datasets.LogTable) or D4RL arrays.

import Datasets
import Foundation

/// Which log columns make the state and the action of a dynamics dataset.
///
/// Defaults (when `state`/`action` are empty): state = every `joint_state.position.*` then every
/// `joint_state.velocity.*` (sorted by name, so the column order of the file does not matter), plus the 13 `base.*` columns when the log has them (floating
/// base: position, orientation w x y z, linear and angular velocity, world frame); action = every
/// `action.*` column (sorted by name).
public struct TransitionSpec: Codable, Sendable, Hashable {
    /// State column names, or empty for the default.
    public var state: [String] = []
    /// Action column names, or empty for the default.
    public var action: [String] = []
    public init(state: [String] = [], action: [String] = []) { self.state = state; self.action = action }

    /// The state and action columns this spec selects from `table`.
    /// - Throws: `DataFormatError` naming a missing column, or saying that no state/action column was found.
    public func resolve(in table: LogTable) throws -> (state: [String], action: [String]) {
        let file = table.source ?? "<log>"
        var s = state
        if s.isEmpty {
            s = table.columns(withPrefix: "joint_state.position.").sorted() + table.columns(withPrefix: "joint_state.velocity.").sorted()
            let base = ["base.position.x", "base.position.y", "base.position.z",
                        "base.orientation.w", "base.orientation.x", "base.orientation.y", "base.orientation.z",
                        "base.linear_velocity.x", "base.linear_velocity.y", "base.linear_velocity.z",
                        "base.angular_velocity.x", "base.angular_velocity.y", "base.angular_velocity.z"]
            if base.allSatisfy(table.hasColumn) { s += base }
        }
        var a = action
        if a.isEmpty { a = table.columns(withPrefix: "action.").sorted() }
        if s.isEmpty { throw DataFormatError(kind: .missingColumn, file: file, column: "joint_state.position.*", message: "no state columns (joint_state.position.* / joint_state.velocity.*) in the log") }
        if a.isEmpty { throw DataFormatError(kind: .missingColumn, file: file, column: "action.*", message: "no action columns (action.*) in the log") }
        for c in s + a where !table.hasColumn(c) { _ = try table.column(c) }  // throws naming the column
        return (s, a)
    }
}

/// Transitions (s, a, s') from logged episodes, row-major `Double` arrays.
///
/// Row i of a log and row i + 1 of the same episode make one transition; the last row of each episode has
/// no successor and contributes none.
public struct TransitionDataset: Sendable {
    /// Column names of the state and action vectors.
    public var stateNames: [String]
    public var actionNames: [String]
    /// (count × stateDimension), (count × actionDimension), (count × stateDimension).
    public var states: [Double]
    public var actions: [Double]
    public var nextStates: [Double]
    /// Episode of each transition (from `episode_index`, 0 when absent).
    public var episodes: [Int]
    /// The log row (0-based) of each transition's state.
    public var rows: [Int]

    public var count: Int { episodes.count }
    public var stateDimension: Int { stateNames.count }
    public var actionDimension: Int { actionNames.count }

    /// Builds transitions from a loaded log.
    /// - Throws: `DataFormatError` for missing columns or when the log holds no transition (every episode one row).
    public init(table: LogTable, spec: TransitionSpec = TransitionSpec()) throws {
        let (s, a) = try spec.resolve(in: table)
        stateNames = s; actionNames = a
        let sc = try s.map { try table.column($0) }
        let ac = try a.map { try table.column($0) }
        let ep = table.hasColumn("episode_index") ? try table.column("episode_index").map { Int($0) } : Array(repeating: 0, count: table.rows)
        states = []; actions = []; nextStates = []; episodes = []; rows = []
        states.reserveCapacity(table.rows * s.count); nextStates.reserveCapacity(table.rows * s.count)
        actions.reserveCapacity(table.rows * a.count)
        for r in 0..<max(0, table.rows - 1) where ep[r] == ep[r + 1] {
            for c in sc { states.append(c[r]) }
            for c in ac { actions.append(c[r]) }
            for c in sc { nextStates.append(c[r + 1]) }
            episodes.append(ep[r]); rows.append(r)
        }
        if episodes.isEmpty {
            throw DataFormatError(kind: .shortEpisode, file: table.source ?? "<log>", message: "no transitions: every episode has a single row")
        }
    }

    /// Builds from arrays (e.g. a D4RL file). Shapes: states and nextStates (count × S), actions (count × A).
    public init(stateNames: [String], actionNames: [String], states: [Double], actions: [Double],
                nextStates: [Double], episodes: [Int]) {
        self.stateNames = stateNames; self.actionNames = actionNames
        self.states = states; self.actions = actions; self.nextStates = nextStates
        self.episodes = episodes; self.rows = Array(0..<episodes.count)
    }

    /// The transitions whose index is in `indices`, in that order.
    public func subset(_ indices: [Int]) -> TransitionDataset {
        let S = stateDimension, A = actionDimension
        var out = self
        out.states = []; out.actions = []; out.nextStates = []; out.episodes = []; out.rows = []
        for i in indices {
            out.states += states[(i * S)..<((i + 1) * S)]
            out.actions += actions[(i * A)..<((i + 1) * A)]
            out.nextStates += nextStates[(i * S)..<((i + 1) * S)]
            out.episodes.append(episodes[i]); out.rows.append(rows[i])
        }
        return out
    }

    /// Splits by episode (whole episodes go to one side): the last `holdoutFraction` of the distinct
    /// episodes, in a seeded random order, form the holdout set. With a single episode, its last
    /// `holdoutFraction` of transitions are held out instead.
    public func splitByEpisode(holdoutFraction: Double, seed: UInt64) -> (train: TransitionDataset, holdout: TransitionDataset) {
        var ids = Array(Set(episodes)).sorted()
        if ids.count < 2 {
            let n = count, h = max(1, Int((Double(n) * holdoutFraction).rounded()))
            return (subset(Array(0..<(n - h))), subset(Array((n - h)..<n)))
        }
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        for i in stride(from: ids.count - 1, to: 0, by: -1) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            ids.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
        }
        let holdCount = min(ids.count - 1, max(1, Int((Double(ids.count) * holdoutFraction).rounded())))
        let hold = Set(ids.suffix(holdCount))
        let train = (0..<count).filter { !hold.contains(episodes[$0]) }
        let held = (0..<count).filter { hold.contains(episodes[$0]) }
        return (subset(train), subset(held))
    }
}
