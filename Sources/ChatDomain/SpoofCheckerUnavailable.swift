/// Why ICU's spoof checker could not be opened (e.g. `libicu72` is not installed).
struct SpoofCheckerUnavailable: Error, Equatable {
    var reason: String
}
