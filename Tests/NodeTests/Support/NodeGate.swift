import ChorusTesting
import Testing

/// Runs at most a few end-to-end tests at once: each starts its own node(s), and the tests
/// share a small machine. Apply to a suite: `@Suite(.nodeGate)`.
struct NodeGate: SuiteTrait, TestTrait, TestScoping {
    /// Tests of gated suites running at the same time.
    static let width = 3

    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> NodeGate? {
        // Gate each test case (a plain test function has one), not the suites around them.
        testCase == nil ? nil : self
    }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        await Self.slots.acquire()
        do {
            try await function()
        } catch {
            await Self.slots.release()
            throw error
        }
        await Self.slots.release()
    }

    private static let slots = AsyncSemaphore(width)
}

extension Trait where Self == NodeGate {
    /// Limits how many end-to-end tests run at once.
    static var nodeGate: NodeGate { NodeGate() }
}

/// A counting semaphore for tasks.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
