// Wire module: framing, XML reader/writer, typed protocol messages.
