/// A model of `s' = f(s, a)` that planners and learners query in batches, whether it is the simulator or a
/// learned ensemble (they cannot tell which they are given).
///
/// Shapes: `states` (count × stateDimension), `actions` (count × actionDimension), row-major; the result
/// has the next state's mean and per-dimension variance, each (count × stateDimension), in the same units
/// as the states (a deterministic model returns zero variance).
public protocol DynamicsModel: AnyObject {
    var stateDimension: Int { get }
    var actionDimension: Int { get }
    func predict(states: [Double], actions: [Double], count: Int) -> (mean: [Double], variance: [Double])
}
