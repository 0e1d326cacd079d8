import Foundation
import Testing
import ChorusTesting

/// The web chat page in a real browser: a real chorus-node serves it, headless Chromium opens
/// it through WebDriver, and a raw TCP client (as a Flash `XMLSocket` would be) chats with it.
///
/// Needs Debian's `chromium` and `chromium-driver` (scripts/install-deps.sh installs them);
/// without them it fails with one line saying so, unless CHORUS_SKIP_BROWSER=1.
@Suite("Web chat page in headless Chromium")
struct WebChatPageTests {
    static let skipped = ProcessInfo.processInfo.environment["CHORUS_SKIP_BROWSER"] == "1"

    @Test("a browser user chats with a TCP user: lists, errors, private messages, rooms, reconnection",
          .enabled(if: !skipped, "CHORUS_SKIP_BROWSER=1"), .timeLimit(.minutes(3)))
    func browserChatsWithTCPClient() async throws {
        var node = try NodeProcess.start(web: true)
        let browser = try await HeadlessChromium.start()
        try await withCleanup({
            try await scenario(browser: browser, node: &node)
        }, cleanup: {
            await browser.stop()
            node.kill()
        })
    }

    private func scenario(browser: HeadlessChromium, node: inout NodeProcess) async throws {
        let page = ChatPage(driver: browser.driver)
        let driver = browser.driver
        let webPort = try node.requireWebPort()
        let origin = "http://127.0.0.1:\(webPort)"

        // The page loads from the node alone and connects over /ws. Script errors and
        // violations of the node's Content-Security-Policy are recorded from the first moment.
        try await driver.devTools("Page.addScriptToEvaluateOnNewDocument", ["source": """
            window.__problems = [];
            addEventListener('error', (e) => __problems.push('error: ' + e.message));
            addEventListener('unhandledrejection', (e) => __problems.push('rejection: ' + e.reason));
            document.addEventListener('securitypolicyviolation', (e) => __problems.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));
            """])
        try await driver.navigate(to: origin + "/")
        try await page.waitUntil("that it is connected") { $0.status.contains("Connected") && $0.loginVisible }
        let foreign = try await driver.evaluate("""
            return performance.getEntriesByType('resource').map(e => e.name)
              .filter(n => !n.startsWith(location.origin + '/') && !n.startsWith('data:'));
            """, as: [String].self)
        #expect(foreign.isEmpty, "the page loaded resources from elsewhere: \(foreign)")

        // bob, on raw TCP, is online first.
        let bob = try TestClient(node, name: "bob")
        try bob.login("bob")

        // A taken name: the reason in msg_txt, the login form still there.
        try await page.login(name: "bob", room: "Lobby")
        try await page.waitUntil("the name-taken error, still on the login form") {
            $0.status.contains("Name is already in use") && $0.loginVisible && !$0.chatVisible
        }
        try await page.screenshot("web-chat-login.png")

        // alice logs in; as in the tutorial, her room is created (or joined) right after.
        try await page.login(name: "alice", room: "Lobby")
        try await page.waitUntil("alice alone in Lobby, 2 users online") {
            $0.room == "Lobby" && $0.users == ["alice"] && $0.userCount == "2 online" && !$0.loginVisible
        }
        try bob.waitFor("Lobby in bob's room list") { $0.action == "UpdateRoomList" && $0.minorAction == "CreateRoom" && $0.rooms.map(\.name) == ["Lobby"] }

        // Room list: bob creates a room; then leaves it (it is deleted) for alice's room.
        try enter(bob, Request.createRoom("Fun", description: "Games & more"))
        try await page.waitUntil("Fun in the room list") { $0.rooms.contains { $0.name == "Fun" && $0.roomDescription == "Games & more" && $0.count == "1" } }
        let joined = try enter(bob, Request.joinRoom("Lobby"))
        #expect(joined.users.map(\.name) == ["alice", "bob"])
        // User list: bob appears; the room list loses Fun and counts 2 in Lobby.
        try await page.waitUntil("bob in the user list, only Lobby (2 users) in the room list") {
            $0.users == ["alice", "bob"] && $0.rooms.map { "\($0.name) \($0.count)" } == ["Lobby 2"] && $0.hasLine(containing: "bob joined.")
        }

        // Public messages both ways; Enter sends.
        try bob.send(Request.publicMessage("hello from tcp & friends"))
        try await page.waitUntil("bob's message") { $0.hasLine(containing: "bob: hello from tcp & friends") }
        let fromBrowser = "hi bob <3 \"quoted\" & 'single'"
        try await page.send(fromBrowser)
        let received = try bob.waitFor("alice's message") { $0.action == "SendPublicMessage" && $0.sender == "alice" }
        #expect(received.message == fromBrowser)
        try await page.waitUntil("alice's own message, the input emptied") { $0.hasLine(containing: "alice: \(fromBrowser)") && $0.input.isEmpty }

        // Markup from another user is shown as text, never run or rendered.
        let script = "<script>alert(1)</script>"
        let image = "<img src=x onerror=alert(2)>"
        try bob.send(Request.publicMessage(script))
        try bob.send(Request.publicMessage(image))
        let shown = try await page.waitUntil("the markup as text") { $0.hasLine(containing: "bob: \(image)") }
        #expect(shown.hasLine(containing: "bob: \(script)"))
        #expect(shown.chatText.contains(script))
        let markup = try await driver.evaluate(
            "return document.querySelectorAll('#chatBox_ta script, #chatBox_ta img, img').length + document.scripts.length - 1;", as: Int.self)
        #expect(markup == 0, "a user's message became markup")
        #expect(try await driver.alertText() == nil, "a user's message ran a script")

        // Private messages both ways: click bob in the user list, then type.
        try await page.clickUser("bob")
        try await page.waitUntil("bob as the private-message target") { $0.privateTo == "bob" }
        try await page.send("psst, only you")
        try await page.waitUntil("alice's private message in her history") { $0.hasLine(containing: "private alice → bob: psst, only you") }
        let whisper = try bob.waitFor("alice's private message") { $0.action == "SendPrivateMessage" }
        #expect(whisper.sender == "alice" && whisper.message == "psst, only you")
        try bob.send(Request.privateMessage(to: ["alice"], "secret reply"))
        try await page.waitUntil("bob's private message") { $0.hasLine(containing: "private bob: secret reply") }
        try await page.click("#pmCancel_btn")
        try await page.waitUntil("back to public messages") { $0.privateTo == nil }

        // Create a room with a password, a capacity and a description.
        try await page.click("#create_box summary")
        try await page.fill("newRoom_ti", "Den")
        try await page.fill("newRoomPassword_ti", "pw1")
        try await page.fill("newRoomCapacity_ti", "5")
        try await page.fill("newRoomDescription_ti", "Quiet <corner>")
        try await page.click("#createRoom_btn")
        // (PROTOCOL.md section 4: she leaves her room first, then the new room is announced.)
        try bob.waitFor("alice leaving Lobby") { $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.userName == "alice" }
        let den = try bob.waitFor("Den in bob's room list") { $0.action == "UpdateRoomList" && $0.minorAction == "CreateRoom" }
        #expect(den.rooms.map(\.name) == ["Den"])
        #expect(den.rooms.first?.passwordProtected == "true")
        #expect(den.rooms.first?.capacity == 5)
        #expect(den.rooms.first?.roomDescription == "Quiet <corner>")
        try await page.waitUntil("alice alone in Den") { $0.room == "Den" && $0.users == ["alice"] }
        try bob.send(Request.joinRoom("Den"))
        try bob.waitFor("Den's password refusal") { $0.action == "JoinRoom" && $0.reason == "Incorrect password" }
        try enter(bob, Request.joinRoom("Den", password: "pw1"))
        try await page.waitUntil("bob in Den") { $0.users == ["alice", "bob"] }

        // A password-protected room asks for its password when clicked.
        try enter(bob, Request.createRoom("Vault", password: "s3cret"))
        try await page.waitUntil("bob gone, Vault listed as protected") {
            $0.users == ["alice"] && $0.rooms.contains { $0.name == "Vault" && $0.label.contains("password protected") }
        }
        try await page.clickRoom("Vault")
        try await page.waitUntil("the password prompt") { $0.passwordPromptOpen }
        try await driver.type("wrong" + WebDriver.enter, into: driver.element("#roomPassword_ti"))
        try await page.waitUntil("the wrong-password error and the prompt again") {
            $0.status.contains("Incorrect password") && $0.passwordPromptOpen && $0.room == "Den"
        }
        try await driver.type("s3cret" + WebDriver.enter, into: driver.element("#roomPassword_ti"))
        try await page.waitUntil("alice in Vault with bob") { $0.room == "Vault" && $0.users == ["bob", "alice"] && !$0.passwordPromptOpen }
        try bob.waitFor("alice joining Vault") { $0.action == "UpdateUserList" && $0.minorAction == "UserJoined" && $0.userName == "alice" }
        try bob.send(Request.publicMessage("welcome to the vault"))
        try await page.waitUntil("bob's welcome") { $0.hasLine(containing: "bob: welcome to the vault") }
        try await page.send("thanks! ✓ café")
        try bob.waitFor("alice's thanks") { $0.action == "SendPublicMessage" && $0.message == "thanks! ✓ café" }
        try await page.waitUntil("the thanks shown") { $0.hasLine(containing: "alice: thanks! ✓ café") }

        // Screenshots: desktop, phone width, dark scheme (artifacts, to look at).
        try await page.screenshot("web-chat.png")
        try await driver.setWindowSize(width: 360, height: 780)
        try await page.screenshot("web-chat-phone.png")
        try await driver.devTools("Emulation.setEmulatedMedia", ["features": [["name": "prefers-color-scheme", "value": "dark"]]])
        try await driver.setWindowSize(width: 1280, height: 800)
        try await page.screenshot("web-chat-dark.png")
        try await driver.devTools("Emulation.setEmulatedMedia", ["features": [["name": "prefers-color-scheme", "value": "light"]]])

        // Leave the room, then join one by a plain click.
        try await page.click("#leave_btn")
        try bob.waitFor("alice leaving Vault") { $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.userName == "alice" }
        try await page.waitUntil("no room") { $0.room == "No room" && $0.users.isEmpty }
        try enter(bob, Request.createRoom("Open"))
        try await page.waitUntil("Open listed") { $0.rooms.contains { $0.name == "Open" } }
        try await page.clickRoom("Open")
        try await page.waitUntil("alice in Open with bob") { $0.room == "Open" && $0.users == ["bob", "alice"] }

        // The connection drops (the node stops): the page says so, reconnects when the node is
        // back, logs in again as alice and returns to her room.
        try node.stop()
        try await page.waitUntil("that it reconnects") { $0.status.contains("Reconnecting") }
        node = try NodeProcess.start(["--http-port", String(webPort)], port: node.port)
        #expect(try node.requireWebPort() == webPort)
        try await page.waitUntil("alice back in Open", timeout: .seconds(40)) {
            $0.status.contains("Reconnected as alice") && $0.room == "Open" && $0.users == ["alice"]
        }
        let carol = try TestClient(node, name: "carol")
        try carol.send(Request.login("alice"))
        try carol.expect("LoginResponse", result: "Denied", reason: "Name is already in use")
        try carol.login("carol")
        let open = try enter(carol, Request.joinRoom("Open"))
        #expect(open.users.map(\.name) == ["alice", "carol"])
        try await page.waitUntil("carol in the user list") { $0.users == ["alice", "carol"] }
        try carol.send(Request.publicMessage("after the restart"))
        try await page.waitUntil("carol's message") { $0.hasLine(containing: "carol: after the restart") }

        let problems = try await driver.evaluate("return window.__problems;", as: [String].self)
        #expect(problems.isEmpty, "the page had script errors or CSP violations: \(problems)")
    }

    /// Sends a create or join request and waits for its `JoinRoom`, which must succeed (other
    /// pushes, such as the deletion of the room left, are skipped).
    @discardableResult
    private func enter(_ client: TestClient, _ request: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try client.send(request)
        let frame = try client.waitFor("JoinRoom", sourceLocation: sourceLocation) { $0.action == "JoinRoom" }
        guard frame.result == "Success" else {
            throw TestFailure("\(client.name): \(frame.raw)", sourceLocation: sourceLocation)
        }
        return frame
    }
}
