import Logging
import NIOCore

/// Reads the PROXY protocol header (v1 text or v2 binary) that HAProxy's `send-proxy` /
/// `send-proxy-v2` puts before the client's bytes, announces the client's real address
/// with a `ProxiedConnection` event, passes on whatever followed the header, and leaves
/// the pipeline. A connection that does not start with a valid header is closed.
final class ProxyProtocolDecoder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var buffer: ByteBuffer?
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    /// A client (or load balancer) has this long to send the header.
    static let headerTimeout: TimeAmount = .seconds(5)




    init(logger: Logger) {
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: Self.headerTimeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        switch ProxyHeader.parse(buffer!) {
        case .needMoreData:
            return
        case .invalid(let why):
            logger.notice("refusing connection without a valid PROXY protocol header: \(why)",
                          metadata: ["peer": "\(context.channel.remoteAddress?.description ?? "unknown")"])
            buffer = nil
            context.close(promise: nil)
        case .header(let source, let length):
            deadline?.cancel()
            var rest = buffer!
            buffer = nil
            rest.moveReaderIndex(forwardBy: length)
            context.fireUserInboundEventTriggered(ProxiedConnection(source: source ?? context.channel.remoteAddress))
            if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

/// The PROXY protocol header, v1 and v2 (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt).
enum ProxyHeader: Equatable {
    /// `source` is nil for `UNKNOWN` (v1) and `LOCAL` (v2): the connection's own address applies.
    case header(source: SocketAddress?, length: Int)
    case needMoreData
    case invalid(String)

    static func parse(_ bytes: ByteBuffer) -> ProxyHeader {
        let view = bytes.readableBytesView
        let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
        if let first = view.first, first == 0x0D {
            let prefix = Array(view.prefix(12))
            guard prefix == Array(signature.prefix(prefix.count)) else { return .invalid("bad v2 signature") }
            guard view.count >= 16 else { return .needMoreData }
            return parseV2(Array(view.prefix(16 + 216)), available: view.count)
        }
        let text = Array(view.prefix(107))
        let proxy: [UInt8] = Array("PROXY ".utf8)
        guard Array(text.prefix(min(6, text.count))) == Array(proxy.prefix(min(6, text.count))) else {
            return .invalid("no PROXY header")
        }
        guard let cr = text.firstIndex(of: 0x0D) else {
            return text.count >= 107 ? .invalid("v1 header longer than 107 bytes") : .needMoreData
        }
        guard cr + 1 < text.count else { return .needMoreData }
        guard text[cr + 1] == 0x0A else { return .invalid("v1 header not ended by CRLF") }
        let line = String(decoding: text[6..<cr], as: UTF8.self)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        if fields.first == "UNKNOWN" { return .header(source: nil, length: cr + 2) }
        guard fields.count == 5, fields[0] == "TCP4" || fields[0] == "TCP6",
              let port = Int(fields[3]), (0...65535).contains(port), Int(fields[4]) != nil,
              let address = try? SocketAddress(ipAddress: String(fields[1]), port: port)
        else { return .invalid("malformed v1 header \"\(line)\"") }
        return .header(source: address, length: cr + 2)
    }

    private static func parseV2(_ head: [UInt8], available: Int) -> ProxyHeader {
        let versionCommand = head[12]
        guard versionCommand >> 4 == 2 else { return .invalid("unsupported v2 version") }
        let command = versionCommand & 0x0F
        let family = head[13]
        let length = Int(head[14]) << 8 | Int(head[15])
        guard length <= 216 else { return .invalid("v2 address block too long") }
        guard available >= 16 + length else { return .needMoreData }
        let total = 16 + length
        switch command {
        case 0: return .header(source: nil, length: total)           // LOCAL: health checks
        case 1: break                                                // PROXY
        default: return .invalid("unknown v2 command \(command)")
        }
        let block = head[16..<total]
        switch family {
        case 0x11 where length >= 12:                                // TCP over IPv4
            let a = Array(block.prefix(12))
            let ip = "\(a[0]).\(a[1]).\(a[2]).\(a[3])"
            let port = Int(a[8]) << 8 | Int(a[9])
            return (try? SocketAddress(ipAddress: ip, port: port)).map { .header(source: $0, length: total) }
                ?? .invalid("bad v2 IPv4 address")
        case 0x21 where length >= 36:                                // TCP over IPv6
            let a = Array(block.prefix(36))
            let groups = stride(from: 0, to: 16, by: 2).map { String(Int(a[$0]) << 8 | Int(a[$0 + 1]), radix: 16) }
            let port = Int(a[32]) << 8 | Int(a[33])
            return (try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: port)).map { .header(source: $0, length: total) }
                ?? .invalid("bad v2 IPv6 address")
        case 0x00:
            return .header(source: nil, length: total)
        default:
            return .invalid("unsupported v2 address family \(family)")
        }
    }
}
