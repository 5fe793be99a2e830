// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libtorch comes from `scripts/bootstrap` (into .deps/) or from LIBTORCH=/dir (a directory with include/ and lib/).
let packageRoot = Context.packageDirectory
let libtorch: String = {
    let candidates = [Context.environment["LIBTORCH"], "\(packageRoot)/.deps/torch/torch"].compactMap { $0 }
    for dir in candidates where FileManager.default.fileExists(atPath: "\(dir)/include/ATen/ATen.h") {
        return dir
    }
    fatalError(
        """
        libtorch not found (looked in \(candidates.joined(separator: ", "))).
        Run `scripts/bootstrap` to install it into .deps/, or set LIBTORCH to a directory with include/ and lib/.
        """)
}()
let torchLib = "\(libtorch)/lib"

let package = Package(
    name: "Ponder",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "PonderCore", targets: ["PonderCore"]),
        .library(name: "PonderTokenizers", targets: ["PonderTokenizers"]),
        .library(name: "PonderModels", targets: ["PonderModels"]),
        .library(name: "PonderVerifiers", targets: ["PonderVerifiers"]),
        .library(name: "PonderTraining", targets: ["PonderTraining"]),
        .library(name: "PonderTasks", targets: ["PonderTasks"]),
        .library(name: "PonderSearch", targets: ["PonderSearch"]),
        .library(name: "PonderEval", targets: ["PonderEval"]),
        .library(name: "PonderConfiguration", targets: ["PonderConfiguration"]),
        .library(name: "PonderServer", targets: ["PonderServer"]),
        .library(name: "PonderRemote", targets: ["PonderRemote"]),
        .executable(name: "ponder", targets: ["ponder"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "CTorch",
            cxxSettings: [
                .unsafeFlags([
                    "-isystem", "\(libtorch)/include",
                    "-isystem", "\(libtorch)/include/torch/csrc/api/include",
                    "-D_GLIBCXX_USE_CXX11_ABI=1", "-Wno-deprecated-declarations",
                ]),
                // Declarations of the Gloo types ProcessGroupGloo.hpp names (the wheel ships no Gloo headers).
                .headerSearchPath("gloo-declarations"),
            ],
            linkerSettings: [
                .unsafeFlags(["-L\(torchLib)", "-Xlinker", "-rpath", "-Xlinker", torchLib]),
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
                .linkedLibrary("stdc++"),
            ]
        ),
        .target(
            name: "Torch",
            dependencies: ["CTorch", .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        .target(name: "PonderCore"),
        .target(
            name: "PonderConfiguration",
            dependencies: ["PonderCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(
            name: "PonderTokenizers",
            dependencies: ["PonderCore", .product(name: "HeapModule", package: "swift-collections")]
        ),
        .target(
            name: "PonderModels",
            dependencies: [
                "Torch", "PonderCore", "PonderTokenizers", .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "PonderVerifiers",
            dependencies: [
                "PonderCore", .product(name: "BigInt", package: "BigInt"), .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .target(name: "PonderTasks", dependencies: ["PonderCore", "PonderVerifiers"]),
        .target(
            name: "PonderSearch",
            dependencies: [
                "PonderCore", "PonderVerifiers", "PonderConfiguration", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "PonderEval", dependencies: ["PonderCore", "PonderVerifiers", "PonderTasks", "PonderSearch"]),
        .target(
            name: "PonderTraining",
            dependencies: [
                "PonderModels", "PonderTokenizers", "PonderVerifiers", "PonderCore", "PonderTasks", "PonderConfiguration", "PonderSearch",
                .product(name: "Logging", package: "swift-log"), .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "PonderServer",
            dependencies: [
                "PonderCore", "PonderModels", "PonderTokenizers", "PonderSearch", "PonderVerifiers", "PonderConfiguration",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "PonderRemote",
            dependencies: [
                "PonderCore", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ponder",
            dependencies: [
                "PonderModels", "PonderTraining", "PonderVerifiers", "PonderTasks", "PonderEval", "PonderSearch", "PonderConfiguration",
                "PonderServer", "PonderRemote",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "tokenizer-bench",
            dependencies: ["PonderCore", "PonderTokenizers", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "verifier-bench", dependencies: ["PonderCore", "PonderVerifiers"]),
        .executableTarget(
            name: "ponder-fuzz", dependencies: ["PonderCore", "PonderVerifiers", "PonderTokenizers", "PonderModels", "Torch"]),
        .executableTarget(name: "torch-bench", dependencies: ["Torch"], path: "Benchmarks/torch/Sources"),
        .executableTarget(name: "grpo-bench", dependencies: ["PonderTraining", "PonderTasks"], path: "Benchmarks/grpo/Sources"),
        .executableTarget(
            name: "serve-bench",
            dependencies: ["PonderModels", "PonderCore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Benchmarks/serve/Sources"
        ),
        .executableTarget(name: "engine-bench", dependencies: ["PonderModels", "PonderCore"], path: "Benchmarks/engine/Sources"),
        .executableTarget(
            name: "continuous-bench", dependencies: ["PonderModels", "PonderCore", "PonderTokenizers"], path: "Benchmarks/engine/Continuous"),
        .testTarget(name: "TorchTests", dependencies: ["Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PonderModelsTests", dependencies: ["PonderModels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PonderCoreTests", dependencies: ["PonderCore"]),
        .testTarget(name: "PonderTokenizersTests", dependencies: ["PonderTokenizers", "PonderCore"], exclude: ["Fixtures"]),
        .testTarget(name: "PonderVerifiersTests", dependencies: ["PonderCore", "PonderVerifiers"], exclude: ["Fixtures"]),
        .testTarget(name: "PonderTasksTests", dependencies: ["PonderTasks", "PonderVerifiers"]),
        .testTarget(name: "PonderSearchTests", dependencies: ["PonderSearch", "PonderCore", "PonderVerifiers"]),
        .testTarget(name: "PonderEvalTests", dependencies: ["PonderEval", "PonderTasks", "PonderCore"]),
        .testTarget(name: "PonderConfigurationTests", dependencies: ["PonderConfiguration", "PonderTraining", "PonderSearch"]),
        .testTarget(
            name: "PonderServerTests",
            dependencies: [
                "PonderServer", "PonderRemote", "PonderModels", "PonderCore", "PonderSearch",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "PonderCLITests", dependencies: ["ponder", "PonderTokenizers", "Torch"]),
        .testTarget(name: "PonderTrainingTests", dependencies: ["PonderTraining", "PonderTasks", "PonderSearch"], resources: [.copy("Fixtures")]),
    ],
    cxxLanguageStandard: .cxx20
)
