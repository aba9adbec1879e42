#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that makes every handshake through it slow.

    slow_proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_S [RATE_KIB_S]

Each accepted connection is connected to 127.0.0.1:UPSTREAM_PORT at once;
when that is refused, the client is closed at once. Otherwise both
directions are held for DELAY_S seconds and then passed on as they come, so
a TLS handshake through the proxy takes at least DELAY_S. When either side
closes, so does the other. Prints 'listening' once, then one line per
connection: 'refused' or 'upstream'. Used by heartbeat_handshake.sh to keep
an agent's reconnect handshake open long enough for timers to fire in it.
With RATE_KIB_S, each direction of each connection passes at most that
many KiB per second (image_fetch.sh: a transfer slow enough to cut).
"""
import asyncio
import sys


RATE = 0


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(16384 if RATE else 65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            if RATE:
                await asyncio.sleep(len(data) / (RATE * 1024))
    except OSError:
        pass
    finally:
        writer.close()


async def serve(upstream_port, delay):
    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            print("refused", flush=True)
            cwriter.close()
            return
        print("upstream", flush=True)
        await asyncio.sleep(delay)
        await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))

    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN_PORT)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: slow_proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_S [RATE_KIB_S]")
    try:
        LISTEN_PORT, UPSTREAM_PORT, DELAY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
        RATE = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    except ValueError:
        sys.exit("slow_proxy.py: ports must be whole numbers and DELAY_S a number of seconds")
    asyncio.run(serve(UPSTREAM_PORT, DELAY))
