import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import ChorusTesting

/// Debian's headless Chromium driven by its `chromedriver`, for one test: a chromedriver
/// process on a free port, one WebDriver session, and a throwaway profile directory.
///
/// ``stop()`` ends the session, the driver, and every browser process still using the
/// profile directory (found by its path in their command lines), so no browser outlives the
/// test, whatever the test did.
final class HeadlessChromium: Sendable {
    let driver: WebDriver
    private let chromedriver: ChildProcess
    private let directory: URL

    /// Why the browser test cannot run here, in one line, or nil when it can.
    static func unavailableReason() -> String? {
        let missing = [("chromium", "chromium"), ("chromedriver", "chromium-driver")].filter { which($0.0) == nil }
        guard !missing.isEmpty else { return nil }
        return "the browser test needs headless Chromium: \(missing.map(\.0).joined(separator: " and ")) not on PATH; "
            + "install Debian's \(missing.map(\.1).joined(separator: " and ")) (scripts/install-deps.sh does), "
            + "or set CHORUS_SKIP_BROWSER=1 to skip this test"
    }

    /// Starts chromedriver and opens a session of headless Chromium with a `width`×`height`
    /// window.
    static func start(width: Int = 1280, height: Int = 800) async throws -> HeadlessChromium {
        if let reason = unavailableReason() { throw TestFailure(reason) }
        let directory = try makeTemporaryDirectory("chorus-chromium")
        var attempt = 0
        while true {
            attempt += 1
            let port = try freePort()
            let driverProcess = try ChildProcess(
                executable: which("chromedriver")!, arguments: ["--port=\(port)"],
                log: directory.appendingPathComponent("chromedriver-\(attempt).log"))
            let ready = await eventually(timeout: .seconds(20), every: .milliseconds(50)) {
                WebDriver.isReady(port: port) || !driverProcess.isRunning
            }
            guard ready, driverProcess.isRunning else {
                driverProcess.kill()
                // The free port may have been taken in between: try another.
                if attempt < 3, driverProcess.log.contains("bind") { continue }
                try? FileManager.default.removeItem(at: directory)
                throw TestFailure("chromedriver --port=\(port) did not become ready; its log: \(oneLine(driverProcess.log))")
            }
            let profile = directory.appendingPathComponent("profile")
            let capabilities: [String: Any] = [
                "browserName": "chrome",
                "goog:chromeOptions": [
                    "binary": which("chromium")!,
                    "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                             "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)",
                             "--lang=en-US"],
                ] as [String: Any],
            ]
            do {
                let driver = try await WebDriver.newSession(port: port, capabilities: capabilities)
                return HeadlessChromium(driver: driver, chromedriver: driverProcess, directory: directory)
            } catch {
                killBrowsers(using: profile)
                driverProcess.kill()
                let log = oneLine(driverProcess.log)
                try? FileManager.default.removeItem(at: directory)
                throw TestFailure("headless Chromium did not start (\(oneLine(String(describing: error)))); chromedriver's log: \(log)")
            }
        }
    }

    private init(driver: WebDriver, chromedriver: ChildProcess, directory: URL) {
        self.driver = driver
        self.chromedriver = chromedriver
        self.directory = directory
    }

    /// Closes the browser and the driver; kills any browser process left behind.
    func stop() async {
        await driver.quit()
        await chromedriver.stop(grace: .seconds(3))
        Self.killBrowsers(using: directory.appendingPathComponent("profile"))
        try? FileManager.default.removeItem(at: directory)
    }

    /// The end of a log as one line, for a failure message that stays one line.
    private static func oneLine(_ text: String) -> String {
        String(text.suffix(600)).split(whereSeparator: \.isNewline).joined(separator: " | ")
    }

    /// SIGKILLs every process whose command line names this test's profile directory (the
    /// browser and its helpers, which chromedriver started), and waits until they are gone.
    static func killBrowsers(using profile: URL) {
        #if os(Linux)
        let mark = "--user-data-dir=\(profile.path)"
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).split(separator: "\0").contains { $0 == mark }
        }
        for pid in pids { sendSignal(SIGKILL, to: pid) }
        eventuallyBlocking(timeout: 10) { pids.allSatisfy(processGoneOrZombie) }
        #endif
    }
}
