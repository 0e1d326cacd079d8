import ChatDomain
import NIOCore

/// What a node needs from "the cluster": one shared set of names, rooms and zones, and one
/// ordered stream of events per room.
///
/// Every operation is atomic on the cluster state. Events caused by an operation are not
/// returned to its caller: they reach every node, the calling node included, through the
/// one ``ClusterEventSink`` given to ``start(sink:)``, in the cluster's order. That is what
/// lets all members of a room see one and the same order of joins, leaves and messages.
///
/// Implementations: ``InProcessBus`` (one node, no Redis) and `RedisClusterBus`.
public protocol ClusterBus: AnyObject, Sendable {
    /// This node's identity in the cluster (fresh for every start).
    var nodeID: NodeID { get }

    /// Connects, registers the node and its permanent rooms, and starts delivering events.
    func start(sink: any ClusterEventSink) async throws

    /// Removes every session of this node from the cluster, then disconnects.
    func shutdown() async

    /// Whether the bus reaches the cluster state store now (started, connected and
    /// recovered): what a node's readiness (PROTOCOL.md section 9) and the
    /// `chorus_cluster_available` gauge report. Cheap: no I/O.
    var isAvailable: Bool { get }

    /// The number of rooms in the cluster, permanent rooms included.
    func roomCount() async throws(ClusterError) -> Int

    /// Claims the session's name cluster-wide and puts the user in `zone` (the default zone).
    func login(_ request: LoginRequest) async throws(ClusterError) -> LoginOutcome

    /// Creates (if `request.create` is set) and joins a room, leaving the current room first.
    func join(_ request: JoinRequest) async throws(ClusterError) -> JoinOutcome

    /// Leaves the current room; false when the session is in no room.
    func leave(session: SessionID) async throws(ClusterError) -> Bool

    /// Ends the session cluster-wide: leaves its room, frees its name. Never fails: if the
    /// cluster cannot be reached, the session is forgotten locally and the cluster state is
    /// mended when the connection comes back.
    func logout(session: SessionID) async

    /// Publishes an encoded public message from `session` to every member of `room`, the
    /// sender included. Acknowledged, without waiting: `completion` gets nil once the
    /// cluster took the message (every member gets it, or is told it was lost), or the
    /// error its sender must get (the cluster is unreachable, or no longer has the session
    /// in that room). Never silence.
    func publish(to room: RoomRef, from session: SessionID, message: ByteBuffer,
                 completion: @escaping @Sendable (ClusterError?) -> Void)

    /// Delivers an encoded private message to each named user (by `UserName.key`), wherever
    /// it is. Returns the indices of `nameKeys` that matched no logged-in user.
    func sendPrivate(to nameKeys: [String], message: ByteBuffer) async throws(ClusterError) -> [Int]

    /// A zone's listed rooms and user count.
    func zoneListing(_ zone: String) async throws(ClusterError) -> ZoneListing

    /// Whether a logged-in user anywhere in the cluster holds this name key.
    func isNameTaken(nameKey: String) async throws(ClusterError) -> Bool

    /// The number of logged-in users, cluster-wide.
    func loggedInCount() async throws(ClusterError) -> Int

    /// Whether account logins of this name key are locked out (too many wrong passwords).
    func isLockedOut(nameKey: String) async throws(ClusterError) -> Bool
    /// Records a wrong account password for this name key; returns true if the name is now locked out.
    func recordWrongPassword(nameKey: String) async throws(ClusterError) -> Bool

    /// Carries out a moderator's kick, ban or unban, atomically, wherever the target is
    /// (PROTOCOL.md section 5): a ban is stored (with its expiry) before the target, if it
    /// is online, gets `request.notice` as a ``ClusterEvent/kick(_:_:)`` on its node.
    func moderate(_ request: ModerationRequest) async throws(ClusterError) -> ModerationOutcome

    /// Whether new connections from this client address are banned.
    func isAddressBanned(_ address: String) async throws(ClusterError) -> Bool
    /// Changes one detail of the session's current room (PROTOCOL.md section 5,
    /// ChangeRoomDetails), atomically, if the session created the room and it is updatable,
    /// or the session is a moderator's. The zone's users hear of it through a `zone` event:
    /// `changed` for a listed room, `deleted` for one that became hidden, `created` for one
    /// that became visible, none for one that stays hidden. Members above a lowered capacity
    /// stay; a new password holds for later joins.
    func changeRoomDetails(_ request: RoomDetailsRequest) async throws(ClusterError) -> RoomDetailsOutcome
}

/// A moderator's command as the cluster carries it out.
public struct ModerationRequest: Sendable {
    public enum Action: Sendable, Equatable {
        /// The target (online) gets the notice and is disconnected.
        case kick
        /// The name key is banned for `milliseconds` (nil: until unbanned); with `address`,
        /// so is the online target's client address; an online target is then kicked.
        case ban(milliseconds: Int64?, address: Bool)
        /// The name's ban, and the address ban that came with it, are lifted.
        case unban
    }

    public var action: Action
    public var targetKey: String
    /// The encoded push the target receives before it is disconnected (`Kicked`, `Banned`).
    public var notice: ByteBuffer

    public init(action: Action, targetKey: String, notice: ByteBuffer) {
        self.action = action
        self.targetKey = targetKey
        self.notice = notice
    }
}

public enum ModerationOutcome: Sendable, Equatable {
    case done
    /// Kick: nobody online has the name. Unban: the name is not banned.
    case userNotFound
}

/// The cluster cannot be reached (PROTOCOL.md: `Cluster unavailable`).
public enum ClusterError: Error, Sendable, Equatable {
    case unavailable
}

/// Receives the cluster's events, one batch at a time, in order. Called serially.
public protocol ClusterEventSink: AnyObject, Sendable {
    func deliver(_ events: [ClusterEvent])

    /// A batch with public messages: `oldestPublish` is when the oldest of them was
    /// published, if the bus knows (for the publish-to-delivery lag, measured once per
    /// batch). By default the same as `deliver(_:)`.
    func deliver(_ events: [ClusterEvent], oldestPublish: PublishStamp?)
}

extension ClusterEventSink {
    public func deliver(_ events: [ClusterEvent], oldestPublish: PublishStamp?) {
        deliver(events)
    }
}

public enum ClusterEvent: Sendable {
    /// Something happened in a room: its members (on this node) should see it.
    case room(RoomRef, RoomEvent)
    /// A zone's room list changed: its users (on this node) should see `UpdateRoomList`.
    case zone(ZoneChange)
    /// An encoded message for one session (a private message).
    case direct(SessionID, ByteBuffer)
    /// The cluster ended this session (e.g. its name was taken while the cluster was
    /// partitioned): the node tells the client `reason` and closes the connection.
    case evict(SessionID, Reason)
    /// A moderator removed this session: the node sends it the encoded notice (`Kicked` or
    /// `Banned`) and closes the connection; the user leaves as if it had closed.
    case kick(SessionID, ByteBuffer)
    /// The cluster's state changed without its events (Redis lost its data): the node sends
    /// every user a fresh `RoomList` of its zone.
    case resync
}

public enum RoomEvent: Sendable {
    /// An encoded public message, the same bytes for every member.
    case message(ByteBuffer)
    /// A member joined. For the joining session itself this marks the point in the room's
    /// order from which it receives the room's events.
    case joined(SessionID, UserProfile)
    /// A member left (or its session ended).
    case left(SessionID, UserProfile)
    /// This node missed `count` events of the room that it could not catch up on: its
    /// members get `Error` `Messages lost` (their user lists are corrected by the events
    /// that follow).
    case lost(Int)
}

public struct LoginRequest: Sendable {
    public var session: SessionID
    public var name: UserName
    public var profile: UserProfile
    /// The zone the user starts in (the node's default zone).
    public var zone: String
    /// The client's address (behind a PROXY header, the real one), for address bans.
    public var address: String

    public init(session: SessionID, name: UserName, profile: UserProfile, zone: String, address: String = "") {
        self.session = session
        self.name = name
        self.profile = profile
        self.zone = zone
        self.address = address
    }
}

public enum LoginOutcome: Sendable, Equatable {
    /// The name is the session's; the default zone's room list comes with it.
    case accepted(ZoneListing)
    case nameInUse
    /// A moderator banned the name (PROTOCOL.md section 5: `Name is banned`).
    case nameBanned
}

public struct JoinRequest: Sendable {
    public var session: SessionID
    public var room: RoomRef
    public var password: String?
    /// When set, the room is created with these options first; fails with
    /// `Room already exists` if it exists.
    public var create: RoomOptions?

    public init(session: SessionID, room: RoomRef, password: String?, create: RoomOptions?) {
        self.session = session
        self.room = room
        self.password = (password?.isEmpty ?? true) ? nil : password
        self.create = create
    }
}

public enum JoinOutcome: Sendable, Equatable {
    case joined(JoinedRoom)
    /// `Room already exists`, `Room does not exist`, `Incorrect password`, `Room is full`,
    /// `Already in room` or `Too many rooms`. The session stays where it was.
    case failed(Reason)
}

public struct JoinedRoom: Sendable, Equatable {
    public var room: RoomRef
    /// The room as its members see it (counts include the new member; hidden rooms too).
    public var summary: RoomSummary
    /// Every member in join order, the joining user included (last).
    public var members: [UserProfile]
    /// The room was created by this request.
    public var created: Bool
    /// The room the session left to join this one, if any.
    public var left: RoomRef?
    /// Set when the room is in another zone than the session's: that zone's room list.
    public var newZone: ZoneListing?
    /// The number of users in the room's zone after the join.
    public var zoneUsers: Int

    public init(room: RoomRef, summary: RoomSummary, members: [UserProfile], created: Bool,
                left: RoomRef?, newZone: ZoneListing?, zoneUsers: Int) {
        self.room = room
        self.summary = summary
        self.members = members
        self.created = created
        self.left = left
        self.newZone = newZone
        self.zoneUsers = zoneUsers
    }
}

/// What every bus is configured with.
public struct ClusterRules: Sendable {
    /// Rooms that always exist and are never deleted when they empty.
    public var permanentRooms: [RoomRef: RoomOptions]
    /// The most rooms the cluster holds (permanent rooms included); nil for no limit.
    public var maxRooms: Int?
    /// The most rooms one zone holds (permanent and hidden rooms included); nil for no limit.
    /// Creating a room in a full zone fails with `Too many rooms`.
    public var maxRoomsPerZone: Int?
    /// When wrong account passwords lock a name out, cluster-wide (PROTOCOL.md section 7).
    public var passwordLockout: PasswordLockout

    public init(permanentRooms: [RoomRef: RoomOptions] = [:], maxRooms: Int? = nil, maxRoomsPerZone: Int? = nil,
                passwordLockout: PasswordLockout = PasswordLockout()) {
        self.permanentRooms = permanentRooms
        self.maxRooms = maxRooms
        self.maxRoomsPerZone = maxRoomsPerZone
        self.passwordLockout = passwordLockout
    }
}
