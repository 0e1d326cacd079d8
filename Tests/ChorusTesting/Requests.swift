/// Builders for the client requests of PROTOCOL.md section 4. Every user-supplied value is
/// XML-escaped here; tests that need raw markup build their frames by hand.
public enum Request {
    /// Escapes the five XML special characters.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// `<XmlDoc><Action>ACTION</Action><Parameters>PARAMETERS</Parameters></XmlDoc>`.
    public static func envelope(_ action: String, _ parameters: String = "") -> String {
        "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>"
    }

    public static func login(_ name: String, password: String = "", variables: [(String, String)] = []) -> String {
        let items = variables.map { "<UserVariable><Name>\(escape($0.0))</Name><Data>\(escape($0.1))</Data></UserVariable>" }
        return envelope("Login", "<Name>\(escape(name))</Name><Password>\(escape(password))</Password><UserVariables>\(items.joined())</UserVariables>")
    }

    public static func createRoom(_ name: String, zone: String = "", password: String? = nil, capacity: Int? = nil,
                           hidden: Bool = false, description: String? = nil) -> String {
        var room = "<Room Hidden=\"\(hidden)\" Updatable=\"true\" Numbered=\"false\" FloodingFilterEnabled=\"true\" UserVariablesEnabled=\"false\">"
        room += "<Name>\(escape(name))</Name>"
        if let password { room += "<Password>\(escape(password))</Password>" }
        if let description { room += "<Description>\(escape(description))</Description>" }
        if let capacity { room += "<Capacity>\(capacity)</Capacity>" }
        room += "<RoomVariables/><Plugins/></Room>"
        return envelope("CreateRoom", "<Zone><Name>\(escape(zone))</Name>\(room)</Zone>")
    }

    public static func joinRoom(_ name: String, zone: String = "Chat", password: String = "") -> String {
        envelope("JoinRoom", "<Zone><Name>\(escape(zone))</Name><Room><Name>\(escape(name))</Name><Password>\(escape(password))</Password><Numbered>true</Numbered></Room></Zone>")
    }

    public static func publicMessage(_ text: String, variables: [(String, String)] = []) -> String {
        envelope("SendPublicMessage", "<Message>\(escape(text))</Message>\(variablesXML(variables))")
    }

    public static func privateMessage(to users: [String], _ text: String, variables: [(String, String)] = []) -> String {
        let list = users.map { "<User>\(escape($0))</User>" }.joined()
        return envelope("SendPrivateMessage", "<Users>\(list)</Users><Message>\(escape(text))</Message>\(variablesXML(variables))")
    }

    public static func getRoomsInZone(_ zone: String) -> String {
        envelope("GetRoomsInZone", "<Zone>\(escape(zone))</Zone>")
    }

    public static let ping = envelope("Ping")
    public static let leaveRoom = envelope("LeaveRoom")
    public static let logout = envelope("Logout")
    public static let getLoggedInUserCount = envelope("GetLoggedInUserCount")
    public static let getServerTime = envelope("GetServerTime")

    private static func variablesXML(_ variables: [(String, String)]) -> String {
        let items = variables.map { "<Variable><Name>\(escape($0.0))</Name><Data>\(escape($0.1))</Data></Variable>" }
        return "<Variables>\(items.joined())</Variables>"
    }
}
