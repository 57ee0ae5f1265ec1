// Offline-RL datasets in the D4RL layout, stored as NumPy `.npz` archives.

import Foundation

/// An offline reinforcement-learning dataset with D4RL's array names, loaded from an `.npz` archive.
///
/// Arrays (N rows; S observation and A action dimensions; any dtype `NPYArray` reads, converted to `Double`):
/// `observations` (N × S), `actions` (N × A), `rewards` (N) and `terminals` (N, 1 when the step reached a
/// terminal state) are required; `timeouts` (N, 1 when a time limit cut the episode after the step) and
/// `next_observations` (N × S) are optional. 1-D `observations`, `next_observations` or `actions` are one
/// column; `rewards`, `terminals` and `timeouts` may be N × 1. Other arrays (`infos/…`) are ignored. Units are
/// those of the environment that produced the data. Values must be finite, flags 0 or 1.
///
/// Episodes end after each row whose terminal or timeout flag is set (and at the last row); without
/// `timeouts` an episode cut by a time limit runs into the next. With `next_observations` every row is a
/// transition; without it the next observation of row i is row i + 1 of the same episode, and the last row
/// of each episode is dropped with its flags (`rows` maps transitions to file rows).
///
/// Stored row-major, like `Dynamics.TransitionDataset`: transition i is `observations[i*S ..< (i+1)*S]`,
/// `actions[i*A ..< (i+1)*A]`, `nextObservations[i*S ..< (i+1)*S]`.
public struct D4RLDataset: Sendable, Equatable {
    /// Array names of the D4RL layout.
    public enum ArrayName {
        /// The array names.
        public static let observations = "observations", actions = "actions", nextObservations = "next_observations",
                          rewards = "rewards", terminals = "terminals", timeouts = "timeouts"
        /// The arrays a dataset must have.
        public static let required = [observations, actions, rewards, terminals]
        /// Every array a dataset reads.
        public static let all: Set<String> = [observations, actions, nextObservations, rewards, terminals, timeouts]
    }

    /// Path of the file the dataset was read from, or nil for one built in memory.
    public var source: String?
    /// Number of transitions; S, values per observation; A, values per action.
    public let count: Int, observationDimension: Int, actionDimension: Int
    /// Row-major values: observations and next observations `count × S`, actions `count × A`.
    public let observations: [Double], actions: [Double], nextObservations: [Double]
    /// Reward of each transition.
    public let rewards: [Double]
    /// Whether each transition reached a terminal state; ended its episode by a time limit (all false without
    /// a `timeouts` array).
    public let terminals: [Bool], timeouts: [Bool]
    /// 0-based episode (counted in file order) and 0-based file row of each transition.
    public let episodes: [Int], rows: [Int]
    /// Number of rows in the file's arrays (≥ `count`).
    public let fileRows: Int
    /// Whether the file had a `timeouts` array; whether `nextObservations` were derived from consecutive rows.
    public let hasTimeouts: Bool, nextObservationsDerived: Bool

    /// Reads a D4RL-style `.npz` file (stored or deflate-compressed entries).
    /// - Throws: `DataFormatError` naming the file and the array: `.missingArray` (listing the arrays present),
    ///   `.shapeMismatch` (with both arrays' shapes), `.nonFinite` (with the first bad index), `.invalidValue`,
    ///   `.empty`, plus the archive and NPY errors of `NPZReader.read(url:)`.
    public static func read(url: URL) throws -> D4RLDataset {
        try checkRequired(present: NPZReader.arrayNames(url: url), file: url.path)
        return try D4RLDataset(arrays: NPZReader.read(url: url, only: ArrayName.all), source: url.path)
    }

    /// Builds and validates a dataset from arrays by D4RL name (others are ignored), as `read(url:)` does;
    /// `source` names them in errors (nil: `<arrays>`).
    public init(arrays: [String: NPYArray], source: String? = nil) throws {
        let file = source ?? "<arrays>"
        try Self.checkRequired(present: Array(arrays.keys), file: file)
        func fail(_ kind: DataFormatError.Kind, _ array: String?, at index: Int? = nil, _ message: String) -> DataFormatError {
            DataFormatError(kind: kind, file: file, array: array, index: index, message: message)
        }
        func shape(_ name: String) -> String { NPYArray.describe(arrays[name]!.shape) }
        /// (rows, columns) of a matrix, a vector being one column; for `vector`, a column is required.
        func size(_ name: String, vector: Bool = false) throws -> (rows: Int, columns: Int) {
            let dimensions = arrays[name]!.shape
            if dimensions.count == 1 || (dimensions.count == 2 && (!vector || dimensions[1] == 1)) {
                return (dimensions[0], dimensions.count == 2 ? dimensions[1] : 1)
            }
            let expected = vector ? "(N,) or (N, 1)" : "(N, \(name == ArrayName.actions ? "A" : "S")) or (N,)"
            throw fail(.shapeMismatch, name, "has shape \(shape(name)); expected \(expected)")
        }
        let (n, s) = try size(ArrayName.observations), a = try size(ArrayName.actions).columns
        let reference = "'\(ArrayName.observations)' has shape \(shape(ArrayName.observations))"
        for name in [ArrayName.actions, ArrayName.rewards, ArrayName.terminals, ArrayName.timeouts] where arrays[name] != nil {
            if try size(name, vector: name != ArrayName.actions).rows != n {
                throw fail(.shapeMismatch, name, "'\(name)' has shape \(shape(name)) but \(reference): the first dimensions (rows) must match")
            }
        }
        if arrays[ArrayName.nextObservations] != nil, try size(ArrayName.nextObservations) != (n, s) {
            throw fail(.shapeMismatch, ArrayName.nextObservations, "'\(ArrayName.nextObservations)' has shape "
                       + "\(shape(ArrayName.nextObservations)) but \(reference): the shapes must be equal")
        }
        if n == 0 { throw fail(.empty, nil, "the arrays have no rows") }

        func finite(_ name: String, columns: Int = 1) throws -> [Double]? {
            guard let array = arrays[name] else { return nil }
            let values = array.doubles()
            if array.dtype.isFloatingPoint, let bad = values.firstIndex(where: { !$0.isFinite }) {
                let place = columns == 1 && array.shape.count < 2 ? "row \(bad)" : "row \(bad / columns), column \(bad % columns)"
                throw fail(.nonFinite, name, at: bad, "\(values[bad].isNaN ? "NaN" : "\(values[bad])") at \(place); values must be finite")
            }
            return values
        }
        func flags(_ name: String) throws -> [Bool]? {
            guard let values = try finite(name) else { return nil }
            if let bad = values.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw fail(.invalidValue, name, at: bad, "\(values[bad]) at row \(bad); flags must be 0 or 1")
            }
            return values.map { $0 == 1 }
        }
        let allObservations = try finite(ArrayName.observations, columns: s)!, allActions = try finite(ArrayName.actions, columns: a)!
        let allNext = try finite(ArrayName.nextObservations, columns: s), allRewards = try finite(ArrayName.rewards)!
        let allTerminals = try flags(ArrayName.terminals)!, allTimeouts = try flags(ArrayName.timeouts) ?? Array(repeating: false, count: n)

        var episodeOfRow = [Int](repeating: 0, count: n)
        for row in 1..<max(n, 1) {
            episodeOfRow[row] = episodeOfRow[row - 1] + (allTerminals[row - 1] || allTimeouts[row - 1] ? 1 : 0)
        }
        let kept = allNext != nil ? Array(0..<n) : (0..<(n - 1)).filter { episodeOfRow[$0 + 1] == episodeOfRow[$0] }
        if kept.isEmpty {
            throw fail(.empty, ArrayName.nextObservations, "no transitions: '\(ArrayName.nextObservations)' is absent and no row "
                       + "has a successor in its episode (\(n) rows)")
        }
        let everyRow = kept.count == n
        func pick<T>(_ values: [T], _ width: Int = 1, shift: Int = 0) -> [T] {
            everyRow && shift == 0 ? values : kept.flatMap { values[(($0 + shift) * width)..<(($0 + shift + 1) * width)] }
        }
        (self.source, count, observationDimension, actionDimension, fileRows) = (source, kept.count, s, a, n)
        (observations, actions, nextObservations) = (pick(allObservations, s), pick(allActions, a), allNext ?? pick(allObservations, s, shift: 1))
        (rewards, terminals, timeouts, episodes, rows) = (pick(allRewards), pick(allTerminals), pick(allTimeouts), pick(episodeOfRow), kept)
        (hasTimeouts, nextObservationsDerived) = (arrays[ArrayName.timeouts] != nil, allNext == nil)
    }

    private static func checkRequired(present: [String], file: String) throws {
        for name in ArrayName.required where !present.contains(name) {
            let listing = present.isEmpty ? "the archive holds no arrays" : "arrays present: " + present.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw DataFormatError(kind: .missingArray, file: file, array: name, message: "required array is missing"
                                  + DataFormatError.suggestionSuffix(for: name, in: present) + " (\(listing))")
        }
    }

    /// Observation of transition `i` (`observationDimension` values). - Precondition: `0 <= i < count`.
    public func observation(_ i: Int) -> ArraySlice<Double> { observations[(i * observationDimension)..<((i + 1) * observationDimension)] }

    /// Action of transition `i` (`actionDimension` values). - Precondition: `0 <= i < count`.
    public func action(_ i: Int) -> ArraySlice<Double> { actions[(i * actionDimension)..<((i + 1) * actionDimension)] }

    /// Next observation of transition `i` (`observationDimension` values). - Precondition: `0 <= i < count`.
    public func nextObservation(_ i: Int) -> ArraySlice<Double> {
        nextObservations[(i * observationDimension)..<((i + 1) * observationDimension)]
    }

    /// Transition indices of each episode, in order: maximal runs of equal `episodes` values.
    public func episodeRanges() -> [Range<Int>] {
        let starts = (0..<count).filter { $0 == 0 || episodes[$0] != episodes[$0 - 1] }
        return zip(starts, starts.dropFirst() + [count]).map { $0..<$1 }
    }

    /// Datasets are equal when every stored property but `source` is equal; values compare bit for bit.
    public static func == (lhs: D4RLDataset, rhs: D4RLDataset) -> Bool {
        func values(_ d: D4RLDataset) -> [[UInt64]] { [d.observations, d.actions, d.nextObservations, d.rewards].map { $0.map(\.bitPattern) } }
        func sizes(_ d: D4RLDataset) -> [Int] { [d.count, d.observationDimension, d.actionDimension, d.fileRows] }
        return values(lhs) == values(rhs) && sizes(lhs) == sizes(rhs) && [lhs.terminals, lhs.timeouts] == [rhs.terminals, rhs.timeouts]
            && [lhs.episodes, lhs.rows] == [rhs.episodes, rhs.rows]
            && (lhs.hasTimeouts, lhs.nextObservationsDerived) == (rhs.hasTimeouts, rhs.nextObservationsDerived)
    }
}
