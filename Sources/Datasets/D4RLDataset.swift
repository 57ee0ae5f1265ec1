// Offline-RL datasets in the D4RL layout, stored as NumPy `.npz` archives.

import Foundation

/// An offline reinforcement-learning dataset with D4RL's array names, loaded from an `.npz` archive.
///
/// Arrays (N rows; S observation and A action dimensions; any dtype `NPYArray` reads, converted to `Double`):
/// - `observations` (N × S), required;
/// - `actions` (N × A), required;
/// - `rewards` (N), required;
/// - `terminals` (N), required: 1/true when the step reached a terminal state;
/// - `timeouts` (N), optional: 1/true when the episode was cut off by a time limit after the step;
/// - `next_observations` (N × S), optional.
///
/// A 1-D `observations`, `next_observations` or `actions` array is read as one column; `rewards`,
/// `terminals` and `timeouts` may also be N × 1. Other arrays in the archive (`infos/…`, …) are ignored.
/// Units are those of the environment that produced the data. Every value must be finite, flags must be 0
/// or 1.
///
/// Episodes end after each row whose terminal or timeout flag is set (and at the last row). Without a
/// `timeouts` array only terminals split episodes, so an episode cut by a time limit runs into the next.
/// When `next_observations` is present every row is a transition. When it is absent, the next observation
/// of row i is row i + 1 of the same episode, and the last row of each episode, which has no successor in
/// the file, is dropped (with its flags): `rows` maps each transition to its row in the file.
///
/// Stored row-major, like `Dynamics.TransitionDataset`: the values of transition i are
/// `observations[i*S ..< (i+1)*S]`, `actions[i*A ..< (i+1)*A]`, `nextObservations[i*S ..< (i+1)*S]`.
public struct D4RLDataset: Sendable, Equatable {
    /// Array names of the D4RL layout.
    public enum ArrayName {
        /// `observations`, N × S.
        public static let observations = "observations"
        /// `actions`, N × A.
        public static let actions = "actions"
        /// `next_observations`, N × S (optional).
        public static let nextObservations = "next_observations"
        /// `rewards`, N.
        public static let rewards = "rewards"
        /// `terminals`, N.
        public static let terminals = "terminals"
        /// `timeouts`, N (optional).
        public static let timeouts = "timeouts"
        /// The arrays a dataset must have.
        public static let required = [observations, actions, rewards, terminals]
        /// Every array the dataset reads.
        public static let all: Set<String> = [observations, actions, nextObservations, rewards, terminals, timeouts]
    }

    /// Path of the file the dataset was read from, or nil for one built in memory.
    public var source: String?
    /// Number of transitions.
    public let count: Int
    /// S: values per observation.
    public let observationDimension: Int
    /// A: values per action.
    public let actionDimension: Int
    /// Observations, row-major, `count × observationDimension`.
    public let observations: [Double]
    /// Actions, row-major, `count × actionDimension`.
    public let actions: [Double]
    /// Next observations, row-major, `count × observationDimension`.
    public let nextObservations: [Double]
    /// Reward of each transition.
    public let rewards: [Double]
    /// Whether each transition reached a terminal state.
    public let terminals: [Bool]
    /// Whether each transition ended its episode by a time limit (all false without a `timeouts` array).
    public let timeouts: [Bool]
    /// 0-based episode of each transition, counted in file order.
    public let episodes: [Int]
    /// 0-based row in the file of each transition.
    public let rows: [Int]
    /// Number of rows in the file's arrays (≥ `count`).
    public let fileRows: Int
    /// Whether the file had a `timeouts` array.
    public let hasTimeouts: Bool
    /// Whether `nextObservations` were derived from consecutive rows (the file had no `next_observations`).
    public let nextObservationsDerived: Bool

    // MARK: - Reading

    /// Reads a D4RL-style `.npz` file (stored or deflate-compressed entries).
    /// - Throws: `DataFormatError` naming the file and the array: `.missingArray` (listing the arrays present),
    ///   `.shapeMismatch` (with both arrays' shapes), `.nonFinite` (with the first bad index), `.invalidValue`,
    ///   `.empty`, plus the archive and NPY errors of `NPZReader.read(url:)`.
    public static func read(url: URL) throws -> D4RLDataset {
        let names = try NPZReader.arrayNames(url: url)
        try checkRequired(present: names, file: url.path)
        let arrays = try NPZReader.read(url: url, only: ArrayName.all)
        return try D4RLDataset(arrays: arrays, source: url.path)
    }

    /// Builds and validates a dataset from named arrays (e.g. the result of `NPZReader.read(url:)`).
    /// - Parameters:
    ///   - arrays: arrays by D4RL name; others are ignored.
    ///   - source: file name used in errors and stored in `source` (nil: `<arrays>` in errors).
    /// - Throws: `DataFormatError` as `read(url:)`.
    public init(arrays: [String: NPYArray], source: String? = nil) throws {
        let file = source ?? "<arrays>"
        try Self.checkRequired(present: Array(arrays.keys), file: file)
        func fail(_ kind: DataFormatError.Kind, _ array: String?, at index: Int? = nil, _ message: String) -> DataFormatError {
            DataFormatError(kind: kind, file: file, array: array, index: index, message: message)
        }
        let observationArray = arrays[ArrayName.observations]!
        let actionArray = arrays[ArrayName.actions]!
        let rewardArray = arrays[ArrayName.rewards]!
        let terminalArray = arrays[ArrayName.terminals]!
        let timeoutArray = arrays[ArrayName.timeouts]
        let nextArray = arrays[ArrayName.nextObservations]

        // Shapes.
        func matrix(_ name: String, _ array: NPYArray, _ what: String) throws -> (rows: Int, columns: Int) {
            switch array.shape.count {
            case 2: return (array.shape[0], array.shape[1])
            case 1: return (array.shape[0], 1)
            default:
                throw fail(.shapeMismatch, name, "has shape \(NPYArray.describe(array.shape)); expected (N, \(what)) "
                           + "or (N,)")
            }
        }
        func vector(_ name: String, _ array: NPYArray) throws -> Int {
            if array.shape.count == 1 { return array.shape[0] }
            if array.shape.count == 2 && array.shape[1] == 1 { return array.shape[0] }
            throw fail(.shapeMismatch, name, "has shape \(NPYArray.describe(array.shape)); expected (N,) or (N, 1)")
        }
        let (n, s) = try matrix(ArrayName.observations, observationArray, "S")
        let reference = "'\(ArrayName.observations)' has shape \(NPYArray.describe(observationArray.shape))"
        func sameRows(_ name: String, _ array: NPYArray, _ rows: Int) throws {
            if rows != n {
                throw fail(.shapeMismatch, name, "'\(name)' has shape \(NPYArray.describe(array.shape)) but "
                           + "\(reference): the first dimensions (rows) must match")
            }
        }
        let (actionRows, a) = try matrix(ArrayName.actions, actionArray, "A")
        try sameRows(ArrayName.actions, actionArray, actionRows)
        try sameRows(ArrayName.rewards, rewardArray, try vector(ArrayName.rewards, rewardArray))
        try sameRows(ArrayName.terminals, terminalArray, try vector(ArrayName.terminals, terminalArray))
        if let timeoutArray {
            try sameRows(ArrayName.timeouts, timeoutArray, try vector(ArrayName.timeouts, timeoutArray))
        }
        if let nextArray {
            let (nextRows, nextColumns) = try matrix(ArrayName.nextObservations, nextArray, "S")
            if nextRows != n || nextColumns != s {
                throw fail(.shapeMismatch, ArrayName.nextObservations, "'\(ArrayName.nextObservations)' has shape "
                           + "\(NPYArray.describe(nextArray.shape)) but \(reference): the shapes must be equal")
            }
        }
        if n == 0 { throw fail(.empty, nil, "the arrays have no rows") }

        // Values.
        func finite(_ name: String, _ array: NPYArray, columns: Int) throws -> [Double] {
            let values = array.doubles()
            if array.dtype.isFloatingPoint, let bad = values.firstIndex(where: { !$0.isFinite }) {
                let what = values[bad].isNaN ? "NaN" : "\(values[bad])"
                let place = columns == 1 && array.shape.count < 2
                    ? "row \(bad)" : "row \(bad / columns), column \(bad % columns)"
                throw fail(.nonFinite, name, at: bad, "\(what) at \(place); values must be finite")
            }
            return values
        }
        func flags(_ name: String, _ array: NPYArray) throws -> [Bool] {
            let values = try finite(name, array, columns: 1)
            if let bad = values.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw fail(.invalidValue, name, at: bad, "\(values[bad]) at row \(bad); flags must be 0 or 1")
            }
            return values.map { $0 == 1 }
        }
        let allObservations = try finite(ArrayName.observations, observationArray, columns: s)
        let allActions = try finite(ArrayName.actions, actionArray, columns: a)
        let allNext = try nextArray.map { try finite(ArrayName.nextObservations, $0, columns: s) }
        let allRewards = try finite(ArrayName.rewards, rewardArray, columns: 1)
        let allTerminals = try flags(ArrayName.terminals, terminalArray)
        let allTimeouts = try timeoutArray.map { try flags(ArrayName.timeouts, $0) } ?? [Bool](repeating: false, count: n)

        // Episodes and transitions.
        var episodeOfRow = [Int](repeating: 0, count: n)
        var episode = 0
        for row in 0..<n {
            episodeOfRow[row] = episode
            if allTerminals[row] || allTimeouts[row] { episode += 1 }
        }
        let kept: [Int]
        if allNext != nil {
            kept = Array(0..<n)
        } else {
            kept = (0..<n).filter { $0 + 1 < n && episodeOfRow[$0 + 1] == episodeOfRow[$0] }
            if kept.isEmpty {
                throw fail(.empty, ArrayName.nextObservations, "no transitions: '\(ArrayName.nextObservations)' is "
                           + "absent and no row has a successor in its episode (\(n) rows)")
            }
        }

        var observations: [Double], actions: [Double], nextObservations: [Double]
        if let allNext {
            (observations, actions, nextObservations) = (allObservations, allActions, allNext)
        } else {
            // Copy each run of consecutive kept rows (an episode less its last row) in one piece.
            observations = []; actions = []; nextObservations = []
            observations.reserveCapacity(kept.count * s)
            nextObservations.reserveCapacity(kept.count * s)
            actions.reserveCapacity(kept.count * a)
            var runStart = 0
            while runStart < kept.count {
                var runEnd = runStart + 1
                while runEnd < kept.count && kept[runEnd] == kept[runEnd - 1] + 1 { runEnd += 1 }
                let first = kept[runStart], last = kept[runEnd - 1]
                observations.append(contentsOf: allObservations[(first * s)..<((last + 1) * s)])
                nextObservations.append(contentsOf: allObservations[((first + 1) * s)..<((last + 2) * s)])
                actions.append(contentsOf: allActions[(first * a)..<((last + 1) * a)])
                runStart = runEnd
            }
        }
        self.source = source
        self.count = kept.count
        self.observationDimension = s
        self.actionDimension = a
        self.observations = observations
        self.actions = actions
        self.nextObservations = nextObservations
        let everyRow = kept.count == n
        self.rewards = everyRow ? allRewards : kept.map { allRewards[$0] }
        self.terminals = everyRow ? allTerminals : kept.map { allTerminals[$0] }
        self.timeouts = everyRow ? allTimeouts : kept.map { allTimeouts[$0] }
        self.episodes = everyRow ? episodeOfRow : kept.map { episodeOfRow[$0] }
        self.rows = kept
        self.fileRows = n
        self.hasTimeouts = timeoutArray != nil
        self.nextObservationsDerived = allNext == nil
    }

    private static func checkRequired(present: [String], file: String) throws {
        for name in ArrayName.required where !present.contains(name) {
            let listing = present.isEmpty ? "the archive holds no arrays"
                : "arrays present: " + present.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw DataFormatError(kind: .missingArray, file: file, array: name,
                           message: "required array is missing" + DataFormatError.suggestionSuffix(for: name, in: present)
                           + " (\(listing))")
        }
    }

    // MARK: - Access

    /// Observation of transition `i` (`observationDimension` values).
    /// - Precondition: `0 <= i < count`.
    public func observation(_ i: Int) -> ArraySlice<Double> {
        precondition(i >= 0 && i < count, "D4RLDataset.observation: \(i) is out of 0..<\(count)")
        return observations[(i * observationDimension)..<((i + 1) * observationDimension)]
    }

    /// Action of transition `i` (`actionDimension` values).
    /// - Precondition: `0 <= i < count`.
    public func action(_ i: Int) -> ArraySlice<Double> {
        precondition(i >= 0 && i < count, "D4RLDataset.action: \(i) is out of 0..<\(count)")
        return actions[(i * actionDimension)..<((i + 1) * actionDimension)]
    }

    /// Next observation of transition `i` (`observationDimension` values).
    /// - Precondition: `0 <= i < count`.
    public func nextObservation(_ i: Int) -> ArraySlice<Double> {
        precondition(i >= 0 && i < count, "D4RLDataset.nextObservation: \(i) is out of 0..<\(count)")
        return nextObservations[(i * observationDimension)..<((i + 1) * observationDimension)]
    }

    /// Transition indices of each episode, in order: maximal runs of equal `episodes` values.
    public func episodeRanges() -> [Range<Int>] {
        guard count > 0 else { return [] }
        var ranges: [Range<Int>] = []
        var start = 0
        for i in 1..<count where episodes[i] != episodes[i - 1] {
            ranges.append(start..<i)
            start = i
        }
        ranges.append(start..<count)
        return ranges
    }

    /// Datasets are equal when every stored property but `source` is equal; values compare bit for bit.
    public static func == (lhs: D4RLDataset, rhs: D4RLDataset) -> Bool {
        func same(_ a: [Double], _ b: [Double]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
        }
        return lhs.count == rhs.count && lhs.observationDimension == rhs.observationDimension
            && lhs.actionDimension == rhs.actionDimension && same(lhs.observations, rhs.observations)
            && same(lhs.actions, rhs.actions) && same(lhs.nextObservations, rhs.nextObservations)
            && same(lhs.rewards, rhs.rewards) && lhs.terminals == rhs.terminals && lhs.timeouts == rhs.timeouts
            && lhs.episodes == rhs.episodes && lhs.rows == rhs.rows && lhs.fileRows == rhs.fileRows
            && lhs.hasTimeouts == rhs.hasTimeouts && lhs.nextObservationsDerived == rhs.nextObservationsDerived
    }
}
