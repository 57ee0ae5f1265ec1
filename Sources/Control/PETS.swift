import ControlCore
import Datasets
import Dynamics
import Environments
import Foundation
import Planning
import Recording

/// Settings of a PETS run (`mbc pets [--config configs/pets-arm.yaml]`); the defaults are the acceptance run
/// and every one is written out in configs/pets-arm.yaml.
///
/// The loop is Chua et al. 2018, Algorithm 1: collect `randomEpisodes` with uniform random actions, then
/// for each iteration fit the probabilistic ensemble to all data so far (continuing from the previous
/// weights, as mbrl-lib does), run one MPC episode on the learned model (CEM over TS-∞ particles), and
/// append that episode to the data. Ranges: `PETSConfig+Ranges.swift`.
public struct PETSConfig: Codable, Sendable {
    /// Environment: `arm-reach` (its settings in `arm`) or `quadruped-walk` (its settings in `quadruped`).
    public var env: EnvironmentKind = .armReach
    /// Settings of the arm-reach environment (control mode, gains, episode length …); position control
    /// (PD targets, a joint-impedance arm driven from a planner) by default.
    public var arm: ArmReachConfig = {
        var c = ArmReachConfig(); c.controlMode = .position; return c
    }()
    /// Settings of the quadruped-walk environment.
    public var quadruped = QuadrupedWalkConfig()
    /// Output directory: data/episode-NNNN.csv (log format), model.safetensors, metrics.csv, TensorBoard
    /// events and state.json — everything needed to resume.
    public var output: String = "out/pets-arm"
    public var seed: UInt64 = 0
    /// Domain randomization of the real episodes — data and evaluation — (a spec file such as
    /// `configs/randomization.yaml`; empty: none): the model learns from robots drawn per episode (docs/SYSID.md).
    public var randomize: String = ""
    /// Episodes of uniform random actions before the first fit (PETS: 1).
    public var randomEpisodes: Int = 1
    /// MPC episodes (each followed by a refit); total data = randomEpisodes + iterations episodes.
    public var iterations: Int = 9
    /// Control steps per episode (0: the environment's limit).
    public var maxSteps: Int = 100
    /// Particles per candidate and propagation (PETS: 20, TS-∞; 10 here, two per elite, half the cost).
    public var particles: Int = 10
    public var propagation: PropagationMode = .tsInfinity
    /// Planning cost per remaining horizon step after a predicted fall, and weight of the safety cost (as
    /// in `mpc`; the arm has neither).
    public var terminationPenalty: Double = 0
    public var safetyWeight: Double = 1
    /// The ensemble (PETS: 5 members, all elites, 4 × 200 SiLU; batch 32 per member as mbrl-lib's PETS),
    /// refit every iteration with at most 200 epochs (a cap PETS keeps, unlike `fit-dynamics`' default).
    public var dynamics: EnsembleConfig = {
        var c = EnsembleConfig(); c.members = 5; c.elites = 5; c.batchSize = 32; c.maxEpochs = 200; return c
    }()
    /// The planner: CEM as in PETS, smaller than its population 500 × 5 iterations × horizon 30 so a control
    /// step plans in ~0.5 s on one core: population 100, 10 elites, 4 iterations, α 0.1, horizon 15.
    public var planner = PlannerConfiguration(kind: .cem, horizon: 15, replanInterval: 1, warmStart: true,
                                              cem: CEMConfiguration(populationSize: 100, eliteCount: 10, iterations: 4))
    /// After the last iteration: evaluation episodes on new targets (seeds `evaluationSeed + i`), each
    /// ended at its first success; 0 skips it.
    public var evaluationEpisodes: Int = 20
    public var evaluationSeed: UInt64 = 1000
    public init() {}
}

/// What one PETS iteration did (a row of metrics.csv).
public struct PETSIteration: Codable, Sendable {
    /// 0 for the random data, then 1, 2, … per MPC episode.
    public var iteration: Int
    /// Episodes and transitions of data after this iteration.
    public var dataEpisodes: Int
    public var transitions: Int
    /// This iteration's episode (the last random one for iteration 0): environment return, success, the
    /// task return (−Σ planning cost on the real steps; nil for random data), final distance (reach).
    public var episodeReturn: Double
    public var success: Bool
    public var taskReturn: Double?
    public var finalDistance: Double?
    public var timeToSuccess: Double?
    /// Model fit before this iteration's episode: epochs, mean elite holdout MSE (normalized), seconds.
    public var fitEpochs: Int
    public var holdoutMSE: Double
    public var fitSeconds: Double
    /// Planning time per control step, s (mean, 95th percentile).
    public var planningMean: Double
    public var planningP95: Double
}

/// Progress of a resumable run, written atomically to `state.json` after every iteration.
struct PETSState: Codable {
    var iterationsDone: Int
    var history: [PETSIteration]
}

/// Why a PETS run cannot start or continue.
public struct PETSError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

/// PETS on a robot environment with a closed-form task cost (Chua et al. 2018): collect, fit, plan, repeat;
/// resumable after a kill (every file is written atomically; data episodes, the model and the state are
/// reloaded and the loop continues after the last completed iteration).
public final class PETSRunner<E: RobotEnvironment> {
    public let config: PETSConfig
    public let env: E
    let makeTask: (_ stateNames: [String], _ actionNames: [String]) throws -> any ModelTask
    let taskProvenance: [String: String]
    let directory: URL
    var dataDirectory: URL { directory.appendingPathComponent("data") }
    var modelURL: URL { directory.appendingPathComponent("model.safetensors") }
    var stateURL: URL { directory.appendingPathComponent("state.json") }
    /// Per-iteration report, called after each iteration; per-step progress (iteration, step, result, planning s).
    public var onIteration: ((PETSIteration) -> Void)?
    public var onStep: ((Int, Int, StepResult, Double) -> Void)?
    public var onFitEpoch: ((EpochReport) -> Void)?

    /// - Parameters:
    ///   - makeTask: builds the task on the model's state and action columns (the log format's default
    ///     transition columns of this environment: joint positions and velocities, the base state of a
    ///     floating base, `action.*`).
    ///   - provenance: what the model's data are, saved with the model (`ModelTaskProviding.modelProvenance`).
    public init(config: PETSConfig, env: E, provenance: [String: String] = [:],
                makeTask: @escaping (_ stateNames: [String], _ actionNames: [String]) throws -> any ModelTask) {
        self.config = config; self.env = env; self.makeTask = makeTask; taskProvenance = provenance
        directory = URL(fileURLWithPath: config.output)
    }

    /// PETS on a task with a closed form (its own model task and provenance).
    public convenience init<T: ModelTaskProviding>(config: PETSConfig, env: E) where E == RobotEnv<T> {
        let task = env.task
        self.init(config: config, env: env, provenance: task.modelProvenance) { try task.modelTask(stateNames: $0, actionNames: $1) }
    }

    /// What the model's data are (saved with the model).
    var provenance: [String: String] {
        var p = ["env": config.env.rawValue, "source": "mbc pets"]
        for (k, v) in taskProvenance { p[k] = v }
        return p
    }

    /// Whether `output` holds a run that can be resumed.
    public var hasCheckpoint: Bool { FileManager.default.fileExists(atPath: stateURL.path) }

    /// Runs (or resumes) the loop. Returns every iteration's metrics.
    /// - Parameter resume: continue a run found in `output`; without it an existing run is an error.
    @discardableResult
    public func run(resume: Bool) throws -> [PETSIteration] {
        let fm = FileManager.default
        var state = PETSState(iterationsDone: -1, history: [])
        if hasCheckpoint {
            guard resume else {
                throw PETSError("\(directory.path) already holds a PETS run (state.json); pass --resume to continue it or choose another output")
            }
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            do { state = try decoder.decode(PETSState.self, from: Data(contentsOf: stateURL)) } catch {
                throw PETSError("\(stateURL.path): cannot read the saved state (\(error))")
            }
        }
        try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let metrics = try MetricsWriter(directory: directory, runName: "metrics", resumeAfter: state.iterationsDone)
        let randomActions = StreamPolicy(actionDimension: env.actionSpace.dimension, seed: config.seed)
        var model: ProbabilisticEnsemble? = fm.fileExists(atPath: modelURL.path) && state.iterationsDone >= 1
            ? try ProbabilisticEnsemble.load(from: modelURL) : nil

        // iteration 0: random episodes
        if state.iterationsDone < 0 {
            var last = EpisodeResult(seed: config.seed)
            for e in 0..<config.randomEpisodes {
                last = try randomEpisode(index: e, seed: config.seed &+ UInt64(e), policy: randomActions)
            }
            let data = try loadData()
            let it = PETSIteration(iteration: 0, dataEpisodes: config.randomEpisodes, transitions: data.count,
                                   episodeReturn: last.totalReturn, success: last.success, taskReturn: last.taskReturn ?? 0,
                                   finalDistance: last.finalDistance,
                                   timeToSuccess: nil, fitEpochs: 0, holdoutMSE: .nan, fitSeconds: 0, planningMean: 0, planningP95: 0)
            state = PETSState(iterationsDone: 0, history: [it])
            try record(it, state: state, metrics: metrics)
        }
        while state.iterationsDone < config.iterations {
            let i = state.iterationsDone + 1
            // fit on everything so far
            let data = try loadData()
            if model == nil {
                model = try ProbabilisticEnsemble(config: config.dynamics, stateNames: data.stateNames, actionNames: data.actionNames)
            }
            model!.provenance = provenance
            let fitStart = Date()
            let reports = try model!.fit(data) { [onFitEpoch] r in onFitEpoch?(r) }
            let fitSeconds = Date().timeIntervalSince(fitStart)
            try model!.save(to: modelURL)
            // one MPC episode on the learned model
            let episode = try mpcEpisodes(model: model!, episodes: 1, seed: config.seed &+ UInt64(config.randomEpisodes + i - 1),
                                          recordIndex: config.randomEpisodes + i - 1, stopOnSuccess: false, progress: { [onStep] _, step, r, p in onStep?(i, step, r, p) })[0]
            let elites = model!.eliteMembers.map { model!.lastHoldoutMSE[$0] }
            let timing = PlanningTimeStatistics(durations: episode.actSeconds)
            let it = PETSIteration(iteration: i, dataEpisodes: config.randomEpisodes + i, transitions: data.count + max(episode.steps - 1, 0),
                                   episodeReturn: episode.totalReturn, success: episode.success, taskReturn: episode.taskReturn,
                                   finalDistance: episode.finalDistance, timeToSuccess: episode.timeToSuccess,
                                   fitEpochs: reports.count, holdoutMSE: elites.reduce(0, +) / Double(max(elites.count, 1)),
                                   fitSeconds: fitSeconds, planningMean: timing.meanSeconds, planningP95: timing.p95Seconds)
            state.iterationsDone = i
            state.history.append(it)
            try record(it, state: state, metrics: metrics)
        }
        try metrics.close()
        return state.history
    }

    /// Evaluates the final model: `evaluationEpisodes` MPC episodes on new seeds, each ended at its first
    /// success. Nothing is recorded into the training data.
    public func evaluate(progress: ((Int, Int, StepResult, Double) -> Void)? = nil) throws -> [EpisodeResult] {
        let model = try ProbabilisticEnsemble.load(from: modelURL)
        return try mpcEpisodes(model: model, episodes: config.evaluationEpisodes, seed: config.evaluationSeed, recordIndex: nil,
                               stopOnSuccess: true, progress: progress)
    }

    // MARK: - pieces

    func episodeURL(_ index: Int) -> URL { dataDirectory.appendingPathComponent(String(format: "episode-%04d.csv", index)) }

    /// The model columns of this environment's logs (default transition spec).
    func modelColumns() throws -> (state: [String], action: [String]) { try env.defaultModelColumns() }

    private func randomEpisode(index: Int, seed: UInt64, policy: any Policy) throws -> EpisodeResult {
        let recorder = try RolloutRecorder(url: episodeURL(index), env: env)
        let (stateNames, actionNames) = try modelColumns()
        let task = try makeTask(stateNames, actionNames)
        var before: [Double] = [], previous: [Double] = []
        let episode = try runEpisode(env: env, policy: policy, seed: seed, index: index,
                                     maxSteps: config.maxSteps > 0 ? config.maxSteps : .max, recorder: recorder,
                                     beforeAct: { env, obs in
                                         task.update()
                                         previous = task.previousAction.map(Double.init)
                                         before = (try? env.modelState(names: stateNames, observation: obs)) ?? []
                                     },
                                     onStep: { step in
                                         guard let next = try? self.env.modelState(names: stateNames, observation: step.result.observation) else { return .nan }
                                         return task.cost(state: before, action: step.action, next: next, previousAction: previous,
                                                          safetyWeight: self.config.safetyWeight)
                                     })
        try recorder.close()
        return episode
    }

    private func mpcEpisodes(model: ProbabilisticEnsemble, episodes: Int, seed: UInt64, recordIndex: Int?, stopOnSuccess: Bool,
                             progress: ((Int, Int, StepResult, Double) -> Void)?) throws -> [EpisodeResult] {
        let task = try makeTask(model.stateNames, model.actionNames)
        _ = try env.modelState(names: model.stateNames, observation: Array(repeating: 0, count: env.observationSpace.dimension))  // every state column readable
        let rollouts = try EnsembleRollouts(model: model, task: task, particles: config.particles, propagation: config.propagation,
                                            maxCandidates: config.planner.maximumPopulation, terminationPenalty: config.terminationPenalty,
                                            safetyWeight: config.safetyWeight, seed: seed)
        var mpc = SimulatorMPCConfig()
        mpc.episodes = episodes; mpc.seed = seed; mpc.maxSteps = config.maxSteps; mpc.planner = config.planner
        mpc.stopOnSuccess = stopOnSuccess
        let recorder = try recordIndex.map { try RolloutRecorder(url: episodeURL($0), env: env) }
        let result = try runMPC(env: env, model: .ensemble(rollouts), config: mpc, recorder: recorder,
                                episodeIndexOffset: recordIndex ?? 0, progress: progress)
        try recorder?.close()
        return result
    }

    /// Every recorded episode so far, as one transition dataset (default columns).
    func loadData() throws -> TransitionDataset {
        let files = try FileManager.default.contentsOfDirectory(atPath: dataDirectory.path)
            .filter { $0.hasPrefix("episode-") && $0.hasSuffix(".csv") }.sorted()
        guard !files.isEmpty else { throw PETSError("no data episodes in \(dataDirectory.path)") }
        var merged: TransitionDataset?
        for f in files {
            var table = try LogReader.read(url: dataDirectory.appendingPathComponent(f))
            table.source = dataDirectory.appendingPathComponent(f).path
            let d = try TransitionDataset(table: table)
            if merged == nil { merged = d } else { merged!.append(d) }
        }
        return merged!
    }

    private func record(_ it: PETSIteration, state: PETSState, metrics: MetricsWriter) throws {
        let values: [(String, Double)] = [
            ("data_episodes", Double(it.dataEpisodes)), ("transitions", Double(it.transitions)),
            ("episode_return", it.episodeReturn), ("success", it.success ? 1 : 0),
            ("task_return", it.taskReturn ?? .nan), ("final_distance", it.finalDistance ?? .nan),
            ("time_to_success", it.timeToSuccess ?? .nan), ("fit_epochs", Double(it.fitEpochs)),
            ("holdout_mse", it.holdoutMSE), ("fit_seconds", it.fitSeconds),
            ("planning_ms_mean", it.planningMean * 1000), ("planning_ms_p95", it.planningP95 * 1000),
        ]
        try metrics.log(step: it.iteration, values: values)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(state).write(to: stateURL, options: .atomic)
        onIteration?(it)
    }
}

extension TransitionDataset {
    /// Appends another dataset's transitions (same columns).
    public mutating func append(_ other: TransitionDataset) {
        precondition(other.stateNames == stateNames && other.actionNames == actionNames, "datasets with different columns")
        states += other.states; actions += other.actions; nextStates += other.nextStates
        episodes += other.episodes; rows += other.rows
    }
}

/// Uniform random actions from one stream that episode resets do not re-seed (PETS' random data: one stream
/// per run, from the run's seed).
final class StreamPolicy: Policy {
    private var rng: SeededRNG
    private let dimension: Int
    init(actionDimension: Int, seed: UInt64) { dimension = actionDimension; rng = SeededRNG(seed: seed) }
    func reset(seed: UInt64) {}
    func act(_ observation: [Double], deterministic: Bool) -> [Double] { (0..<dimension).map { _ in rng.uniform(-1, 1) } }
}
