import CTorch

/// Element type of a tensor. Raw values are libtorch's `c10::ScalarType` codes.
public enum DType: Int32, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case int16 = 2
    case int32 = 3
    case int64 = 4
    case float16 = 5
    case float32 = 6
    case float64 = 7
    case bool = 11
    case bfloat16 = 15

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .int16, .float16, .bfloat16: 2
        case .int32, .float32: 4
        case .int64, .float64: 8
        }
    }

    /// Whether the type holds floating-point numbers (and so can require gradients).
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }

    /// The dtype's name in a safetensors header (`F32`, `BF16`, ...).
    public var safetensorsName: String {
        switch self {
        case .uint8: "U8"
        case .int8: "I8"
        case .int16: "I16"
        case .int32: "I32"
        case .int64: "I64"
        case .float16: "F16"
        case .float32: "F32"
        case .float64: "F64"
        case .bool: "BOOL"
        case .bfloat16: "BF16"
        }
    }

    /// The dtype named by a safetensors header, or `nil` for a name Ponder does not support.
    public init?(safetensorsName: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    /// The dtype named as in `config.json`'s `torch_dtype` (`float32`, `bfloat16`, ...), or `nil`.
    public init?(name: String) {
        let aliases: [String: DType] = ["float": .float32, "half": .float16, "double": .float64, "long": .int64, "int": .int32]
        if let d = aliases[name] {
            self = d
            return
        }
        guard let match = DType.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    public var description: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .bool: "bool"
        case .bfloat16: "bfloat16"
        }
    }
}

/// A Swift type that can be copied into and out of a tensor element by element.
public protocol TensorElement: Sendable {
    /// The dtype whose memory layout equals this Swift type's.
    static var dtype: DType { get }
}

extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
#if !(os(macOS) && arch(x86_64))
    extension Float16: TensorElement { public static var dtype: DType { .float16 } }
#endif

/// A Swift number usable as the scalar operand of a tensor op. Integer scalars keep integer tensors integral;
/// floating scalars promote them to floating point, as in PyTorch.
public protocol TensorScalar: Sendable {
    /// The scalar in the C API's tagged form.
    var ptScalar: pt_scalar { get }
}

extension Double: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: self, i: 0, kind: 0) } }
extension Float: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: Double(self), i: 0, kind: 0) } }
extension Int: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: 0, i: Int64(self), kind: 1) } }
extension Int64: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: 0, i: self, kind: 1) } }
extension Int32: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: 0, i: Int64(self), kind: 1) } }
extension Bool: TensorScalar { public var ptScalar: pt_scalar { pt_scalar(d: 0, i: self ? 1 : 0, kind: 2) } }
