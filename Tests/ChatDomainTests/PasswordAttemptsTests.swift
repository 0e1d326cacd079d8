import ChatDomain
import Testing

struct PasswordAttemptsTests {
    @Test func fiveFreeThenSlowerAndSlowerThenDisconnectedAtTwenty() {
        var attempts = PasswordAttempts()
        var penalties: [PasswordAttempts.Penalty] = []
        for _ in 0..<20 { penalties.append(attempts.recordWrong()) }
        #expect(penalties.prefix(5).allSatisfy { $0 == .none })
        #expect(Array(penalties[5..<10]) == [250, 500, 1000, 2000, 4000].map { .delay(milliseconds: $0) })
        #expect(penalties[10..<19].allSatisfy { $0 == .delay(milliseconds: 8000) })
        #expect(penalties[19] == .disconnect)
        #expect(attempts.wrong == 20)
    }
}
