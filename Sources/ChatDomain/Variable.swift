/// A name/data pair: user variables, message variables, room variables.
public struct Variable: Hashable, Sendable {
    public var name: String
    public var data: String
    public init(name: String, data: String) {
        self.name = name
        self.data = data
    }
}
