import ControlCore

/// Chosen by name in configs (`env: arm-reach`); an unknown name lists the built-in environments.
extension EnvironmentKind: ConfigChoice {}
