import ControlCore

/// Chosen by name in configs (`solver: exact`); an unknown name lists `iterative, exact`.
extension ConstraintSolver: ConfigChoice {}
