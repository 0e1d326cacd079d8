import ChorusTesting
import Testing
@testable import Bench

/// Feeds `chunks` to a splitter and returns the frames it produced, as strings.
private func split(_ chunks: [[UInt8]], splitter: inout FrameSplitter) -> [String] {
    var frames: [String] = []
    for chunk in chunks {
        chunk.withUnsafeBytes { raw in
            splitter.feed(raw) { frames.append(String(decoding: $0, as: UTF8.self)) }
        }
    }
    return frames
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func delivery(_ text: String, user: String, action: String = "SendPublicMessage") -> String {
    "<XmlDoc><Action>\(action)</Action><Parameters><Message>\(text)</Message><User>\(user)</User><Variables/></Parameters></XmlDoc>"
}

private func withFrame<T>(_ s: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    Array(s.utf8).withUnsafeBytes(body)
}

@Suite struct FrameSplitterTests {
    @Test func severalFramesInOneRead() {
        var s = FrameSplitter()
        let frames = split([bytes("<a/>\0<b/>\0<c/>\0")], splitter: &s)
        #expect(frames == ["<a/>", "<b/>", "<c/>"])
        #expect(s.carry.isEmpty)
    }

    @Test func frameSplitAcrossReads() {
        var s = FrameSplitter()
        let frames = split([bytes("<XmlDoc><Act"), bytes("ion>X</Action>"), bytes("</XmlDoc>\0<ne"), bytes("xt/>\0")], splitter: &s)
        #expect(frames == ["<XmlDoc><Action>X</Action></XmlDoc>", "<next/>"])
        #expect(s.carry.isEmpty)
    }

    @Test func everySplitPointOfAStream() {
        let stream = bytes(delivery("1 2 xx", user: "u1") + "\0" + delivery("3 4 yy", user: "u2") + "\0\0" + "<z/>\0")
        for cut in 0...stream.count {
            var s = FrameSplitter()
            let frames = split([Array(stream[0..<cut]), Array(stream[cut...])], splitter: &s)
            #expect(frames == [delivery("1 2 xx", user: "u1"), delivery("3 4 yy", user: "u2"), "<z/>"], "cut at \(cut)")
        }
    }

    @Test func byteByByte() {
        let stream = bytes("<a>1</a>\0<b>2</b>\0")
        var s = FrameSplitter()
        let frames = split(stream.map { [$0] }, splitter: &s)
        #expect(frames == ["<a>1</a>", "<b>2</b>"])
    }

    @Test func emptyFramesAreSkipped() {
        var s = FrameSplitter()
        #expect(split([bytes("\0\0<a/>\0\0")], splitter: &s) == ["<a/>"])
    }

    @Test func unterminatedTailIsKept() {
        var s = FrameSplitter()
        #expect(split([bytes("<a/>\0<b")], splitter: &s) == ["<a/>"])
        #expect(s.carry == bytes("<b"))
    }

    @Test func oversizedFrameIsDroppedAndTheNextOneSurvives() {
        var s = FrameSplitter(maxFrameBytes: 8)
        let frames = split([bytes("0123456"), bytes("789abcdef"), bytes("xyz\0<ok/>\0")], splitter: &s)
        #expect(frames == ["<ok/>"])
        #expect(s.oversized == 1)
    }
}

@Suite struct FrameScannerTests {
    @Test func classifiesActions() {
        let cases: [(String, FrameKind)] = [
            (delivery("1 2 x", user: "u"), .publicMessage),
            (delivery("1 2 x", user: "u", action: "SendPrivateMessage"), .privateMessage),
            ("<XmlDoc><Action>Error</Action><Parameters><Reason>Flooding</Reason></Parameters></XmlDoc>", .error),
            ("<XmlDoc><Action>ConnectionResponse</Action><Parameters><Result>Accepted</Result></Parameters></XmlDoc>", .connectionResponse),
            ("<XmlDoc><Action>LoginResponse</Action><Parameters><Result>Accepted</Result></Parameters></XmlDoc>", .loginResponse),
            ("<XmlDoc><Action>RoomList</Action><Parameters></Parameters></XmlDoc>", .roomList),
            ("<XmlDoc><Action>JoinRoom</Action><Parameters><Result>Success</Result></Parameters></XmlDoc>", .joinRoom),
            ("<XmlDoc><Action>CreateRoom</Action><Parameters><Result>Success</Result></Parameters></XmlDoc>", .createRoom),
            ("<XmlDoc><Action>UpdateRoomList</Action><Parameters><MinorAction>CreateRoom</MinorAction></Parameters></XmlDoc>", .other),
            ("<XmlDoc><Action>UpdateUserList</Action><Parameters><MinorAction>UserJoined</MinorAction></Parameters></XmlDoc>", .other),
            ("<XmlDoc><Action>SendPublicMessagX</Action><Parameters/></XmlDoc>", .other),
            ("<?xml version=\"1.0\"?><XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>1 2 x</Message><User>u</User></Parameters></XmlDoc>", .publicMessage),
            ("garbage", .other),
            ("<XmlDoc><Action>Error", .other),
        ]
        for (frame, kind) in cases {
            #expect(withFrame(frame) { FrameScanner.classify($0).kind } == kind, "\(frame)")
        }
    }

    @Test func parsesADelivery() {
        let frame = delivery("1234567890123 42 " + String(repeating: "x", count: 80), user: "babcd_17")
        withFrame(frame) { f in
            let (kind, after) = FrameScanner.classify(f)
            #expect(kind == .publicMessage)
            let m = FrameScanner.message(f, from: after)
            #expect(m?.timestamp == 1_234_567_890_123)
            #expect(m?.sequence == 42)
            guard let m else { return }
            #expect(String(decoding: UnsafeRawBufferPointer(rebasing: f[m.userStart..<m.userEnd]), as: UTF8.self) == "babcd_17")
            let prefix = Array("babcd_".utf8)
            prefix.withUnsafeBytes { p in
                #expect(FrameScanner.clientIndex(f, start: m.userStart, end: m.userEnd, prefix: p) == 17)
            }
            Array("bzzzz_".utf8).withUnsafeBytes { p in
                #expect(FrameScanner.clientIndex(f, start: m.userStart, end: m.userEnd, prefix: p) == -1)
            }
        }
    }

    @Test func parsesCDATAAndReorderedMarkup() {
        let frame = "<XmlDoc><Action>SendPublicMessage</Action><Parameters><Variables/><Message><![CDATA[77 3 pad]]></Message><User><![CDATA[bq_5]]></User></Parameters></XmlDoc>"
        withFrame(frame) { f in
            let (_, after) = FrameScanner.classify(f)
            let m = FrameScanner.message(f, from: after)
            #expect(m?.timestamp == 77)
            #expect(m?.sequence == 3)
            if let m {
                #expect(String(decoding: UnsafeRawBufferPointer(rebasing: f[m.userStart..<m.userEnd]), as: UTF8.self) == "bq_5")
            }
        }
    }

    @Test func foreignTextIsNotADelivery() {
        for text in ["hello world", "", "12", "12 x", "-1 2 x"] {
            let frame = delivery(text, user: "u")
            withFrame(frame) { f in
                let (_, after) = FrameScanner.classify(f)
                #expect(FrameScanner.message(f, from: after) == nil, "\(text)")
            }
        }
    }

    @Test func handshakeFields() {
        withFrame("<XmlDoc><Action>JoinRoom</Action><Parameters><Result>Failure</Result><Reason>Room does not exist</Reason></Parameters></XmlDoc>") { f in
            #expect(FrameScanner.result(f) == "Failure")
            #expect(FrameScanner.reason(f) == "Room does not exist")
        }
        withFrame("<XmlDoc><Action>RoomList</Action><Parameters><Zone users=\"3\"><Name>Chat</Name><Rooms/></Zone></Parameters></XmlDoc>") { f in
            #expect(Scan.text(after: "<Name>", in: f) == "Chat")
        }
    }
}
