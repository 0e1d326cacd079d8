import ChorusTesting
@testable import Node
import Testing

struct SlowReaderJudgeTests {
    @Test func oneLargeResponseThatIsReadIsNeverSlow() {
        var judge = SlowReaderJudge(bound: 1000)
        judge.becameUnwritable(buffered: 50_000)
        // Read in part by the first check, then entirely.
        var verdict = judge.check(writable: false, buffered: 20_000)
        #expect(!verdict)
        verdict = judge.check(writable: true, buffered: 0)
        #expect(!verdict)
        #expect(!judge.watching)
    }

    @Test func aClientThatReadsNothingForAGracePeriodIsCut() {
        var judge = SlowReaderJudge(bound: 1000)
        judge.becameUnwritable(buffered: 5_000)
        let verdict = judge.check(writable: false, buffered: 5_000)
        #expect(verdict)
    }

    @Test func readingWhileMoreArrivesIsProgress() {
        var judge = SlowReaderJudge(bound: 10_000)
        judge.becameUnwritable(buffered: 5_000)
        var verdict = judge.queued(600)
        #expect(!verdict)
        // 5,600 were waiting; 5,500 remain: it read 100 bytes.
        verdict = judge.check(writable: false, buffered: 5_500)
        #expect(!verdict)
        verdict = judge.queued(100)
        #expect(!verdict)
        // 5,600 waiting again and 5,600 remain: nothing read in a whole grace period.
        verdict = judge.check(writable: false, buffered: 5_600)
        #expect(verdict)
    }

    @Test func queuingMoreThanAnotherBoundOnTopCutsAtOnce() {
        var judge = SlowReaderJudge(bound: 1000)
        var verdict = judge.queued(5_000)
        #expect(!verdict, "under the bound nothing counts")
        judge.becameUnwritable(buffered: 1_500)
        verdict = judge.queued(600)
        #expect(!verdict)
        verdict = judge.queued(400)
        #expect(!verdict)
        verdict = judge.queued(1)
        #expect(verdict)
    }

    @Test func goingBackUnderTheBoundForgetsThePast() {
        var judge = SlowReaderJudge(bound: 1000)
        judge.becameUnwritable(buffered: 1_500)
        var verdict = judge.queued(900)
        #expect(!verdict)
        judge.becameWritable()
        judge.becameUnwritable(buffered: 1_200)
        verdict = judge.queued(900)
        #expect(!verdict)
    }
}
