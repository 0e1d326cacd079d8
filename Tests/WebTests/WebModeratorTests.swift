import ChorusTesting
import Foundation
import Testing

/// ES3's extended features in the web page (PROTOCOL.md section 5): a moderator logs in with
/// AdminLogin from the login form and kicks a troublemaker on raw TCP from the user list;
/// the room's topic is its room variable `topic`, shown and edited in the page.
@Suite("Web chat page: moderation and topic in headless Chromium", .serialized)
struct WebModeratorTests {
    @Test("a moderator logged in from the page kicks a TCP user from the user list",
          .enabled(if: !WebChatPageTests.skipped, "CHORUS_SKIP_BROWSER=1"), .timeLimit(.minutes(2)))
    func moderatorKicksFromThePage() async throws {
        let moderators = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-moderators-\(UUID().uuidString)")
        try "warden:s3cret-pass\n".write(to: moderators, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: moderators) }
        let node = try NodeProcess.start(["--moderators", moderators.path, "--rooms", "Lobby"], web: true)
        let browser = try await HeadlessChromium.start()
        try await withCleanup({
            let page = ChatPage(driver: browser.driver)
            let driver = browser.driver
            try await driver.navigate(to: "http://127.0.0.1:\(try node.requireWebPort())/")
            try await page.waitUntil("that it is connected") { $0.status.contains("Connected") && $0.loginVisible }

            let troll = try TestClient(node, name: "troll")
            try troll.login("troll")
            try troll.joinRoom("Lobby")

            // The login form's moderator option sends AdminLogin with the password.
            try await page.click("#account_box summary")
            try await page.fill("password_ti", "s3cret-pass")
            try await page.click("#moderator_cb")
            try await page.login(name: "warden", room: "Lobby")
            try await page.waitUntil("warden in Lobby with troll") { $0.room == "Lobby" && Set($0.users) == ["warden", "troll"] }
            let arrival = try troll.waitFor("warden joined") { $0.action == "UpdateUserList" && $0.userName == "warden" }
            #expect(arrival.raw.contains("Moderator=\"true\""), "a moderator shows as one: \(arrival.raw)")

            // Kick from the user list: a prompt asks for the reason.
            try await page.click("#userListBox_lb button[data-moderate=\"Kick\"][data-target=\"troll\"]")
            _ = try await eventually(timeout: .seconds(5)) { try await driver.alertText() != nil }
            try await driver.answerPrompt("spamming the lobby")
            let kicked = try troll.waitFor("Kicked") { $0.action == "Kicked" }
            #expect(kicked.reason == "spamming the lobby")
            #expect(kicked.raw.contains("<Moderator>warden</Moderator>"))
            #expect(troll.waitClosed(timeout: 5), "the kicked user is disconnected")
            try await page.waitUntil("the kick confirmed and troll gone") {
                $0.status.contains("Done") && $0.users == ["warden"]
            }
            for frame in troll.history { #expect(!frame.raw.contains("s3cret-pass"), "a moderator's password reached a client") }
            try await page.screenshot("web-chat-moderator.png")
        }, cleanup: {
            await browser.stop()
            node.kill()
        })
    }

    @Test("the room's topic is the room variable topic: shown when a TCP user sets it, edited from the page",
          .enabled(if: !WebChatPageTests.skipped, "CHORUS_SKIP_BROWSER=1"), .timeLimit(.minutes(2)))
    func topicIsARoomVariable() async throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"], web: true)
        let browser = try await HeadlessChromium.start()
        try await withCleanup({
            let page = ChatPage(driver: browser.driver)
            let driver = browser.driver
            try await driver.navigate(to: "http://127.0.0.1:\(try node.requireWebPort())/")
            try await page.waitUntil("that it is connected") { $0.status.contains("Connected") && $0.loginVisible }
            let tcp = try TestClient(node, name: "tcp")
            try tcp.login("host")
            try tcp.joinRoom("Lobby")
            try tcp.send(Request.envelope("CreateRoomVariable",
                #"<RoomVariable Persistent="true" Locked="false"><Name>topic</Name><Data>Rules: be <b>kind</b></Data></RoomVariable>"#))
            _ = try tcp.next(action: "UpdateRoomVariable", containing: ["<MinorAction>Create</MinorAction>"])

            // Joining lists the room's variables: the page shows the topic, as text.
            try await page.login(name: "guest", room: "Lobby")
            try await page.waitUntil("guest in Lobby") { $0.room == "Lobby" }
            let shown = try await driver.evaluate("return document.getElementById('topic_txt').textContent;", as: String.self)
            #expect(shown == "Rules: be <b>kind</b>")
            let markup = try await driver.evaluate("return document.querySelectorAll('#topic_txt b').length;", as: Int.self)
            #expect(markup == 0, "the topic is shown as text, not as HTML")

            // Edited from the page: every member gets the push.
            try await page.click("#topic_btn")
            _ = try await eventually(timeout: .seconds(5)) { try await driver.alertText() != nil }
            try await driver.answerPrompt("Friday: release party")
            let push = try tcp.next(action: "UpdateRoomVariable", containing: ["<MinorAction>Update</MinorAction>"])
            #expect(push.raw.contains("<Name>topic</Name><Data>Friday: release party</Data>"), "\(push.raw)")
            _ = try await eventually(timeout: .seconds(5)) {
                try await driver.evaluate("return document.getElementById('topic_txt').textContent;", as: String.self) == "Friday: release party"
            }
            try await page.screenshot("web-chat-topic.png")
        }, cleanup: {
            await browser.stop()
            node.kill()
        })
    }
}
