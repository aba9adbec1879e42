#!/usr/bin/env python3
"""Holds N idle TCP connections to the master's HTTPS port (no TLS
handshake ever) and one slowloris client (a TLS handshake, then a request
head sent one byte per second, never finished) for SECONDS. Prints one
line per fact: how many connections were made, how many the server closed,
and when the slowloris connection was closed (seconds after its first
byte), or "slowloris open" if it never was."""
import resource
import select
import socket
import ssl
import sys
import time

port, ca, n, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

idle = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    idle.append(s)
print(f"idle connections opened {len(idle)}", flush=True)

ctx = ssl.create_default_context(cafile=ca)
# The server makes room for a new connection by closing the oldest one
# still in its TLS handshake. Idle connections whose SYNs the full accept
# queue dropped keep arriving for seconds, so on a busy machine a handshake
# begun early can become that oldest one and be reset: begin it again.
for attempt in range(1, 41):
    try:
        slow = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1")
        break
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        if attempt == 40:
            raise
        time.sleep(0.5)
print(f"slowloris handshake done at attempt {attempt}", flush=True)
head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
t_first = time.monotonic()
slow_closed = None
closed = set()
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    if slow_closed is None:
        try:
            slow.sendall(head[i:i + 1])
            i += 1
            slow.settimeout(0.0)
            try:
                if slow.recv(4096) == b"":
                    slow_closed = time.monotonic() - t_first
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            slow.settimeout(30)
        except (OSError, ssl.SSLError):
            slow_closed = time.monotonic() - t_first
    # Which idle ones did the server close?
    live = [s for s in idle if s.fileno() not in closed]
    for k in range(0, len(live), 500):
        r, _, _ = select.select(live[k:k + 500], [], [], 0)
        for s in r:
            try:
                if s.recv(1) == b"":
                    closed.add(s.fileno())
            except OSError:
                closed.add(s.fileno())
    time.sleep(1.0)
print(f"idle connections closed by the server {len(closed)}", flush=True)
print(f"slowloris closed after {slow_closed:.1f} s" if slow_closed is not None else "slowloris open", flush=True)
for s in idle:
    s.close()
slow.close()
