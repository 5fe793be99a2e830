import ArgumentParser
import Foundation

/// Configuration structs are `ParsableArguments`: each knob is declared once, with its default and help text, and is
/// reachable three ways: from flags, from a JSON file (`--config file.json`, whose keys become flags placed before
/// the ones typed, so typed flags win), and from Swift (`try GRPOTrainer.Configuration.parse(["--beta", "0.04"])`, or
/// `.defaults` and then setting fields).
///
/// Read a configuration only once it was parsed: ArgumentParser stops the program when a property of a directly
/// initialised (`init()`) value is read. Use ``defaults`` or `parse(_:)` to make one.
extension ParsableArguments {
    /// Every knob at its default.
    public static var defaults: Self {
        do { return try parse([]) } catch { fatalError("\(Self.self) has a knob without a default: \(error)") }
    }

    /// The effective values as a JSON object: snake_case keys (TRL's spelling), option groups flattened, unset
    /// optionals left out. ``ConfigurationFile/arguments(from:path:)`` reads it back.
    public var configurationJSON: [String: Any] {
        var out: [String: Any] = [:]
        for child in Mirror(reflecting: self).children {
            guard var label = child.label, label.hasPrefix("_") else { continue }
            label.removeFirst()
            if let group = child.value as? any ConfigurationGroup {
                for (k, v) in group.nested.configurationJSON { out[k] = v }
            } else if let field = child.value as? any ConfigurationField, let value = ConfigurationFile.jsonValue(field.anyValue) {
                out[ConfigurationFile.snakeCase(label)] = value
            }
        }
        return out
    }

    /// ``configurationJSON`` as pretty-printed text with sorted keys.
    public var configurationText: String {
        let data = (try? JSONSerialization.data(withJSONObject: configurationJSON, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// An option or flag whose value can be written to a configuration file.
protocol ConfigurationField { var anyValue: Any { get } }
/// An option group, written flattened.
protocol ConfigurationGroup { var nested: any ParsableArguments { get } }

extension Option: ConfigurationField { var anyValue: Any { wrappedValue } }
extension Flag: ConfigurationField { var anyValue: Any { wrappedValue } }
extension OptionGroup: ConfigurationGroup { var nested: any ParsableArguments { wrappedValue } }

/// Configuration files: JSON objects whose keys name flags.
public enum ConfigurationFile {
    /// Expands `--config FILE` (or `--config=FILE`) in a subcommand's arguments: the file's flags are inserted right
    /// after the subcommand name, so every flag typed on the command line overrides them. `--config` stays in place.
    public static func expand(_ arguments: [String]) throws -> [String] {
        var path: String?
        for (i, a) in arguments.enumerated() {
            if a == "--config", i + 1 < arguments.count { path = arguments[i + 1] }
            if a.hasPrefix("--config=") { path = String(a.dropFirst("--config=".count)) }
        }
        guard let path, !arguments.isEmpty else { return arguments }
        return [arguments[0]] + (try self.arguments(fromFile: path)) + arguments.dropFirst()
    }

    /// The flags a configuration file stands for.
    public static func arguments(fromFile path: String) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ValidationError("--config \(path): cannot read (\(error.localizedDescription))")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ValidationError("--config \(path): not a JSON object")
        }
        return try arguments(from: object, path: path)
    }

    /// The flags for a configuration object: `"num_generations": 8` → `--num-generations 8`; `true` → `--flag`,
    /// `false` → `--no-flag`; a list repeats the flag for each value; nested objects are flattened; `null` is skipped.
    public static func arguments(from object: [String: Any], path: String = "<config>") throws -> [String] {
        var out: [String] = []
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            let flag = "--" + kebabCase(key)
            switch value {
            case is NSNull: continue
            case let nested as [String: Any]: out += try arguments(from: nested, path: path)
            case let list as [Any]:
                // The flag before each value, so single-value and multi-value list options both read it.
                for item in list { out += [flag, try scalar(item, key: key, path: path)] }
            case let n as NSNumber where String(cString: n.objCType) == "c":  // JSON booleans
                out.append(n.boolValue ? flag : "--no-" + kebabCase(key))
            default: out += [flag, try scalar(value, key: key, path: path)]
            }
        }
        return out
    }

    static func scalar(_ value: Any, key: String, path: String) throws -> String {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: throw ValidationError("--config \(path): \"\(key)\" must be a string, number, boolean or list of them")
        }
    }

    /// A Swift value as JSON (`nil` for an unset optional).
    static func jsonValue(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional { return mirror.children.first.flatMap { jsonValue($0.value) } }
        switch value {
        case let b as Bool: return b
        case let i as Int: return i
        case let u as UInt64: return NSNumber(value: u)
        case let d as Double: return d
        case let s as String: return s
        case let r as any RawRepresentable: return r.rawValue
        case let list as [Any]: return list.compactMap { jsonValue($0) }
        default: return String(describing: value)
        }
    }

    /// `numGenerations` → `num_generations`, `useBiasCorrectionKL` → `use_bias_correction_kl` (a run of capitals is
    /// one word, as ArgumentParser names flags).
    public static func snakeCase(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 {
                let previous = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out += "_" }
            }
            out += c.lowercased()
        }
        return out
    }

    /// `num_generations` or `numGenerations` → `num-generations`.
    public static func kebabCase(_ name: String) -> String { snakeCase(name).replacingOccurrences(of: "_", with: "-") }
}
