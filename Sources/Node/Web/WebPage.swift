import NIOCore

/// The web chat page (`Sources/Node/WebPage/chat.html`, compiled into the binary), served
/// at `/` of the web port: a complete client of the protocol over `/ws`.
enum WebPage {
    static let html: ByteBuffer = ByteBuffer(bytes: PackageResources.chat_html)

    /// The page loads nothing from elsewhere and talks only to its own node; the policy
    /// says so to the browser, so that even a bug in the page cannot run foreign script.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy",
         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-cache"),
    ]
}
