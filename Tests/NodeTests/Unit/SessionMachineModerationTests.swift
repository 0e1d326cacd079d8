import ChatDomain
import ChorusTesting
import ClusterBus
import NIOCore
@testable import Node
import Testing
import Wire

/// AdminLogin, ModeratorCommand and being kicked, as the session machine answers them
/// (PROTOCOL.md section 5).
struct SessionMachineModerationTests {
    static func machine() throws -> SessionMachine {
        SessionMachineTests.machine { configuration in
            configuration.limits.moderators = [UserName.key(for: "mod"): "s3cret"]
            configuration.limits.banMinuteMilliseconds = 1000
        }
    }

    static func moderator() throws -> SessionMachine {
        var machine = try machine()
        _ = machine.received(.adminLogin(name: "Mod", password: "s3cret"))
        _ = machine.answered(.flag(.success(false)))
        _ = machine.answered(.login(.success(.accepted(SessionMachineTests.listing))))
        return machine
    }

    static func command(_ minor: String, _ user: String, reason: String = "", expires: String = "", address: Bool = false) -> ClientRequest {
        .moderatorCommand(ModeratorCommandSpec(minorAction: minor, userName: user, reason: reason, expires: expires, address: address))
    }

    @Test func adminLoginChecksTheLockoutThenLogsInAsAModerator() throws {
        var machine = try Self.machine()
        machine.clientAddress = "203.0.113.7"
        #expect(SessionMachineTests.describe(machine.received(.adminLogin(name: "Mod", password: "s3cret"))) == ["ask isLockedOut"])
        let claim = machine.answered(.flag(.success(false)))
        #expect(SessionMachineTests.describe(claim) == ["ask login"])
        guard case .ask(.login(let request)) = claim.first else { throw TestFailure("no login asked") }
        #expect(request.profile.moderator && request.profile.name == "Mod")
        #expect(request.address == "203.0.113.7")
        #expect(SessionMachineTests.describe(machine.answered(.login(.success(.accepted(SessionMachineTests.listing)))))
                == ["enterZone Chat", "send RoomList", "send LoginResponse Accepted"])
        #expect(machine.state.isModerator)
    }

    @Test func aWrongModeratorPasswordIsAnIncorrectPasswordCountedLikeAnAccounts() throws {
        var machine = try Self.machine()
        #expect(SessionMachineTests.describe(machine.received(.adminLogin(name: "mod", password: "guess"))) == ["ask isLockedOut"])
        #expect(SessionMachineTests.describe(machine.answered(.flag(.success(false)))) == ["ask recordWrongPassword"])
        #expect(SessionMachineTests.describe(machine.answered(.flag(.success(false)))) == ["send LoginResponse Denied Incorrect password"])
        #expect(SessionMachineTests.describe(machine.received(.adminLogin(name: "", password: "x")))
                == ["send LoginResponse Denied Incorrect password"])
        #expect(SessionMachineTests.describe(machine.received(SessionMachineTests.login("MOD")))
                == ["send LoginResponse Denied Name is already in use"])
    }

    @Test func aBannedNameIsDeniedAtLogin() throws {
        var machine = SessionMachineTests.machine()
        _ = machine.received(SessionMachineTests.login("bob"))
        #expect(SessionMachineTests.describe(machine.answered(.login(.success(.nameBanned)))) == ["send LoginResponse Denied Name is banned"])
        #expect(!machine.state.isLoggedIn)
    }

    @Test func aModeratorsCommandsGoToTheClusterWithTheTargetsNotice() throws {
        var machine = try Self.moderator()
        let kick = machine.received(Self.command("Kick", "Bob", reason: "spam"))
        guard case .ask(.moderate(let request)) = kick.first else { throw TestFailure("no moderate asked: \(kick)") }
        #expect(request.action == .kick && request.targetKey == UserName.key(for: "bob"))
        #expect(String(buffer: request.notice) == String(buffer: ServerEvent.kicked(reason: "spam", moderator: "Mod").encoded()))
        let done = SessionMachineTests.describe(machine.answered(.moderated(.success(.done))))
        #expect(done.last == "send ModeratorCommand Success")

        let ban = machine.received(Self.command("ban", "bob", reason: "r", expires: "3", address: true))
        guard case .ask(.moderate(let banRequest)) = ban.first else { throw TestFailure("no moderate asked: \(ban)") }
        #expect(banRequest.action == .ban(milliseconds: 3000, address: true))
        #expect(String(buffer: banRequest.notice).contains("<Reason>r</Reason><Moderator>Mod</Moderator><Expires>3</Expires>"))
        #expect(SessionMachineTests.describe(machine.answered(.moderated(.success(.userNotFound)))) == ["send Error User not found"])

        _ = machine.received(Self.command("Unban", "bob"))
        #expect(SessionMachineTests.describe(machine.answered(.moderated(.failure(.unavailable)))) == ["send Error Cluster unavailable"])
        #expect(SessionMachineTests.describe(machine.received(Self.command("Mute", "bob"))) == ["send Error Unknown action"])
        #expect(SessionMachineTests.describe(machine.received(Self.command("Kick", ""))) == ["send Error User not found"])
    }

    @Test func aUserWhoIsNotAModeratorIsNotAllowedAndNothingHappens() throws {
        var machine = SessionMachineTests.loggedIn()
        for minor in ["Kick", "Ban", "Unban"] {
            #expect(SessionMachineTests.describe(machine.received(Self.command(minor, "bob"))) == ["send Error Not allowed"])
        }
        var fresh = SessionMachineTests.machine()
        #expect(SessionMachineTests.describe(fresh.received(Self.command("Kick", "bob"))) == ["send Error Not allowed"])
    }

    @Test func aKickedSessionGetsItsNoticeThenCloses() {
        var machine = SessionMachineTests.loggedIn()
        let notice = ServerEvent.kicked(reason: "bye", moderator: "Mod").encoded()
        #expect(SessionMachineTests.describe(machine.kicked(notice))
                == ["log removedByModerator", "sendBytes \(String(buffer: notice))", "close afterWrites"])
        #expect(machine.kicked(notice).isEmpty, "once")
    }
}
