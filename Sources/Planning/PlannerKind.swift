import ControlCore
import Foundation

// MARK: - Kind

/// The trajectory optimizers this module provides, chosen by configuration and built by a `switch`
/// (an enum, not strings resolved at run time).
public enum PlannerKind: String, CaseIterable, Codable, Sendable {
    /// Cross-entropy method as in PETS (Chua et al. 2018): ``CEMOptimizer``.
    case cem
    /// Improved CEM (Pinneri et al. 2020): ``ICEMOptimizer``.
    case icem
    /// Model-predictive path integral (Williams et al. 2017): ``MPPIOptimizer``.
    case mppi

    /// Builds the optimizer of this kind from the matching section of `configuration`.
    ///
    /// - Parameters:
    ///   - horizon: time steps H ≥ 1 (`configuration.horizon` is not read here, so callers can override it).
    ///   - actionBounds: finite per-dimension bounds.
    ///   - configuration: the `cem`, `icem` or `mppi` section is used according to `self`.
    /// - Returns: a fresh optimizer with no kept state.
    public func makeOptimizer(horizon: Int, actionBounds: BoxSpace,
                              configuration: PlannerConfiguration = PlannerConfiguration()) -> any TrajectoryOptimizer {
        switch self {
        case .cem: return CEMOptimizer(horizon: horizon, actionBounds: actionBounds, configuration: configuration.cem)
        case .icem: return ICEMOptimizer(horizon: horizon, actionBounds: actionBounds, configuration: configuration.icem)
        case .mppi: return MPPIOptimizer(horizon: horizon, actionBounds: actionBounds, configuration: configuration.mppi)
        }
    }
}

// MARK: - Planner configuration

/// Everything that configures model-predictive control with one of the optimizers (receding-horizon MPC as in PETS, Chua et al. 2018).
/// Decoding is synthesized; the YAML loader (`Configuration.ConfigLoader`) and
/// `ConfigCoding.decode(_:fromJSON:)` merge a document over the defaults, so it need only name what it
/// changes. Ranges: `PlannerConfiguration+Ranges.swift`.
public struct PlannerConfiguration: Codable, Sendable, Equatable {
    /// Which optimizer to use. Default `.cem`.
    public var kind: PlannerKind = .cem
    /// Planning horizon H in control steps. Default 25 (PETS uses 25–30).
    public var horizon: Int = 25
    /// Execute this many actions of each plan before replanning, k ≥ 1. Default 1 (replan every step).
    public var replanInterval: Int = 1
    /// Warm start each plan from the previous one shifted by k steps (tail filled with the bound
    /// midpoint); false starts every plan from the midpoint. Default true.
    public var warmStart: Bool = true
    /// Hold each planned action for this many control steps (r ≥ 1): the plan has `horizon` decisions
    /// covering horizon · r control steps, and k = `replanInterval` counts decisions. Default 1.
    public var actionRepeat: Int = 1
    /// Wall-clock budget per plan, seconds (0 = none): the optimizer stops after the iteration during which
    /// the budget ran out (the first iteration always completes) and the plan uses what it has. Default 0.
    public var deadline: Double = 0
    /// Settings used when `kind == .cem`.
    public var cem: CEMConfiguration = CEMConfiguration()
    /// Settings used when `kind == .icem`.
    public var icem: ICEMConfiguration = ICEMConfiguration()
    /// Settings used when `kind == .mppi`.
    public var mppi: MPPIConfiguration = MPPIConfiguration()

    public init(kind: PlannerKind = .cem, horizon: Int = 25, replanInterval: Int = 1, warmStart: Bool = true,
                cem: CEMConfiguration = CEMConfiguration(), icem: ICEMConfiguration = ICEMConfiguration(),
                mppi: MPPIConfiguration = MPPIConfiguration()) {
        self.kind = kind; self.horizon = horizon; self.replanInterval = replanInterval; self.warmStart = warmStart
        self.cem = cem; self.icem = icem; self.mppi = mppi
    }
}

extension PlannerConfiguration {
    /// The most candidates the configured optimizer passes to its cost in one call (its population; iCEM's
    /// first iteration plus kept elites), for sizing a model's scratch buffers.
    public var maximumPopulation: Int {
        switch kind {
        case .cem: return cem.populationSize
        case .icem: return icem.populationSize + icem.eliteCount + 1
        case .mppi: return mppi.sampleCount
        }
    }
}
