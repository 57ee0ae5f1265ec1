import ControlCore

/// The activations a configuration may choose for hidden layers, by name (`silu`, `relu`, `tanh`, `elu`):
/// every `Activation` but `identity`, which would make a deep network linear.
public enum HiddenActivation: String, Sendable, Hashable, Codable, CaseIterable, ConfigChoice {
    /// z·logistic(z) (Elfwing et al. 2018; MBPO's "swish").
    case silu
    /// max(z, 0).
    case relu
    /// tanh z.
    case tanh
    /// z > 0 ? z : eᶻ − 1 (Clevert et al. 2016).
    case elu

    /// The kernel-level activation.
    public var activation: Activation {
        switch self {
        case .silu: .silu
        case .relu: .relu
        case .tanh: .tanh
        case .elu: .elu
        }
    }
}
