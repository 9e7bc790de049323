#!/usr/bin/env python3
"""tests/badhub.py - a small hub that misbehaves on purpose, for
tests/sseload-smoke.sh: sseload --publish must see what it does wrong.

	tests/badhub.py FAULT [--no-ids]

It serves docs/protocol.md section 8's two routes on 127.0.0.1, any port (it prints
"badhub: listening on 127.0.0.1:PORT" on stderr): POST /topics/NAME
publishes the body as one event, answered 200 {"id":N}; GET /topics/NAME
streams ": hi", then every event published to NAME from then on, as
"id: N" (unless --no-ids) and one "data:" line.  Last-Event-ID is not
honoured.  FAULT says what goes wrong with each topic's third event:

	none     nothing: every event once, in order
	drop     it is never sent
	repeat   it is sent twice
	reorder  it is held back and sent after the fourth

One thread, one selector; it exits on SIGTERM, or by itself after 60 s.
"""
import selectors
import signal
import socket
import sys
import time

FAULTS = ("none", "drop", "repeat", "reorder")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b""
        self.out = b""
        self.topic = None       # set once it subscribes


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in FAULTS:
        sys.exit("usage: tests/badhub.py none|drop|repeat|reorder [--no-ids]")
    fault = sys.argv[1]
    ids = "--no-ids" not in sys.argv[2:]
    sel = selectors.DefaultSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print("badhub: listening on 127.0.0.1:%d" % lsock.getsockname()[1],
          file=sys.stderr, flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    subscribers = {}            # topic -> [Conn]
    published = {}              # topic -> events published so far
    held = {}                   # topic -> the held-back event (reorder)
    next_id = [0]
    deadline = time.monotonic() + 60

    def send(c, data):
        c.out += data
        flush(c)

    def flush(c):
        try:
            n = c.sock.send(c.out)
            c.out = c.out[n:]
        except BlockingIOError:
            pass
        except OSError:
            close(c)
            return
        sel.modify(c.sock, selectors.EVENT_READ |
                   (selectors.EVENT_WRITE if c.out else 0), c)

    def close(c):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        if c.topic is not None and c in subscribers.get(c.topic, []):
            subscribers[c.topic].remove(c)

    def fan_out(topic, event):
        for s in list(subscribers.get(topic, [])):
            send(s, event)

    def publish(topic, body):
        next_id[0] += 1
        k = published[topic] = published.get(topic, 0) + 1
        event = (b"id: %d\n" % next_id[0] if ids else b"") + \
            b"data: " + body + b"\n\n"
        if k == 3 and fault == "drop":
            pass
        elif k == 3 and fault == "repeat":
            fan_out(topic, event + event)
        elif k == 3 and fault == "reorder":
            held[topic] = event
        else:
            fan_out(topic, event)
            if k == 4 and topic in held:
                fan_out(topic, held.pop(topic))
        return next_id[0]

    def request(c):
        end = c.inbuf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = c.inbuf[:end].decode("latin-1").split("\r\n")
        method, target = head[0].split(" ")[:2]
        length = 0
        for h in head[1:]:
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(c.inbuf) < end + 4 + length:
            return False
        body = c.inbuf[end + 4:end + 4 + length]
        c.inbuf = c.inbuf[end + 4 + length:]
        topic = target[len("/topics/"):] if target.startswith("/topics/") \
            else None
        if topic and method == "POST":
            answer = b'{"id":%d}' % publish(topic, body)
            send(c, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(answer) + answer)
        elif topic and method == "GET":
            c.topic = topic
            subscribers.setdefault(topic, []).append(c)
            send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Connection: close\r\n\r\n: hi\n\n")
        else:
            send(c, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True

    while not stop and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=0.5):
            if key.data is None:
                try:
                    sock, _ = lsock.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                c = Conn(sock)
                sel.register(sock, selectors.EVENT_READ, c)
                continue
            c = key.data
            if mask & selectors.EVENT_WRITE:
                flush(c)
            if mask & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    close(c)
                    continue
                c.inbuf += data
                while request(c):
                    pass


if __name__ == "__main__":
    main()
