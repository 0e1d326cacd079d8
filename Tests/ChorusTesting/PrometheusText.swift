/// A scrape in the Prometheus text format (version 0.0.4), parsed strictly: every line is a
/// comment (`# TYPE`, `# HELP`, others), empty, or a sample `name{label="value",...} value`.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable, Equatable {
        public let name: String
        public let labels: [String: String]
        public let value: Double
    }

    public let samples: [Sample]
    /// `# TYPE` lines: metric name → counter, gauge, histogram, summary or untyped.
    public let types: [String: String]

    public struct Malformed: Error, CustomStringConvertible {
        public let line: String
        public let why: String
        public var description: String { "not Prometheus text (\(why)): \(line)" }
    }

    public init(_ text: String) throws {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3)
                if parts.count >= 4, parts[1] == "TYPE" {
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                        throw Malformed(line: line, why: "unknown type")
                    }
                    types[String(parts[2])] = String(parts[3])
                }
                continue
            }
            samples.append(try Self.sample(line))
        }
        self.samples = samples
        self.types = types
    }

    /// The value of the sample with this name and exactly these labels.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum over every sample of this name whose labels include `labels`.
    public func sum(_ name: String, where labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    private static func sample(_ line: String) throws -> Sample {
        var index = line.startIndex
        func isNameCharacter(_ c: Character, first: Bool) -> Bool {
            c == "_" || c == ":" || (c.isASCII && c.isLetter) || (!first && c.isASCII && c.isNumber)
        }
        let nameStart = index
        while index < line.endIndex, isNameCharacter(line[index], first: index == nameStart) { index = line.index(after: index) }
        let name = String(line[nameStart..<index])
        guard !name.isEmpty else { throw Malformed(line: line, why: "no metric name") }
        var labels: [String: String] = [:]
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                let keyStart = index
                while index < line.endIndex, isNameCharacter(line[index], first: index == keyStart), line[index] != ":" {
                    index = line.index(after: index)
                }
                let key = String(line[keyStart..<index])
                guard !key.isEmpty, index < line.endIndex, line[index] == "=" else { throw Malformed(line: line, why: "bad label name") }
                index = line.index(after: index)
                guard index < line.endIndex, line[index] == "\"" else { throw Malformed(line: line, why: "unquoted label value") }
                index = line.index(after: index)
                var value = ""
                while true {
                    guard index < line.endIndex else { throw Malformed(line: line, why: "unterminated label value") }
                    let c = line[index]
                    index = line.index(after: index)
                    if c == "\"" { break }
                    if c == "\\" {
                        guard index < line.endIndex else { throw Malformed(line: line, why: "bad escape") }
                        let escaped = line[index]
                        index = line.index(after: index)
                        switch escaped {
                        case "n": value.append("\n")
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        default: throw Malformed(line: line, why: "bad escape")
                        }
                    } else {
                        value.append(c)
                    }
                }
                guard labels[key] == nil else { throw Malformed(line: line, why: "label \(key) twice") }
                labels[key] = value
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw Malformed(line: line, why: "unterminated labels") }
            index = line.index(after: index)
        }
        guard index < line.endIndex, line[index] == " " else { throw Malformed(line: line, why: "no space before the value") }
        let fields = line[line.index(after: index)...].split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { throw Malformed(line: line, why: "value and at most a timestamp") }
        let text = String(fields[0])
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let number = Double(text) else { throw Malformed(line: line, why: "value is not a number") }
            value = number
        }
        return Sample(name: name, labels: labels, value: value)
    }
}
