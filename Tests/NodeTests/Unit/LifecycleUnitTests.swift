@testable import Node
import Synchronization
import Testing

struct TaskTrackerTests {
    @Test func waitForAllReturnsOnceEveryTrackedTaskFinished() async {
        let tracker = TaskTracker()
        let finished = Atomic<Int>(0)
        // One gate per task: each task waits until the test opens its gate.
        var gates: [AsyncStream<Void>.Continuation] = []
        for _ in 0..<3 {
            let (gate, open) = AsyncStream.makeStream(of: Void.self)
            gates.append(open)
            tracker.run {
                for await _ in gate { break }
                finished.add(1, ordering: .relaxed)
            }
        }
        #expect(tracker.running == 3)
        #expect(finished.load(ordering: .relaxed) == 0)
        for open in gates { open.yield(); open.finish() }
        await tracker.waitForAll()
        #expect(finished.load(ordering: .relaxed) == 3)
        #expect(tracker.running == 0)
        await tracker.waitForAll() // nothing running: returns at once
    }
}

struct BusReadinessTests {
    @Test func waitersLearnWhetherTheBusStarted() async {
        let started = BusReadiness()
        async let first = started.wait()
        started.started()
        #expect(await first)
        #expect(await started.wait(), "a late waiter learns it too")

        let failed = BusReadiness()
        failed.failed()
        #expect(await failed.wait() == false)
    }

    @Test func aCancelledWaiterIsToldNo() async {
        let readiness = BusReadiness()
        let waiter = Task { await readiness.wait() }
        waiter.cancel()
        #expect(await waiter.value == false)
    }
}
