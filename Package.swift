// swift-tools-version:6.0
import PackageDescription

// ModelBasedControl: model-based control and robotics on the Open Dynamics Engine.
// Module map and seams: docs/ARCHITECTURE.md.
let package = Package(
    name: "ModelBasedControl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mbc", targets: ["mbc"]),
        .library(name: "ModelBasedControl",
                 targets: ["ControlCore", "Physics", "Robots", "Environments", "Recording", "Datasets", "NeuralNets", "Dynamics", "Planning", "Control", "Learning", "LinAlg", "Configuration", "Plotting", "Viewer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // MARK: - C and C++ seams
        .systemLibrary(name: "CODE", path: "Sources/CODE", pkgConfig: "ode",
                       providers: [.apt(["libode-dev"])]),
        .systemLibrary(name: "CEigen", path: "Sources/CEigen", pkgConfig: "eigen3",
                       providers: [.apt(["libeigen3-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "ODEBridge", dependencies: ["CODE"], path: "Sources/ODEBridge"),
        .target(name: "LinAlg", dependencies: ["CEigen", "COpenBLAS"], path: "Sources/LinAlg",
                cxxSettings: [.define("EIGEN_NO_DEBUG")]),

        // MARK: - Swift layers (bottom to top)
        .target(name: "ControlCore"),
        .target(name: "Physics", dependencies: ["ControlCore", "ODEBridge"]),
        .target(name: "Robots", dependencies: ["ControlCore", "Physics"]),
        .target(name: "Environments", dependencies: ["ControlCore", "Physics", "Robots"]),
        .target(name: "Recording", dependencies: ["ControlCore", "Physics", "Robots", "Environments", "Datasets"]),
        .target(name: "Datasets", dependencies: ["ControlCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "NeuralNets", dependencies: ["ControlCore", "LinAlg"]),
        .target(name: "Dynamics", dependencies: ["ControlCore", "Datasets", "NeuralNets", "LinAlg"]),
        .target(name: "Planning", dependencies: ["ControlCore"]),
        .target(name: "Control", dependencies: ["ControlCore", "Physics", "Environments", "Recording", "Planning", "Dynamics", "Datasets", "Robots"]),
        .target(name: "Learning", dependencies: ["ControlCore", "NeuralNets", "LinAlg", "Environments", "Datasets", "Dynamics", "Control"]),
        .target(name: "SystemIdentification", dependencies: ["ControlCore", "Physics", "Robots", "Datasets", "LinAlg"]),
        .target(name: "Plotting"),
        .target(name: "Viewer", dependencies: ["ControlCore", "Robots", "Datasets"]),
        .target(name: "Configuration", dependencies: ["ControlCore", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "mbc", dependencies: [
            "ControlCore", "Physics", "Robots", "Environments", "Recording", "Datasets", "Dynamics", "NeuralNets", "Planning", "Control", "Learning", "LinAlg", "Configuration", "Plotting", "Viewer", "SystemIdentification",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: - Tests (one target per module)
        .testTarget(name: "ControlCoreTests", dependencies: ["ControlCore"]),
        .testTarget(name: "PhysicsTests", dependencies: ["Physics", "ControlCore"]),
        .testTarget(name: "RobotsTests", dependencies: ["Robots", "Physics", "ControlCore"], exclude: ["Fixtures"]),
        .testTarget(name: "EnvironmentsTests", dependencies: ["Environments", "Robots", "ControlCore", "Physics"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "Environments", "Robots", "ControlCore", "Datasets", "Physics"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ControlCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .testTarget(name: "LinAlgTests", dependencies: ["LinAlg"]),
        .testTarget(name: "NeuralNetsTests", dependencies: ["NeuralNets", "LinAlg", "ControlCore"]),
        .testTarget(name: "DynamicsTests", dependencies: ["Dynamics", "Datasets", "ControlCore"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "ControlCore"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "Environments", "Recording", "Planning", "ControlCore", "Dynamics", "Datasets", "Robots"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "ControlCore", "Environments", "Dynamics", "Planning", "Control", "NeuralNets", "Physics", "Learning", "Robots"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "NeuralNets", "Environments", "ControlCore", "Datasets", "Dynamics", "Control"]),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "SystemIdentificationTests", dependencies: ["SystemIdentification", "Robots", "Physics", "Datasets", "ControlCore", "Environments"]),
        .testTarget(name: "ViewerTests", dependencies: ["Viewer", "Robots", "Datasets", "ControlCore"]),
        .testTarget(name: "MBCTests", dependencies: ["mbc", "Datasets"]),
    ],
    cxxLanguageStandard: .cxx17
)
