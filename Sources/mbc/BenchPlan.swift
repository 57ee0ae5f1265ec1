import ArgumentParser
import Control
import ControlCore
import Dynamics
import Environments
import Foundation
import Planning

/// `mbc bench plan`: seconds per planned action of PETS' CEM on a learned ensemble, the configuration of
/// the peers' `nn_rate.py --only cem` (E = 5 members 4×200 SiLU, obs 27, act 8, population 500, horizon 30,
/// 5 iterations, 50 elites, 20 particles TS-∞, α = 0.1: 1.5 M model rows per action), measured on the same
/// synthetic Ant-like task, against PyTorch in the same run.
struct BenchPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "CEM planning cost on a 5-member ensemble (PETS settings, 1.5 M model rows per action) against PyTorch.")
    @Option(help: "Candidates, horizon, CEM iterations, elites, particles.") var population: Int = 500
    @Option var horizon: Int = 30
    @Option var iterations: Int = 5
    @Option var elites: Int = 50
    @Option var particles: Int = 20
    @Option(help: "Planned actions measured (after one warm-up plan).") var actions: Int = 2
    @Option(help: "Python with torch (../shared/peers/README.md) to measure PyTorch in the same run.") var peersPython: String?
    @Option(help: "The peers' nn_rate.py.") var peersScript: String = "../shared/peers/nn_rate.py"
    @Flag(help: "Skip PyTorch's bf16 run.") var noBF16 = false
    @Option(help: "Rounds of (ours, PyTorch fp32) back to back; medians are reported (this machine's speed varies from minute to minute).")
    var repeats: Int = 1
    @Flag(help: "Run PyTorch at the same time on core 0 (pin ours to core 1: `taskset -c 1 mbc bench plan …`) so both see the same machine; ours is timed action by action for as long as the peer runs, and its median is compared.")
    var concurrent = false
    @OptionGroup var common: CommonOptions

    func validate() throws { try validatePeers(python: peersPython, script: peersScript) }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench plan`\n".data(using: .utf8)!)
        #endif
        let obs = 27, act = 8
        var config = EnsembleConfig(); config.members = 5; config.elites = 5
        let model = try ProbabilisticEnsemble(config: config, stateNames: (0..<obs).map { "s\($0)" }, actionNames: (0..<act).map { "a\($0)" })
        let task = AntLikeTask(stateDimension: obs, actionDimension: act)
        let rollouts = try EnsembleRollouts(model: model, task: task, particles: particles, propagation: .tsInfinity,
                                            maxCandidates: population, seed: 0)
        let planner = PlannerConfiguration(kind: .cem, horizon: horizon, replanInterval: 1, warmStart: true,
                                           cem: CEMConfiguration(populationSize: population, eliteCount: elites, iterations: iterations, smoothing: 0.1))
        var rng = SeededRNG(seed: 4)
        let s0 = (0..<obs).map { _ in rng.normal() }
        let controller = MPCController(configuration: planner, actionBounds: BoxSpace(dimension: act, bound: 1), seed: 0) { _, pop, count in
            rollouts.costs(from: s0, population: pop, count: count, horizon: horizon)
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        _ = controller.act(s0, deterministic: true)  // warm-up plan
        let flopsPerRow = Double(EnsemblePropagator(model: model, maxRowsPerMember: 1).flopsPerRow)
        var walls: [Double] = [], torchWalls: [Double] = [], ratios: [Double] = [], gemms: [Double] = []
        var rows = 0.0
        var peers: [[String: Any]] = []
        for round in 0..<repeats {
            let peerRun = concurrent ? peersPython.flatMap { startPeerMeasurement(python: $0, script: peersScript, name: "cem_E5") } : nil
            var perAction: [Double] = []
            let rows0 = rollouts.rowsPropagated
            repeat {
                let start = Date()
                _ = controller.act(s0, deterministic: true)
                perAction.append(Date().timeIntervalSince(start))
            } while perAction.count < actions || peerRun?.isRunning == true
            let wall = peerRun == nil ? perAction.reduce(0, +) / Double(perAction.count) : median(perAction)
            rows = Double(rollouts.rowsPropagated - rows0) / Double(perAction.count)
            let gemm = BenchDynamics().gemmGFLOPS(m: 10000, n: 200, k: 200)
            walls.append(wall); gemms.append(gemm)
            say(String(format: "round %d: ours %.3f s per planned action (%.0f %% of the GEMM peak %.1f GFLOP/s measured right after)",
                       round + 1, wall, 100 * rows * flopsPerRow / (gemm * 1e9) / wall, gemm))
            guard let python = peersPython else { continue }
            let roundPeers = peerRun?.finish() ?? runPeerMeasurement(python: python, script: peersScript, name: "cem_E5")
            if peerRun != nil {
                say(String(format: "round %d: ours timed over %d actions while PyTorch ran (median %.3f s, range %.3f–%.3f s)",
                           round + 1, perAction.count, wall, perAction.min()!, perAction.max()!))
            }
            if let torch = roundPeers.first?["seconds_per_action"] as? Double {
                torchWalls.append(torch); ratios.append(torch / wall)
                say(String(format: "round %d: PyTorch fp32 %.3f s → ours %.2f× faster", round + 1, torch, torch / wall))
            }
            peers += roundPeers
        }
        let wall = median(walls), gemm = median(gemms)
        let flops = rows * flopsPerRow
        let bound = flops / (gemm * 1e9)
        say(String(format: "CEM E=5 pop %d H %d iters %d particles %d (%.2f M rows/action): %.3f s per planned action (median of %d), %.0f rows/s, %.1f GFLOP/s = %.0f %% of our GEMM peak (%.1f GFLOP/s; bound %.2f s)",
                   population, horizon, iterations, particles, rows / 1e6, wall, repeats, rows / wall, flops / wall / 1e9, 100 * bound / wall, gemm, bound))
        var results: [[String: Any]] = [["measure": "cem E=5", "seconds_per_action": wall, "rows_per_action": rows, "rows_per_s": rows / wall,
                                         "gflops": flops / wall / 1e9, "gemm_gflops": gemm, "fraction_of_gemm_peak": bound / wall,
                                         "rounds_seconds_per_action": walls]]
        if !ratios.isEmpty {
            say(String(format: "ours fp32 vs PyTorch fp32 (cem E=5): %.2f× faster (median of %d rounds: %@)", median(ratios), ratios.count,
                       ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") as NSString))
            results.append(["measure": "speedup vs cem E=5", "ratio": median(ratios), "rounds": ratios,
                            "torch_seconds_per_action": median(torchWalls)])
        }
        if let python = peersPython, !noBF16 {
            let bf16 = runPeerMeasurement(python: python, script: peersScript, name: "cem_E5_bf16")
            for p in bf16 {
                say("peer: \(p)")
                if let name = p["measure"] as? String, let torch = p["seconds_per_action"] as? Double {
                    say(String(format: "ours fp32 vs PyTorch %@: %.2f× faster", name, torch / wall))
                    results.append(["measure": "speedup vs \(name)", "ratio": torch / wall])
                }
            }
            peers += bf16
        }
        if common.json { printJSON(["results": results, "peers": peers]) }
    }
}

/// The peers' synthetic Ant-like planning task: reward = s[13] − 0.5 Σ a² + 1 (x-velocity − control
/// cost + healthy), terminated when s[0] leaves [0.2, 1.0]; actions enter the model unchanged.
final class AntLikeTask: ModelTask {
    let stateNames: [String], actionNames: [String]
    let actionDimension: Int
    init(stateDimension: Int, actionDimension: Int) {
        stateNames = (0..<stateDimension).map { "s\($0)" }
        actionNames = (0..<actionDimension).map { "a\($0)" }
        self.actionDimension = actionDimension
    }
    func modelActions(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(from: actions, count: rows * actionDimension)
    }
    func evaluate(states: UnsafePointer<Float>, actions: UnsafePointer<Float>, previousActions: UnsafePointer<Float>,
                  next: UnsafePointer<Float>, rows: Int, reward: UnsafeMutablePointer<Float>, cost: UnsafeMutablePointer<Float>,
                  terminated: UnsafeMutablePointer<UInt8>) {
        let S = stateNames.count, A = actionDimension
        for r in 0..<rows {
            var aa: Float = 0
            for d in 0..<A { aa += actions[r * A + d] * actions[r * A + d] }
            reward[r] = next[r * S + 13] - 0.5 * aa + 1
            cost[r] = 0
            let h = next[r * S]
            terminated[r] = (h < 0.2 || h > 1.0) ? 1 : 0
        }
    }
}

/// The median of a non-empty list (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}
