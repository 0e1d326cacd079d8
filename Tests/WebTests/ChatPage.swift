import Foundation
import Testing
import ChorusTesting

/// The web chat page (Sources/Node/WebPage/chat.html) as the browser test sees it: its
/// elements by the tutorial's ids, read with small scripts, and driven with WebDriver clicks
/// and key presses as a person would.
struct ChatPage {
    let driver: WebDriver

    /// A room of `roomListBox_lb`: its name, the description and user count it shows, and
    /// its accessible label.
    struct RoomEntry: Decodable, Equatable, CustomStringConvertible {
        let name: String
        let roomDescription: String
        let count: String
        let label: String
        var description: String { label }
    }

    /// What the page shows at one moment, read in one script.
    struct Snapshot: Decodable, CustomStringConvertible {
        /// `msg_txt`: status and errors.
        let status: String
        /// The current room's name ("No room" when in none).
        let room: String
        /// `userListBox_lb`, in order.
        let users: [String]
        /// `roomListBox_lb`, in order.
        let rooms: [RoomEntry]
        /// `chatBox_ta`, one text per line.
        let lines: [String]
        /// The whole text of `chatBox_ta`.
        let chatText: String
        /// The logged-in count shown.
        let userCount: String
        let loginVisible: Bool
        let chatVisible: Bool
        /// The private-message target while one is chosen.
        let privateTo: String?
        let passwordPromptOpen: Bool
        /// What `msgBox_ti` holds.
        let input: String

        func hasLine(containing part: String) -> Bool { lines.contains { $0.contains(part) } }

        var description: String {
            """
            msg_txt "\(status)"; room "\(room)"; users \(users); rooms \(rooms); online "\(userCount)"; \
            login form \(loginVisible ? "shown" : "hidden"); chat \(chatVisible ? "shown" : "hidden"); \
            private to \(privateTo ?? "nobody"); password prompt \(passwordPromptOpen ? "open" : "closed"); \
            last lines \(lines.suffix(6))
            """
        }
    }

    private static let snapshotScript = """
        const $ = (id) => document.getElementById(id);
        const chip = $('pm_chip');
        return {
          status: $('msg_txt').textContent,
          room: $('roomName_txt').textContent,
          users: [...document.querySelectorAll('#userListBox_lb [data-user]')].map(e => e.dataset.user),
          rooms: [...document.querySelectorAll('#roomListBox_lb [data-room]')].map(e =>
            ({ name: e.dataset.room, roomDescription: e.querySelector('.desc')?.textContent ?? '',
               count: e.querySelector('.meta')?.textContent ?? '', label: e.getAttribute('aria-label') ?? '' })),
          lines: [...$('chatBox_ta').children].map(e => e.textContent),
          chatText: $('chatBox_ta').textContent,
          userCount: $('userCount_txt').textContent,
          loginVisible: $('login_view').checkVisibility(),
          chatVisible: $('chat_view').checkVisibility(),
          privateTo: chip.checkVisibility() ? $('pmName_txt').textContent : null,
          passwordPromptOpen: $('password_dlg').open,
          input: $('msgBox_ti').value,
        };
        """

    /// What the page shows now.
    func snapshot() async throws -> Snapshot {
        try await driver.evaluate(Self.snapshotScript, as: Snapshot.self)
    }

    // MARK: Acting

    func click(_ selector: String) async throws {
        try await findingAgainIfReplaced { try await driver.click(driver.element(selector)) }
    }

    /// Replaces the text of an input with `text` by typing it.
    func fill(_ id: String, _ text: String) async throws {
        try await findingAgainIfReplaced {
            let field = try await driver.element("#\(id)")
            try await driver.clear(field)
            if !text.isEmpty { try await driver.type(text, into: field) }
        }
    }

    /// Runs `body` again when the element it found was replaced before it acted on it (the
    /// page redraws its lists on every push): WebDriver's "stale element reference". Other
    /// failures, and a stale element for more than 5 s, are thrown.
    private func findingAgainIfReplaced(_ body: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try await body()
            } catch let failure as WebDriver.Failure where failure.error == "stale element reference" && ContinuousClock.now < deadline {
                continue
            }
        }
    }

    /// Fills `username_ti` and `room_ti`, and clicks `login_btn`.
    func login(name: String, room: String) async throws {
        try await fill("username_ti", name)
        try await fill("room_ti", room)
        try await click("#login_btn")
    }

    /// Types `message` into `msgBox_ti` and presses Enter.
    func send(_ message: String) async throws {
        try await driver.type(message + WebDriver.enter, into: driver.element("#msgBox_ti"))
    }

    /// Clicks the entry of `room` in `roomListBox_lb`.
    func clickRoom(_ room: String) async throws {
        try await click("#roomListBox_lb [data-room=\"\(room)\"]")
    }

    /// Clicks `user` in `userListBox_lb`.
    func clickUser(_ user: String) async throws {
        try await click("#userListBox_lb [data-user=\"\(user)\"]")
    }

    // MARK: Waiting

    /// Polls the page until `condition` holds for what it shows; returns that snapshot. Throws
    /// after `timeout`, saying what the page showed last.
    @discardableResult
    func waitUntil(_ what: String, timeout: Duration = .seconds(10),
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ condition: (Snapshot) -> Bool) async throws -> Snapshot {
        var last: Snapshot?
        let held = try await eventually(timeout: timeout, every: .milliseconds(50)) {
            let now = try await snapshot()
            last = now
            return condition(now)
        }
        if held, let last { return last }
        throw TestFailure("the page did not show \(what) within \(timeout). It shows: \(last.map(String.init(describing:)) ?? "nothing")",
                          sourceLocation: sourceLocation)
    }

    /// Saves a PNG of the viewport to `.build/test-artifacts/NAME` and prints its path.
    @discardableResult
    func screenshot(_ name: String) async throws -> URL {
        let directory = repositoryRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try await driver.screenshot().write(to: file)
        print("web chat page screenshot: \(file.path)")
        return file
    }
}
