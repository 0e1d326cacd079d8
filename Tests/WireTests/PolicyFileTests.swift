import NIOCore
import Testing
import Wire

@Suite struct PolicyFileTests {
    @Test func recognizesThePolicyRequest() {
        #expect(isPolicyFileRequest(ByteBuffer(string: "<policy-file-request/>")))
        #expect(isPolicyFileRequest(ByteBuffer(string: " \r\n<policy-file-request/>\n")))
    }

    @Test func rejectsAnythingElse() {
        #expect(!isPolicyFileRequest(ByteBuffer(string: "")))
        #expect(!isPolicyFileRequest(ByteBuffer(string: "   ")))
        #expect(!isPolicyFileRequest(ByteBuffer(string: "<policy-file-request />")))
        #expect(!isPolicyFileRequest(ByteBuffer(string: "<policy-file-request/>x")))
        #expect(!isPolicyFileRequest(ByteBuffer(string: "<policy-file-request>")))
        #expect(!isPolicyFileRequest(ByteBuffer(string: "<XmlDoc><Action>Ping</Action></XmlDoc>")))
    }

    @Test func answersWithTheCrossDomainPolicy() {
        let response = policyFileResponse(domain: "*", port: 9875)
        #expect(String(buffer: response) == #"<cross-domain-policy><allow-access-from domain="*" to-ports="9875"/></cross-domain-policy>"# + "\0")
    }

    @Test func escapesTheDomain() {
        let response = policyFileResponse(domain: #"a"b<c"#, port: 843)
        #expect(String(buffer: response) == #"<cross-domain-policy><allow-access-from domain="a&quot;b&lt;c" to-ports="843"/></cross-domain-policy>"# + "\0")
    }
}
