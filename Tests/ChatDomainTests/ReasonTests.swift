import ChatDomain
import Testing

/// Reasons are stable strings (PROTOCOL.md section 6): clients and tests match them byte for byte.
@Suite struct ReasonTests {
    /// Every reason of the enum and the exact string PROTOCOL.md (or, for the two
    /// session-ending notices, the node's `Error` before it closes a session) gives it.
    static let table: [(Reason, String)] = [
        (.serverFull, "Server is full"),
        (.nameRequired, "Name is required"),
        (.nameTooLong, "Name is too long"),
        (.nameInvalid, "Name contains invalid characters"),
        (.nameInUse, "Name is already in use"),
        (.alreadyLoggedIn, "Already logged in"),
        (.incorrectPassword, "Incorrect password"),
        (.tooManyAttempts, "Too many attempts"),
        (.clusterUnavailable, "Cluster unavailable"),
        (.roomExists, "Room already exists"),
        (.roomNameRequired, "Room name is required"),
        (.roomNameTooLong, "Room name is too long"),
        (.roomNameInvalid, "Room name contains invalid characters"),
        (.tooManyRooms, "Too many rooms"),
        (.notLoggedIn, "Not logged in"),
        (.roomDoesNotExist, "Room does not exist"),
        (.roomFull, "Room is full"),
        (.alreadyInRoom, "Already in room"),
        (.notInRoom, "Not in a room"),
        (.messageTooLong, "Message is too long"),
        (.flooding, "Flooding"),
        (.userNotFound, "User not found"),
        (.malformedMessage, "Malformed message"),
        (.messageTooLarge, "Message too large"),
        (.unknownAction, "Unknown action"),
        (.idleTimeout, "Idle timeout"),
        (.serverShuttingDown, "Server shutting down"),
        (.descriptionTooLong, "Description is too long"),
        (.tooManyRecipients, "Too many recipients"),
        (.messagesLost, "Messages lost"),
        (.addressBanned, "Address is banned"),
        (.nameBanned, "Name is banned"),
        (.notAllowed, "Not allowed"),
    ]

    @Test("raw value is the protocol string", arguments: table)
    func rawValue(_ entry: (Reason, String)) {
        #expect(entry.0.rawValue.utf8.elementsEqual(entry.1.utf8))
        #expect(Reason(rawValue: entry.1) == entry.0)
    }

    /// The table holds 33 distinct reasons with 33 distinct strings. The exhaustive switch
    /// stops compiling when a case is added to `Reason`: the reminder to add it to `table`
    /// and to raise the count.
    @Test func tableListsEveryReasonOnce() {
        func caseCount(_ reason: Reason) -> Int {
            switch reason {
            case .serverFull, .nameRequired, .nameTooLong, .nameInvalid, .nameInUse, .alreadyLoggedIn,
                 .incorrectPassword, .tooManyAttempts, .clusterUnavailable, .roomExists, .roomNameRequired, .roomNameTooLong,
                 .roomNameInvalid, .tooManyRooms, .notLoggedIn, .roomDoesNotExist, .roomFull, .alreadyInRoom,
                 .notInRoom, .messageTooLong, .flooding, .userNotFound, .malformedMessage, .messageTooLarge,
                 .unknownAction, .idleTimeout, .serverShuttingDown, .descriptionTooLong,
                 .tooManyRecipients, .messagesLost, .addressBanned, .nameBanned, .notAllowed:
                return 33
            }
        }
        #expect(Set(Self.table.map(\.0)).count == caseCount(.flooding))
        #expect(Set(Self.table.map(\.1)).count == caseCount(.flooding))
    }

    /// The reasons PROTOCOL.md sections 1-4, 6 and 7 name (and section 5's moderation), each resolvable to a `Reason`.
    @Test("every protocol reason exists", arguments: [
        "Server is full", "Malformed message", "Message too large", "Unknown action",
        "Name is required", "Name is too long", "Name contains invalid characters", "Name is already in use",
        "Already logged in", "Incorrect password", "Too many attempts", "Cluster unavailable",
        "Room already exists", "Room name is required", "Room name is too long",
        "Room name contains invalid characters", "Too many rooms", "Not logged in",
        "Room does not exist", "Room is full", "Already in room", "Not in a room",
        "Message is too long", "Flooding", "User not found", "Description is too long", "Too many recipients", "Messages lost",
        "Name is banned", "Address is banned", "Not allowed",
    ])
    func protocolReasonExists(_ text: String) throws {
        let reason = try #require(Reason(rawValue: text))
        #expect(reason.rawValue == text)
    }
}
