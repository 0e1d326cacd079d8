/// The stable reason strings of the protocol (docs/protocol.md, "Reasons"). Clients and tests
/// match these byte for byte; `allCases` is what the document's reason table is checked against.
public enum Reason: String, Sendable, Error, Equatable, CaseIterable {
    // Connection
    case serverFull = "Server is full"
    case addressBanned = "Address is banned"
    // Login
    case nameRequired = "Name is required"
    case nameTooLong = "Name is too long"
    case nameInvalid = "Name contains invalid characters"
    case nameInUse = "Name is already in use"
    case alreadyLoggedIn = "Already logged in"
    case incorrectPassword = "Incorrect password"
    case tooManyAttempts = "Too many attempts"
    case nameBanned = "Name is banned"
    case clusterUnavailable = "Cluster unavailable"
    // Rooms
    case roomExists = "Room already exists"
    case roomNameRequired = "Room name is required"
    case roomNameTooLong = "Room name is too long"
    case roomNameInvalid = "Room name contains invalid characters"
    case tooManyRooms = "Too many rooms"
    case descriptionTooLong = "Description is too long"
    case notLoggedIn = "Not logged in"
    case roomDoesNotExist = "Room does not exist"
    case roomFull = "Room is full"
    case alreadyInRoom = "Already in room"
    case notInRoom = "Not in a room"
    // Messages
    case messageTooLong = "Message is too long"
    case flooding = "Flooding"
    case userNotFound = "User not found"
    case tooManyRecipients = "Too many recipients"
    case messagesLost = "Messages lost"
    // Moderation
    case notAllowed = "Not allowed"
    // Frames
    case malformedMessage = "Malformed message"
    case messageTooLarge = "Message too large"
    case unknownAction = "Unknown action"
    // Sessions ended by the server
    case idleTimeout = "Idle timeout"
    case serverShuttingDown = "Server shutting down"
}
