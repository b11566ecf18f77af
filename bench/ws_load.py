"""A WebSocket load generator for bench/apps.py: CONNS connections to a
WebSocket echo server, each keeping DEPTH text messages of SIZE bytes in
flight, for WARMUP then DURATION seconds; prints a JSON line with the
messages echoed back in the measured window, its length and the server's
user+sys CPU over it (/proc/SERVER_PID/stat).

    python bench/ws_load.py HOST PORT CONNS SIZE DEPTH WARMUP DURATION PID

Frames are built once (masked, as a client must) and sent in batches, and
replies are counted by length (the server's echo frames are unmasked and
the same size each), so the client's own cost per message stays small
next to the server's.
"""
import json
import os
import selectors
import socket
import sys
import time

HANDSHAKE = (b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frame(size):
    assert size < 126
    payload = (b"x" * size)
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | size]) + mask + masked, 2 + size


def connect(host, port):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(HANDSHAKE % (host.encode(), port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    if rest:
        raise RuntimeError("data after the handshake")
    s.setblocking(False)
    return s


def main():
    host, port, conns, size, depth, warmup, duration, pid = sys.argv[1:9]
    port, conns, size, depth = int(port), int(conns), int(size), int(depth)
    warmup, duration, pid = float(warmup), float(duration), int(pid)
    out, reply = frame(size)
    sel = selectors.DefaultSelector()
    pending = {}
    for _ in range(conns):
        s = connect(host, port)
        s.sendall(out * depth)
        pending[s] = 0          # bytes of an incomplete reply
        sel.register(s, selectors.EVENT_READ)
    count = 0
    start = time.perf_counter()
    t_mark = start + warmup
    t_end = t_mark + duration
    marked = None
    while True:
        now = time.perf_counter()
        if marked is None and now >= t_mark:
            marked = (count, now, cpu_seconds(pid))
        if now >= t_end:
            break
        for key, _ in sel.select(0.5):
            s = key.fileobj
            data = s.recv(262144)
            if not data:
                raise RuntimeError("server closed a connection")
            total = pending[s] + len(data)
            n, pending[s] = divmod(total, reply)
            if n:
                count += n
                s.sendall(out * n)
    end_cpu = cpu_seconds(pid)
    end = time.perf_counter()
    if marked is None:
        raise RuntimeError("no measured window")
    print(json.dumps({"msgs": count - marked[0], "secs": end - marked[1],
                      "server_cpu": end_cpu - marked[2]}))
    for s in pending:
        s.close()


if __name__ == "__main__":
    main()
