// RunSupport.swift: the options every config-taking command shares (--config, --seed, --set), run
// directories (--run-dir), machine-readable events (--events) and the SIGINT/SIGTERM handler.

import ArgumentParser
import Configuration
import ControlCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Config options

/// `--config FILE`, `--seed N`, `--set key.path=value` (repeatable), shared by every command that takes a config.
struct ConfigOptions: ParsableArguments {
    @Option(help: "YAML settings (see configs/); keys it leaves out keep their defaults.")
    var config: String?
    @Option(help: "Random seed: the config's `seed` (simulate: of the environment and the policy, default 1).")
    var seed: UInt64?
    @Option(name: .customLong("set"),
            help: ArgumentHelp("Override one setting, typed and range-checked like the file; repeatable, applied last (e.g. --set planner.horizon=20 --set arm.homePose=[0,0,0,-2,0,2,0]).",
                               valueName: "key.path=value"))
    var overrides: [String] = []

    /// The file over the defaults, then `extra` (from the command's own options), then `--seed` (into
    /// `seedKey`, when the config has one), then the `--set` overrides.
    /// - Throws: `ConfigError` naming the file and line (or the option) of the first problem.
    func load<T: Codable & ConfigRanges>(_ defaults: T, extra: [ConfigOverride] = [], seedKey: String? = "seed") throws -> T {
        var all = extra
        if let seed, let seedKey { all.append(ConfigOverride(keyPath: seedKey, yaml: String(seed), origin: "--seed \(seed)")) }
        all += try overrides.map(ConfigOverride.init(parsing:))
        return try ConfigLoader().load(defaults, file: config, overrides: all)
    }

    /// A robot file named by the config: found next to the config file, in the working directory, or in the
    /// installed resources (`ResourceLocator`). The name is kept when it resolves from the working
    /// directory, else replaced by the absolute path found.
    /// - Throws: `ResourceNotFound` listing where it looked.
    func locate(_ path: String) throws -> String {
        let found = try ResourceLocator(configFile: config).locate(path)
        return found == URL(fileURLWithPath: path).standardizedFileURL ? path : found.path
    }
}

/// An option of a command turned into an override of its config key, so it is typed, range-checked and
/// recorded like `--set`.
func override(_ keyPath: String, _ value: (some CustomStringConvertible)?, option: String) -> [ConfigOverride] {
    guard let value else { return [] }
    return [ConfigOverride(keyPath: keyPath, yaml: "\(value)", origin: "--\(option) \(value)")]
}

/// A string option taken literally (a path or a name), as an override of its config key.
func override(_ keyPath: String, string value: String?, option: String) -> [ConfigOverride] {
    guard let value else { return [] }
    return [ConfigOverride.string(keyPath, value, origin: "--\(option) \(value)")]
}

// MARK: - Run directories

/// `--run-dir DIR`, for commands that write outputs.
struct RunOptions: ParsableArguments {
    @Option(help: "Run directory: the resolved config.yaml (every value) and the command's outputs (default runs/<command>-<timestamp>).")
    var runDir: String?

    /// The chosen directory, or `runs/<command>-<timestamp>`.
    func directory(command: String) -> RunDirectory {
        RunDirectory(path: runDir ?? RunDirectory.defaultPath(command: command))
    }
}

/// Creates `dir` and writes `config` there as config.yaml (see `RunDirectory.prepare`); with `--resume`
/// and `forceConfig`, names on stderr the keys that changed.
func prepareRun<T: Codable & ConfigRanges>(_ dir: RunDirectory, config: T, defaults: T, command: String, resume: Bool = false,
                                           forceConfig: Bool = false, allowedChanges: Set<String> = [], resumable: Bool = false) throws {
    let stamp = ISO8601DateFormatter().string(from: Date())
    let changed = try dir.prepare(config: config, defaults: defaults, resume: resume, forceConfig: forceConfig,
                                  allowedChanges: allowedChanges, resumable: resumable,
                                  header: ["mbc \(command): resolved configuration (every value), written \(stamp).",
                                           "Run it again with: mbc \(command) --config \(dir.configURL.path)"])
    if !changed.isEmpty {
        FileHandle.standardError.write(Data("note: continuing \(dir.url.path) with changed settings: \(changed.joined(separator: ", "))\n".utf8))
    }
}

// MARK: - Events

/// `--events`, for long commands.
struct EventOptions: ParsableArguments {
    @Flag(help: "Machine-readable progress: one JSON object per line on stdout — {\"event\":\"progress\",\"step\":…,\"metrics\":{…}}, \"checkpoint\", and \"done\" with the summary; human lines go to stderr.")
    var events = false

    /// Turns events on for the process when requested.
    func activate() { if events { Events.shared.enable() } }
}

/// The process's event stream: JSON lines on stdout, written whole (unbuffered), from any thread.
final class Events: @unchecked Sendable {
    static let shared = Events()
    private let lock = NSLock()
    private var on = false

    var enabled: Bool { lock.withLock { on } }
    func enable() { lock.withLock { on = true } }

    /// Writes `{"event": name, …fields}` as one line when events are on.
    func emit(_ name: String, _ fields: [String: Any] = [:]) {
        guard enabled else { return }
        var object = fields
        object["event"] = name
        let line = jsonLine(object) + "\n"
        lock.withLock { FileHandle.standardOutput.write(Data(line.utf8)) }
    }

    /// A progress event: `step` counts the command's unit (control steps, epochs), `metrics` its numbers.
    func progress(step: Int, metrics: [String: Double], _ extra: [String: Any] = [:]) {
        guard enabled else { return }
        emit("progress", extra.merging(["step": step, "metrics": metrics]) { a, _ in a })
    }
}

// MARK: - Signals

/// SIGINT and SIGTERM end the command with a line saying what was kept (and an `interrupted` event), exit
/// status 128 + signal (130, 143). Files are written atomically, so an interrupted run never leaves a
/// half-written one; a command with a checkpoint (pets) can then be resumed.
final class Interrupts: @unchecked Sendable {
    static let shared = Interrupts()
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var note: @Sendable () -> String = { "nothing to resume: this command keeps no checkpoint" }

    /// Installs the handlers; `note` says what an interruption leaves (evaluated at the signal).
    func install(note: (@Sendable () -> String)? = nil) {
        lock.withLock {
            if let note { self.note = note }
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { Interrupts.shared.fire(sig) }
                source.resume()
                sources.append(source)
            }
        }
    }

    private func fire(_ sig: Int32) {
        let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
        let text = lock.withLock { note }()
        FileHandle.standardError.write(Data("\ninterrupted by \(name): \(text)\n".utf8))
        Events.shared.emit("interrupted", ["signal": name, "message": text])
        fflush(nil)
        _exit(128 + sig)
    }
}
