import ControlCore
import Foundation
import Testing
@testable import Planning

@Suite("Planner kinds and configuration")
struct PlannerKindTests {
    @Test("the factory builds each kind with the requested shape")
    func factory() {
        let bounds = BoxSpace(dimension: 3, bound: 1)
        for kind in PlannerKind.allCases {
            let opt = kind.makeOptimizer(horizon: 7, actionBounds: bounds)
            #expect(opt.horizon == 7 && opt.actionDimension == 3 && opt.sequenceLength == 21)
            switch kind {
            case .cem: #expect(opt is CEMOptimizer)
            case .icem: #expect(opt is ICEMOptimizer)
            case .mppi: #expect(opt is MPPIOptimizer)
            }
        }
        #expect(PlannerKind.allCases.map(\.rawValue) == ["cem", "icem", "mppi"])
    }

    @Test("an empty document decodes to the defaults; a partial one overrides only what it names")
    func decodingDefaults() throws {
        // the generic decoder merges a document over the defaults (the types use synthesized Codable)
        let empty = try ConfigCoding.decode(PlannerConfiguration(), fromJSON: Data("{}".utf8))
        #expect(empty == PlannerConfiguration())
        #expect(empty.cem == CEMConfiguration(populationSize: 500, eliteCount: 50, iterations: 5, smoothing: 0.1,
                                              initialVarianceFraction: 1.0 / 16.0))
        #expect(empty.icem.populationSize == 300 && empty.icem.eliteCount == 10 && empty.icem.iterations == 3)
        #expect(empty.icem.noiseExponent == 2 && empty.icem.populationDecay == 1.25 && empty.icem.keptEliteFraction == 0.3)
        #expect(empty.mppi == MPPIConfiguration(sampleCount: 500, temperature: 1, noiseStdFraction: 0.5, iterations: 1))
        let partial = try ConfigCoding.decode(PlannerConfiguration(), fromJSON: Data(
            #"{"kind": "icem", "horizon": 12, "icem": {"eliteCount": 5}, "mppi": {"temperature": 0.5}}"#.utf8))
        #expect(partial.kind == .icem && partial.horizon == 12 && partial.replanInterval == 1)
        #expect(partial.icem.eliteCount == 5 && partial.icem.populationSize == 300)
        #expect(partial.mppi.temperature == 0.5 && partial.mppi.sampleCount == 500)
    }

    @Test("configurations round-trip through JSON")
    func roundTrip() throws {
        var cfg = PlannerConfiguration(kind: .mppi, horizon: 9, replanInterval: 2, warmStart: false)
        cfg.cem.minimumVarianceFraction = 1e-3
        cfg.icem.returnBestSample = false
        cfg.mppi.iterations = 3
        let data = try JSONEncoder().encode(cfg)
        #expect(try JSONDecoder().decode(PlannerConfiguration.self, from: data) == cfg)
    }
}
