import Testing
import Foundation

/// Polls `condition` every `interval` until it holds or `timeout` passes (it is asked once
/// more at the deadline); returns whether it held. An error thrown by `condition` ends the
/// wait and is rethrown. Use it as `#expect(await eventually { ... })`, or
/// `try #require(await eventually { ... }, "what")` where the test cannot go on without it.
@discardableResult
public func eventually(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// `eventually` for a value: polls `body` until it returns one, retrying when it returns nil
/// or throws; after `timeout`, throws the last error `body` threw, or a ``TestFailure``.
public func eventually<T>(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
                          _ body: () async throws -> T?) async throws -> T {
    var value: T?
    var lastError: (any Error)?
    await eventually(timeout: timeout, every: interval) { () async -> Bool in
        do {
            value = try await body()
            return value != nil
        } catch {
            lastError = error
            return false
        }
    }
    if let value { return value }
    throw lastError ?? TestFailure("condition not met within \(timeout)")
}

/// The blocking form, for synchronous code only (waiting for a process to start or exit,
/// outside Swift concurrency): polls `condition` every `interval` seconds until it holds or
/// `timeout` seconds pass (asked once more at the deadline); returns whether it held.
@discardableResult
public func eventuallyBlocking(timeout: Double, every interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return try condition()
}

/// Runs `body`, then `cleanup`, also when `body` throws (an async `defer`): for fixtures that
/// must stop their processes whatever the test did.
public func withCleanup<Result>(_ body: () async throws -> Result, cleanup: () async -> Void) async throws -> Result {
    do {
        let result = try await body()
        await cleanup()
        return result
    } catch {
        await cleanup()
        throw error
    }
}
