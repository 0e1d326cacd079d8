import Foundation
import Testing
import ChorusTesting

/// A W3C WebDriver session over HTTP (https://www.w3.org/TR/webdriver2/), with the few
/// commands the browser test needs: navigate, find, click, type, run a script, screenshots,
/// alerts, window size, and Chromium's DevTools passthrough.
///
/// Scripts return JSON-compatible values; ``execute(_:_:)`` hands them back as JSON text, which
/// ``evaluate(_:_:as:)`` decodes into a Swift type.
final class WebDriver: Sendable {
    /// A WebDriver error answer: `error` is the spec's error code (`no such element`, ...).
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int
        let error: String
        let message: String
        var description: String { "WebDriver \(command): HTTP \(status) \(error): \(message)" }
    }

    /// An element reference of the session.
    struct Element: Sendable {
        let id: String
        let selector: String
    }

    private static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// The driver's port on 127.0.0.1.
    let port: Int
    let sessionID: String

    private init(port: Int, sessionID: String) {
        self.port = port
        self.sessionID = sessionID
    }

    /// Whether the driver on `port` answers that it is ready for new sessions.
    static func isReady(port: Int) -> Bool {
        guard let response = try? LoopbackHTTP.request("GET", port: port, path: "/status", timeout: 5),
              response.status == 200,
              let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let value = json["value"] as? [String: Any] else { return false }
        return (value["ready"] as? Bool ?? (value["ready"] as? NSNumber)?.boolValue) == true
    }

    /// Opens a session on the driver at `port` with these capabilities (`alwaysMatch`).
    static func newSession(port: Int, capabilities: [String: Any]) async throws -> WebDriver {
        let value = try send(port, "POST", "/session", ["capabilities": ["alwaysMatch": capabilities]])
        guard let id = (value as? [String: Any])?["sessionId"] as? String else {
            throw TestFailure("WebDriver new session: no sessionId in \(String(describing: value))")
        }
        return WebDriver(port: port, sessionID: id)
    }

    /// Ends the session (the driver closes the browser). Errors are ignored: this is cleanup.
    func quit() async {
        _ = try? await command("DELETE", "")
    }

    // MARK: Commands

    func navigate(to url: String) async throws {
        try await command("POST", "/url", ["url": url])
    }

    /// The first element matching the CSS `selector`.
    func element(_ selector: String) async throws -> Element {
        let value = try await command("POST", "/element", ["using": "css selector", "value": selector])
        guard let id = (value as? [String: Any])?[Self.elementKey] as? String else {
            throw TestFailure("WebDriver: no element reference for \(selector) in \(String(describing: value))")
        }
        return Element(id: id, selector: selector)
    }

    func click(_ element: Element) async throws {
        try await command("POST", "/element/\(element.id)/click", [:])
    }

    func clear(_ element: Element) async throws {
        try await command("POST", "/element/\(element.id)/clear", [:])
    }

    /// Types `text` into the element as key presses (`\u{E007}` is Enter).
    func type(_ text: String, into element: Element) async throws {
        try await command("POST", "/element/\(element.id)/value", ["text": text])
    }

    static let enter = "\u{E007}"

    /// Runs `body` as a function in the page (with `arguments` as `arguments[0...]`) and
    /// returns its result as JSON text ("null" for undefined).
    func execute(_ body: String, _ arguments: [String] = []) async throws -> String {
        let value = try await command("POST", "/execute/sync", ["script": body, "args": arguments])
        guard let value, !(value is NSNull) else { return "null" }
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `body` in the page and decodes its JSON result as `T`.
    func evaluate<T: Decodable>(_ body: String, _ arguments: [String] = [], as type: T.Type) async throws -> T {
        let json = try await execute(body, arguments)
        do {
            return try JSONDecoder().decode(T.self, from: Data(json.utf8))
        } catch {
            throw TestFailure("script result \(json) is not a \(T.self): \(error)")
        }
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        let value = try await command("GET", "/screenshot")
        guard let base64 = value as? String, let png = Data(base64Encoded: base64) else {
            throw TestFailure("WebDriver screenshot: no base64 PNG in the answer")
        }
        return png
    }

    /// The text of the open alert, confirm or prompt, or nil when none is open.
    func alertText() async throws -> String? {
        do {
            return try await command("GET", "/alert/text") as? String
        } catch let failure as Failure where failure.error == "no such alert" {
            return nil
        }
    }

    /// Types `text` into the open prompt and accepts it.
    func answerPrompt(_ text: String) async throws {
        try await command("POST", "/alert/text", ["text": text])
        try await command("POST", "/alert/accept", [:])
    }

    func setWindowSize(width: Int, height: Int) async throws {
        try await command("POST", "/window/rect", ["width": width, "height": height])
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    func devTools(_ method: String, _ parameters: [String: Any]) async throws {
        try await command("POST", "/goog/cdp/execute", ["cmd": method, "params": parameters])
    }

    // MARK: Transport

    @discardableResult
    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try Self.send(port, method, "/session/\(sessionID)\(path)", body)
    }

    /// Sends one command; returns the answer's `value`, or throws its error.
    private static func send(_ port: Int, _ method: String, _ path: String, _ body: [String: Any]?) throws -> Any? {
        let response = try LoopbackHTTP.request(method, port: port, path: path,
                                                body: try body.map { try JSONSerialization.data(withJSONObject: $0) })
        let json = try? JSONSerialization.jsonObject(with: response.body, options: [.fragmentsAllowed])
        let value = (json as? [String: Any])?["value"]
        if response.status != 200 {
            let details = value as? [String: Any]
            throw Failure(command: "\(method) \(path)", status: response.status,
                          error: details?["error"] as? String ?? "unknown error",
                          message: details?["message"] as? String ?? String(decoding: response.body.prefix(500), as: UTF8.self))
        }
        return value
    }
}
