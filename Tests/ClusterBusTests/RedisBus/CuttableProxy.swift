import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on 127.0.0.1 in front of a redis-server, which a test can cut: `cut()` closes
/// every proxied connection and refuses new ones (closes them at once) until `mend()`. One
/// bus connected through it loses Redis while the other buses keep it: a partition.
final class CuttableProxy: Sendable {
    private struct State: Sendable {
        var cut = false
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    let port: Int
    private let server: any Channel
    private let state: Mutex<State>

    private init(port: Int, server: any Channel) {
        self.port = port
        self.server = server
        self.state = Mutex(State())
    }

    /// `redis://127.0.0.1:PORT` of the proxy.
    var url: String { "redis://127.0.0.1:\(port)" }

    static func start(to targetPort: Int, group: any EventLoopGroup) async throws -> CuttableProxy {
        let box = StateBox()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { downstream in
                guard let proxy = box.proxy.withLock({ $0 }), !proxy.isCut else {
                    return downstream.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                return ClientBootstrap(group: downstream.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { upstream in
                        proxy.track(upstream)
                        proxy.track(downstream)
                        return upstream.pipeline.addHandler(Relay(partner: downstream, proxy: proxy)).flatMap {
                            downstream.pipeline.addHandler(Relay(partner: upstream, proxy: proxy))
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = CuttableProxy(port: server.localAddress?.port ?? 0, server: server)
        box.proxy.withLock { $0 = proxy }
        return proxy
    }

    var isCut: Bool { state.withLock { $0.cut } }

    /// Closes every proxied connection; new ones are closed at once until `mend()`.
    func cut() {
        let channels = state.withLock { state -> [any Channel] in
            state.cut = true
            defer { state.channels.removeAll() }
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Lets connections through again.
    func mend() {
        state.withLock { $0.cut = false }
    }

    func close() async {
        cut()
        try? await server.close()
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let refused = state.withLock { state -> Bool in
            if state.cut { return true }
            state.channels[id] = channel
            return false
        }
        if refused { channel.close(promise: nil); return }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.state.withLock { $0.channels.removeValue(forKey: id) }
        }
    }

    /// The proxy, known to the child initializer once bound.
    private final class StateBox: Sendable {
        let proxy = Mutex<CuttableProxy?>(nil)
    }

    /// Writes what one side reads to the other; closes the other when one closes. Once the
    /// proxy is cut, drops what it reads: the connections' closing is asynchronous, and bytes
    /// sent after `cut()` returned must not get through meanwhile.
    private final class Relay: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel
        let proxy: CuttableProxy

        init(partner: any Channel, proxy: CuttableProxy) {
            self.partner = partner
            self.proxy = proxy
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !proxy.isCut else { return }
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
