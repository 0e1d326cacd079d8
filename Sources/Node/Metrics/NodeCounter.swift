import Metrics
import Synchronization

/// One counter: a swift-metrics `Counter` and its running total (for the minute's log line).
final class NodeCounter: Sendable {
    private let counter: Counter
    private let total = Atomic<Int>(0)

    init(_ label: String) {
        counter = Counter(label: label)
    }

    func add(_ amount: Int) {
        total.add(amount, ordering: .relaxed)
        counter.increment(by: amount)
    }

    var value: Int { total.load(ordering: .relaxed) }
}
