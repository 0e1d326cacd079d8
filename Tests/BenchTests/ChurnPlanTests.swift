import ChorusTesting
import Testing
@testable import Bench

@Suite struct ChurnPlanTests {
    @Test func denialsAreSpreadAndTheRestRotates() {
        let plan = ChurnPlan(deniedFraction: 0.2)
        let kinds = (0..<20).map { plan.kind($0).name }
        // One in five is a denial; the others rotate, so the mix is the same all along the run.
        #expect(kinds == Array(repeatElement(["closed", "login", "malformed", "ping", "denied"], count: 4).joined()))
        var counts: [String: Int] = [:]
        for i in 0..<100_000 { counts[plan.kind(i).name, default: 0] += 1 }
        #expect(counts == ["closed": 20_000, "login": 20_000, "malformed": 20_000, "ping": 20_000, "denied": 20_000])
    }

    @Test func noDenials() {
        let plan = ChurnPlan(deniedFraction: 0)
        #expect((0..<8).map { plan.kind($0) } == [.closed, .login, .malformed, .ping, .closed, .login, .malformed, .ping])
    }

    @Test func anyFraction() {
        for f in [0.01, 0.1, 1.0 / 3, 0.5, 0.9] {
            let plan = ChurnPlan(deniedFraction: f)
            let denied = (0..<10_000).filter { plan.kind($0) == .denied }.count
            #expect(abs(Double(denied) - 10_000 * f) <= 1, "f = \(f): \(denied)")
        }
    }
}
