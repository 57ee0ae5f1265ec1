import Configuration
import Control
import ControlCore
import Dynamics
import Environments
import Learning
import Foundation
import NeuralNets
import Physics
import Planning
import Robots
import Testing

/// The package root (configs/, robots/).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbc-config-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes `text` to `name` in a fresh directory and loads it over `defaults`; returns the error's line.
func loadError<T: Codable & ConfigRanges>(_ defaults: T, _ text: String, name: String = "c.yaml",
                                          overrides: [ConfigOverride] = []) throws -> String {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent(name).path
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    do {
        _ = try ConfigLoader().load(defaults, file: file, overrides: overrides)
        return "no error"
    } catch let error as ConfigError {
        // report relative to the directory so expectations can be exact
        return error.description.replacingOccurrences(of: dir.path + "/", with: "")
    }
}

/// `ConfigError.description` of loading `overrides` over the defaults.
func overrideError<T: Codable & ConfigRanges>(_ defaults: T, _ assignments: [String]) -> String {
    do {
        _ = try ConfigLoader().load(defaults, file: nil, overrides: try assignments.map(ConfigOverride.init(parsing:)))
        return "no error"
    } catch {
        return "\(error)"
    }
}

@Suite("Config loading: located errors, ranges, choices")
struct ConfigLoaderTests {
    @Test("the crash cases of issue 10 are errors naming the file and line")
    func issueCases() throws {

        #expect(try loadError(SimulatorMPCConfig(), "env: arm-reach\nepisodes: -3\n")
                == "c.yaml:2: episodes: -3 is outside [0, 1000000]")
        #expect(try loadError(SimulatorMPCConfig(), "seed: 0\n\nmaxSteps: -1  # a comment\n")
                == "c.yaml:3: maxSteps: -1 is outside [0, 10000000]")
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  kind: cem\n  horizon: 1000000000\n")
                == "c.yaml:3: planner.horizon: 1000000000 is outside [1, 1000]")
        #expect(try loadError(PETSConfig(), "dynamics:\n  hiddenLayers: [200, 200000]\n")
                == "c.yaml:2: dynamics.hiddenLayers[1]: 200000 is outside [1, 4096]")
        #expect(try loadError(QuadrupedWalkConfig(), "maxEpisodeSteps: 0\n") == "c.yaml:1: maxEpisodeSteps: 0 is outside [1, 10000000]")
    }

    @Test("unknown keys (nested too) name the file, line and the known keys at that level")
    func unknownKeys() throws {
        let nested = try loadError(SimulatorMPCConfig(), "planner:\n  cem:\n    populatonSize: 5\n")
        #expect(nested == "c.yaml:3: unknown key 'populatonSize' in planner.cem (did you mean 'populationSize'?); known keys: eliteCount, initialVarianceFraction, iterations, minimumVarianceFraction, populationSize, smoothing")
        let top = try loadError(ArmReachConfig(), "kp: 100\nzzz: 1\n")
        #expect(top.hasPrefix("c.yaml:2: unknown key 'zzz'; known keys: controlCostWeight, controlFrequency,"))
        #expect(try loadError(ArmReachConfig(), "kp: 1\nkp: 2\n") == "c.yaml:2: duplicate key 'kp' (first at line 1)")
    }

    @Test("wrong types are located: integers, numbers, booleans, lists, mappings")
    func wrongTypes() throws {
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  horizon: 2.5\n") == "c.yaml:2: planner.horizon must be an integer, not '2.5'")
        #expect(try loadError(SimulatorMPCConfig(), "seed: -1\n") == "c.yaml:1: seed must be a non-negative integer below 2^64, not '-1'")
        #expect(try loadError(ArmReachConfig(), "kp: fast\n") == "c.yaml:1: kp must be a finite number, not 'fast'")
        #expect(try loadError(ArmReachConfig(), "kp: .nan\n") == "c.yaml:1: kp must be a finite number, not '.nan'")
        #expect(try loadError(ArmReachConfig(), "gravityCompensation: maybe\n") == "c.yaml:1: gravityCompensation must be true or false, not 'maybe'")
        #expect(try loadError(ArmReachConfig(), "homePose: 0\n") == "c.yaml:1: homePose must be a list, e.g. [1, 2]")
        #expect(try loadError(ArmReachConfig(), "homePose: [0, x]\n") == "c.yaml:1: homePose[1] must be a finite number, not 'x'")
        #expect(try loadError(SimulatorMPCConfig(), "arm: 3\n") == "c.yaml:1: arm must be a mapping of settings (nested key: value lines)")
        #expect(try loadError(SimulatorMPCConfig(), "episodes: [1]\n") == "c.yaml:1: episodes must be a single value, not a list")
        #expect(try loadError(EnsembleConfig(), "hiddenLayers:\n  - 64\n  - 6.5\n") == "c.yaml:3: hiddenLayers[1] must be an integer, not '6.5'")
        #expect(try loadError(ArmReachConfig(), "- a\n- b\n") == "c.yaml:1: expected a mapping of settings (key: value lines) at the top level")
        #expect(try loadError(ArmReachConfig(), "kp: [1, 2\n").hasPrefix("c.yaml:2: invalid YAML:"))
    }

    @Test("names of kinds are enums: a wrong name is located and lists the allowed values")
    func choices() throws {
        #expect(try loadError(SimulatorMPCConfig(), "env: arm-rech\n") == "c.yaml:1: env: 'arm-rech' is not one of: quadruped-walk, arm-reach, pendulum-swingup")
        #expect(try loadError(PETSConfig(), "seed: 1\nenv: walker\n") == "c.yaml:2: env: 'walker' is not one of: quadruped-walk, arm-reach, pendulum-swingup")
        #expect(try loadError(EnsembleConfig(), "members: 5\nactivation: swish\n") == "c.yaml:2: activation: 'swish' is not one of: silu, relu, tanh, elu")
        #expect(try loadError(EnsembleConfig(), "initialization: kaiming\n")
                == "c.yaml:1: initialization: 'kaiming' is not one of: xavier-uniform, he-uniform, truncated-normal")
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  kind: adam\n") == "c.yaml:2: planner.kind: 'adam' is not one of: cem, icem, mppi")
        #expect(try loadError(SimulatorMPCConfig(), "propagation: ts-2\n") == "c.yaml:1: propagation: 'ts-2' is not one of: ts-inf, ts-1, expectation")
        #expect(try loadError(ArmReachConfig(), "solver: lcp\n") == "c.yaml:1: solver: 'lcp' is not one of: iterative, exact")
        #expect(try loadError(ArmReachConfig(), "controlMode: velocity\n") == "c.yaml:1: controlMode: 'velocity' is not one of: torque, position")
        #expect(try loadError(QuadrupedWalkConfig(), "costMode: both\n") == "c.yaml:1: costMode: 'both' is not one of: indicator, magnitude")
        // the enums code by name, so a YAML name and a decoded value agree
        let ok = try ConfigLoader().load(EnsembleConfig(), yaml: "activation: tanh\ninitialization: he-uniform\n", source: "t")
        #expect(ok.activation == .tanh && ok.initialization == .heUniform && ok.activation.activation == .tanh)
        // plain JSON decoding of a choice lists the allowed values too
        do {
            _ = try JSONDecoder().decode([PlannerKind].self, from: Data(#"["cem", "x"]"#.utf8))
            Issue.record("decoded an unknown planner kind")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription == "'x' is not one of: cem, icem, mppi")
        }
    }

    @Test("rules between keys are located at the key they name")
    func crossChecks() throws {
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  cem:\n    populationSize: 10\n    eliteCount: 20\n")
                == "c.yaml:4: planner.cem.eliteCount: 20 exceeds populationSize (10)")
        #expect(try loadError(EnsembleConfig(), "seed: 1\nhiddenLayers: [64, 64]\n")
                == "c.yaml:2: weightDecay: has 5 values; it needs one per layer, 3 for 2 hidden layers")
        // located at the related key the file set
        #expect(try loadError(PETSConfig(), "seed: 1\nplanner:\n  cem:\n    populationSize: 100000\n")
                == "c.yaml:4: particles: 10 particles × population 100000 = 1000000 rows per planning step exceeds 200000")
        #expect(try loadError(EnsembleConfig(), "members: 3\nelites: 4\n") == "c.yaml:2: elites: 4 exceeds members (3)")
        #expect(try loadError(QuadrupedWalkConfig(), "standingPose: [0, 0.8]\n")
                == "c.yaml:1: standingPose: has 2 values; it takes 3 (hip, thigh, calf), applied to every leg")
        #expect(try loadError(ArmReachConfig(), "controlFrequency: 0.1\nphysicsTimeStep: 0.0001\n")
                == "c.yaml:1: controlFrequency: 0.1 Hz with physicsTimeStep 0.0001 s gives 100000.0 physics steps per control step; allowed 1…10000")
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  horizon: 1000\n  cem:\n    populationSize: 100000\n    eliteCount: 10\n")
                == "c.yaml:2: planner.horizon: population 100000 × horizon 1000 × actionRepeat 1 = 100000000 planned steps per iteration exceeds 10000000")
        #expect(try loadError(PETSConfig(), "particles: 1000\nplanner:\n  cem:\n    populationSize: 1000\n")
                == "c.yaml:1: particles: 1000 particles × population 1000 = 1000000 rows per planning step exceeds 200000")
        #expect(try loadError(SimulatorMPCConfig(), "planner:\n  horizon: 5\n  replanInterval: 6\n")
                == "c.yaml:3: planner.replanInterval: 6 exceeds horizon (5)")
    }

    @Test("a 5,000-deep nesting is a located error, not a stack overflow; so is a chain of aliases")
    func deepNesting() throws {
        var block = ""
        for i in 0..<5_000 { block += String(repeating: " ", count: i) + "k\(i):\n" }
        #expect(try loadError(ArmReachConfig(), block) == "c.yaml:65: lists and mappings nest deeper than 64 levels here; configs nest a few levels")
        let flow = "kp: 1\nhomePose: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\n"
        #expect(try loadError(ArmReachConfig(), flow) == "c.yaml:2: lists and mappings nest deeper than 64 levels here; configs nest a few levels")
        let sequences = String(repeating: "- ", count: 5_000) + "x\n"
        #expect(try loadError(ArmReachConfig(), sequences).hasPrefix("c.yaml:1: lists and mappings nest deeper than 64"))
        var aliases = "a0: &a0 [1]\n"
        for i in 1..<50_000 { aliases += "a\(i): &a\(i) [*a\(i - 1)]\n" }
        #expect(try loadError(ArmReachConfig(), aliases)
                == "c.yaml:513: 512 aliases (*name) into settings nested up to 2 levels could nest deeper than 1024 levels; use fewer aliases")
        // the shipped configs are far from the limit, and a few aliases are fine
        let anchors = "homePose: &pose [0, -0.785, 0, -2.356, 0, 1.571, 0.785]\n"
        #expect(try loadError(ArmReachConfig(), anchors) == "no error")
        #expect(YAMLNestingProbe.depthIsAccepted(try String(contentsOf: packageRoot.appendingPathComponent("configs/mpc-quadruped.yaml"), encoding: .utf8)))
    }

    @Test("--set overrides are typed and range-checked like the file; an unknown key path lists the known keys")
    func overrides() throws {
        let cfg = try ConfigLoader().load(SimulatorMPCConfig(), file: nil, overrides: try [
            "planner.horizon=12", "planner.kind=icem", "arm.homePose=[0, 0, 0, -2, 0, 2, 0]", "planner.cem={populationSize: 32, eliteCount: 4}",
            "model=", "seed=18446744073709551615", "stopOnSuccess=yes",
        ].map(ConfigOverride.init(parsing:)))
        #expect(cfg.planner.horizon == 12 && cfg.planner.kind == .icem && cfg.arm.homePose == [0, 0, 0, -2, 0, 2, 0])
        #expect(cfg.planner.cem.populationSize == 32 && cfg.planner.cem.eliteCount == 4 && cfg.planner.cem.iterations == 3)
        #expect(cfg.model == "" && cfg.seed == UInt64.max && cfg.stopOnSuccess)
        #expect(overrideError(SimulatorMPCConfig(), ["planner.horizon=0"]) == "--set planner.horizon=0: planner.horizon: 0 is outside [1, 1000]")
        #expect(overrideError(SimulatorMPCConfig(), ["planner.horizon=ten"]) == "--set planner.horizon=ten: planner.horizon must be an integer, not 'ten'")
        #expect(overrideError(SimulatorMPCConfig(), ["env=mars"]) == "--set env=mars: env: 'mars' is not one of: quadruped-walk, arm-reach, pendulum-swingup")
        #expect(overrideError(SimulatorMPCConfig(), ["planner.cme.iterations=2"])
                == "--set planner.cme.iterations=2: unknown key 'cme' in planner (did you mean 'cem'?); known keys: actionRepeat, cem, deadline, horizon, icem, kind, mppi, replanInterval, warmStart")
        #expect(overrideError(SimulatorMPCConfig(), ["episodes.count=2"]) == "--set episodes.count=2: episodes is a single value; it has no key 'count'")
        #expect(overrideError(SimulatorMPCConfig(), ["horizon"]) == "--set horizon: expected key.path=value, e.g. --set planner.horizon=20")
        #expect(overrideError(SimulatorMPCConfig(), ["planner..horizon=2"]).hasPrefix("--set planner..horizon=2: 'planner..horizon' is not a key path"))
        // the later of two overrides wins, and an override replaces the file's value
        let twice = try ConfigLoader().load(SimulatorMPCConfig(), yaml: "episodes: 3\n", source: "f.yaml", overrides: try ["episodes=4", "episodes=5"].map(ConfigOverride.init(parsing:)))
        #expect(twice.episodes == 5)
        // a literal string override is not read as YAML
        let literal = try ConfigLoader().load(SimulatorMPCConfig(), file: nil, overrides: [.string("model", "a: b #c.safetensors", origin: "--model")])
        #expect(literal.model == "a: b #c.safetensors")
        // a range violation is reported where the value came from: the override, not the file
        #expect(throws: ConfigError(source: "--set episodes=-1", message: "episodes: -1 is outside [0, 1000000]")) {
            try ConfigLoader().load(SimulatorMPCConfig(), yaml: "episodes: 3\n", source: "f.yaml", overrides: [try ConfigOverride(parsing: "episodes=-1")])
        }
        // a value out of its own range is named before a rule between keys it also breaks (eliteCount ≤ populationSize)
        #expect(throws: ConfigError(source: "--set planner.cem.populationSize=-1", message: "planner.cem.populationSize: -1 is outside [1, 100000]")) {
            try ConfigLoader().load(SimulatorMPCConfig(), yaml: "planner:\n  cem:\n    eliteCount: 8\n", source: "f.yaml",
                                    overrides: [try ConfigOverride(parsing: "planner.cem.populationSize=-1")])
        }
    }

    @Test("every file in configs/ loads unchanged with its type, and means what it says")
    func shippedConfigs() throws {
        let dir = packageRoot.appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        let loaders: [String: (String) throws -> Void] = [
            "arm-reach.yaml": { let c = try ConfigLoader().load(ArmReachConfig(), file: $0); #expect(c == ArmReachConfig()) },
            "quadruped-walk.yaml": { let c = try ConfigLoader().load(QuadrupedWalkConfig(), file: $0); #expect(c == QuadrupedWalkConfig()) },
            "dynamics.yaml": { _ = try ConfigLoader().load(EnsembleConfig(), file: $0) },
            "mpc-arm.yaml": { let c = try ConfigLoader().load(SimulatorMPCConfig(), file: $0); #expect(c.env == .armReach && c.episodes == 20) },
            "mpc-quadruped.yaml": {
                let c = try ConfigLoader().load(SimulatorMPCConfig(), file: $0)
                #expect(c.env == .quadrupedWalk && c.quadruped.speedTrackingWeight == 2 && c.planner.horizon == 20)
            },
            "pets-arm.yaml": {
                let c = try ConfigLoader().load(PETSConfig(), file: $0)
                #expect(c.arm.controlMode == .position && c.planner.cem.populationSize == 100 && c.output == "out/pets-arm")
            },
            "pets-quadruped.yaml": {
                let c = try ConfigLoader().load(PETSConfig(), file: $0)
                #expect(c.env == .quadrupedWalk && c.safetyWeight == 5 && c.terminationPenalty == 20 && c.quadruped.speedTrackingWeight == 2)
            },
            "sac-quadruped.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .sac && c.env == .quadrupedWalk && c.totalSteps == 300_000 && c.sac == SACSettings()
                        && c.quadruped == QuadrupedWalkConfig())
            },
            "sac-lagrangian-quadruped.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .sacLagrangian && c.totalSteps == 300_000 && c.lagrangian == LagrangianSettings()
                        && c.quadruped == QuadrupedWalkConfig())
            },
            "sac-pendulum.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .sac && c.env == .pendulumSwingUp && c.pendulum.maxTorque == PendulumSwingUpConfig().maxTorque)
            },
            "mbpo-quadruped.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .mbpo && c.totalSteps == 30_000 && c.updatesPerStep == 20 && c.mbpo == MBPOSettings()
                        && c.sac == SACSettings() && c.quadruped == QuadrupedWalkConfig())
            },
            "safe-mbpo-quadruped.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .safeMBPO && c.mbpo == MBPOSettings() && c.lagrangian == LagrangianSettings() && c.updatesPerStep == 20)
            },
            "mbpo-pendulum.yaml": {
                let c = try ConfigLoader().load(TrainConfig(), file: $0)
                #expect(c.algorithm == .mbpo && c.env == .pendulumSwingUp && c.mbpo.ensemble.hiddenLayers == [64, 64]
                        && c.mbpo.ensemble.wrappedAngles == ["joint_state.position.hinge"])
            },
            "randomization.yaml": { let c = try ConfigLoader().load(DomainRandomization(), file: $0); #expect(c == DomainRandomization()) },
            "randomization-arm-test.yaml": {
                let c = try ConfigLoader().load(DomainRandomization(), file: $0)
                #expect(c.massScale == ParameterDistribution(.logUniform, 0.5, 2) && c.jointDamping.high == 0.3 && c.latency.distribution == .none)
            },
            "randomization-test.yaml": {
                let c = try ConfigLoader().load(DomainRandomization(), file: $0)
                #expect(c.groundFriction == ParameterDistribution(.uniform, 0.4, 1.2) && c.strength.low == 0.7 && c.jointDamping.distribution == .none)
            },
        ]
        #expect(files == loaders.keys.sorted(), "a config file without a test of its type")
        for file in files { try loaders[file]?(dir.appendingPathComponent(file).path) }
    }

    @Test("every numeric key of every config type has a range, no range names a missing key, the defaults are valid")
    func rangesCoverEveryKey() throws {
        let values: [any ConfigRanges] = [ArmReachConfig(), QuadrupedWalkConfig(), EnsembleConfig(), PlannerConfiguration(),
                                          CEMConfiguration(), ICEMConfiguration(), MPPIConfiguration(), SimulatorMPCConfig(), PETSConfig(),
                                          TrainConfig(), SACSettings(), LagrangianSettings(), PendulumSwingUpConfig(), DomainRandomization()]
        for value in values {
            #expect(value.unrangedNumericKeys().isEmpty, "\(type(of: value)): \(value.unrangedNumericKeys())")
            #expect(value.violations().isEmpty, "\(type(of: value)): \(value.violations())")
            let labels = Set(Mirror(reflecting: value).children.compactMap(\.label))
            let stale = Set(type(of: value).ranges.keys).subtracting(labels)
            #expect(stale.isEmpty, "\(type(of: value)) declares ranges of missing keys \(stale)")
        }
        // the acceptance configurations of PETS and MPC as shipped
        #expect(PETSConfig().violations().isEmpty && SimulatorMPCConfig().violations().isEmpty)
    }

    @Test("ranges: closed and half-open intervals, NaN never inside, printed in interval notation")
    func rangeSemantics() {
        let r = ConfigRange(0, 1, upperOpen: true)
        #expect(r.contains(0) && r.contains(0.999) && !r.contains(1) && !r.contains(-1e-12) && !r.contains(.nan))
        #expect(ConfigRange(0, 10, lowerOpen: true).description == "(0, 10]" && r.description == "[0, 1)")
        #expect(ConfigRange(1e-5, 0.1).description == "[1e-05, 0.1]")
        #expect(ConfigRange.seed.contains(Double(UInt64.max)) && ConfigRange.seed.description == "[0, 18446744073709551615]")
    }

    @Test("the written YAML has every value and loads back to the same configuration")
    func yamlRoundTrip() throws {
        var pets = PETSConfig()
        pets.seed = UInt64.max; pets.dynamics.learningRate = 0.1 + 0.2; pets.dynamics.wrappedAngles = ["joint_state.position.j1", "yes"]
        pets.output = "runs/a b: c#d"; pets.arm.robot = "/tmp/x y/arm.urdf"; pets.dynamics.initialMinLogVariance = -1e-10
        pets.planner.deadline = 1.0 / 3.0
        let text = try ConfigYAML.string(pets, header: ["written by a test"])
        #expect(text.hasPrefix("# written by a test\nenv: arm-reach\narm:\n  robot: \"/tmp/x y/arm.urdf\"\n"))
        #expect(text.contains("\n  learningRate: 0.30000000000000004\n") && text.contains("\nseed: 18446744073709551615\n"))
        #expect(text.contains("\n  hiddenLayers: [200, 200, 200, 200]\n") && text.contains("\n  wrappedAngles: [joint_state.position.j1, \"yes\"]\n"))
        let back = try ConfigLoader().load(PETSConfig(), yaml: text, source: "config.yaml")
        #expect(try RunDirectory.differences(pets, back).isEmpty)
        var mpc = SimulatorMPCConfig()
        mpc.env = .quadrupedWalk; mpc.planner.kind = .mppi; mpc.planner.mppi.temperature = 2.5e-05; mpc.quadruped.standingPose = [0.1, 0.7, -1.4]
        let mpcText = try ConfigYAML.string(mpc)
        #expect(mpcText.contains("\n    temperature: 2.5e-05\n") && mpcText.contains("\n  standingPose: [0.1, 0.7, -1.4]\n"))
        #expect(try RunDirectory.differences(mpc, try ConfigLoader().load(SimulatorMPCConfig(), yaml: mpcText, source: "t")).isEmpty)
        let ensemble = try ConfigYAML.string(EnsembleConfig())
        #expect(try ConfigLoader().load(EnsembleConfig(), yaml: ensemble, source: "t") == EnsembleConfig())
        #expect(ensemble.contains("activation: silu\ninitialization: truncated-normal\n"))
    }

    @Test("decoding over the defaults: a document naming some keys keeps the others")
    func decodeOverDefaults() throws {
        let e = try ConfigCoding.decode(EnsembleConfig(), fromJSON: Data(#"{"members": 3, "elites": 2, "activation": "relu"}"#.utf8))
        var expected = EnsembleConfig(); expected.members = 3; expected.elites = 2; expected.activation = .relu
        #expect(e == expected)
        let p = try ConfigCoding.decode(PlannerConfiguration(), fromJSON: Data(#"{"kind": "icem", "icem": {"eliteCount": 5}}"#.utf8))
        #expect(p.kind == .icem && p.icem.eliteCount == 5 && p.icem.populationSize == 300 && p.cem == CEMConfiguration())
    }
}

/// The nesting scan, reachable for a check on the shipped files.
enum YAMLNestingProbe {
    static func depthIsAccepted(_ text: String) -> Bool {
        (try? ConfigLoader().load(SimulatorMPCConfig(), yaml: text, source: "probe")) != nil
    }
}

@Suite("Run directories")
struct RunDirectoryTests {
    @Test("config.yaml is written atomically; resuming with other settings is refused naming the keys unless forced")
    func resume() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = RunDirectory(path: root.appendingPathComponent("runs/pets-1").path)
        var cfg = PETSConfig()
        try run.prepare(config: cfg, defaults: PETSConfig(), resume: false, resumable: true, header: ["test"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.url.path) == ["config.yaml"])
        #expect(try ConfigLoader().load(PETSConfig(), file: run.configURL.path).output == cfg.output)
        // a new run into the same directory is refused (it would mix two runs)
        #expect(throws: RunDirectory.Refusal.self) { try run.prepare(config: cfg, defaults: PETSConfig(), resume: false, resumable: true) }
        // resuming with the same settings is fine
        #expect(try run.prepare(config: cfg, defaults: PETSConfig(), resume: true, resumable: true).isEmpty)
        cfg.planner.horizon = 20; cfg.dynamics.activation = .tanh; cfg.seed = 3
        do {
            try run.prepare(config: cfg, defaults: PETSConfig(), resume: true, resumable: true)
            Issue.record("resumed with different settings")
        } catch let refusal as RunDirectory.Refusal {
            #expect(refusal.differingKeys == ["dynamics.activation", "planner.horizon", "seed"])
            #expect(refusal.message.contains("planner.horizon (15 → 20)") && refusal.message.contains("--force-config"))
        }
        #expect(try run.prepare(config: cfg, defaults: PETSConfig(), resume: true, forceConfig: true, resumable: true)
                == ["dynamics.activation", "planner.horizon", "seed"])
        #expect(try ConfigLoader().load(PETSConfig(), file: run.configURL.path).planner.horizon == 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.url.path) == ["config.yaml"])
        // a command that cannot resume replaces config.yaml
        let sim = RunDirectory(path: root.appendingPathComponent("sim").path)
        try sim.prepare(config: ArmReachConfig(), defaults: ArmReachConfig(), resume: false, resumable: false)
        var arm = ArmReachConfig(); arm.kp = 10
        try sim.prepare(config: arm, defaults: ArmReachConfig(), resume: false, resumable: false)
        #expect(try ConfigLoader().load(ArmReachConfig(), file: sim.configURL.path).kp == 10)
    }

    @Test("the default path is runs/<command>-<timestamp>, made unique")
    func defaultPath() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let first = RunDirectory.defaultPath(command: "mpc", root: root.path, date: date)
        #expect(URL(fileURLWithPath: first).lastPathComponent.range(of: #"^mpc-\d{8}-\d{6}$"#, options: .regularExpression) != nil)
        try FileManager.default.createDirectory(atPath: first, withIntermediateDirectories: true)
        #expect(RunDirectory.defaultPath(command: "mpc", root: root.path, date: date) == first + "-2")
    }
}

@Suite("Resource lookup")
struct ResourceLocatorTests {
    @Test("a robot file is found next to the config file first; a missing one lists where it looked")
    func locate() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("robots"), withIntermediateDirectories: true)
        try "<robot name=\"mine\"/>".write(to: dir.appendingPathComponent("robots/arm.urdf"), atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("c.yaml").path
        #expect(try ResourceLocator(configFile: config).locate("robots/arm.urdf").path == dir.appendingPathComponent("robots/arm.urdf").path)
        // without the config file: the working directory (the package root under `swift test`) or the checkout
        let shipped = try ResourceLocator().locate("robots/arm.urdf")
        #expect(shipped.path == packageRoot.appendingPathComponent("robots/arm.urdf").standardizedFileURL.path)
        do {
            _ = try ResourceLocator(configFile: config).locate("robots/missing.urdf")
            Issue.record("found a missing file")
        } catch let error as ResourceNotFound {
            #expect(error.searched.first == dir.appendingPathComponent("robots/missing.urdf").path)
            #expect(error.description.hasPrefix("cannot find 'robots/missing.urdf'; looked in: \(dir.path)/robots/missing.urdf, "))
            #expect(error.description.hasSuffix("(set $MBC_RESOURCES to a directory holding it)"))
        }
        #expect(throws: ResourceNotFound.self) { try ResourceLocator().locate("/nonexistent/arm.urdf") }
    }
}
