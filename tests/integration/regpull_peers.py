#!/usr/bin/env python3
"""Misbehaving peers for registry_pull.sh, on 127.0.0.1 only.

    regpull_peers.py throttle PORT UPSTREAM_PORT BYTES_PER_S
        A TCP proxy to 127.0.0.1:UPSTREAM_PORT that passes the upstream's
        answers on at BYTES_PER_S, so a pull can be interrupted halfway.
    regpull_peers.py status PORT CODE
        Plain HTTP: answers every request with CODE and a short body.
    regpull_peers.py silent PORT
        Accepts connections and never answers.
    regpull_peers.py redirect PORT TARGET_PORT LOG
        Plain HTTP registry stand-in that wants "Authorization: Bearer t0k"
        (401 with a Bearer challenge whose realm is /token on itself
        otherwise), serves one manifest, and redirects its blob to
        127.0.0.1:TARGET_PORT; the other end of `redirect` is `sink`.
    regpull_peers.py sink PORT LOG BLOBFILE
        Serves BLOBFILE for any GET and writes the Authorization header it
        got (or "none") into LOG.

Each prints 'listening' once it listens.
"""
import asyncio
import hashlib
import http.server
import json
import socket
import sys
import threading


async def throttle(port, upstream, rate):
    async def pipe(reader, writer, limit):
        try:
            while True:
                data = await reader.read(16384 if limit else 65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
                if limit:
                    await asyncio.sleep(len(data) / limit)
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, uwriter, 0), pipe(ureader, cwriter, rate))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


def serve(port, handler):
    http.server.HTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    print("listening", flush=True)
    srv.serve_forever()


def main():
    mode = sys.argv[1]
    port = int(sys.argv[2])
    if mode == "throttle":
        asyncio.run(throttle(port, int(sys.argv[3]), int(sys.argv[4])))
    elif mode == "status":
        code = int(sys.argv[3])

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"errors":[{"code":"UNKNOWN","message":"test"}]}'
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        serve(port, H)
    elif mode == "huge":
        # A "manifest" of 5 MiB that never ends being JSON: a registry
        # trying to make the master hold more than a manifest may be.
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"schemaVersion":2,"layers":[' + b" " * (5 << 20) + b"]}"
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass
        serve(port, H)
    elif mode == "silent":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        print("listening", flush=True)
        held = []
        while True:
            c, _ = s.accept()
            held.append(c)
    elif mode == "redirect":
        target, log = int(sys.argv[3]), sys.argv[4]
        blob = open(log + ".blob", "rb").read()
        bdig = "sha256:" + hashlib.sha256(blob).hexdigest()
        cfg = json.dumps({"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cdig = "sha256:" + hashlib.sha256(cfg).hexdigest()
        man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig,
                                     "size": len(cfg)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": bdig,
                                      "size": len(blob)}]}).encode()

        class H(http.server.BaseHTTPRequestHandler):
            def send(self, code, body=b"", ctype="application/json", extra=()):
                self.send_response(code)
                for k, v in extra:
                    self.send_header(k, v)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/token"):
                    return self.send(200, json.dumps({"token": "t0k"}).encode())
                if self.headers.get("Authorization") != "Bearer t0k":
                    realm = "http://127.0.0.1:%d/token" % port
                    return self.send(401, b"{}", extra=[("WWW-Authenticate",
                                     'Bearer realm="%s",service="test",scope="repository:r/x:pull"' % realm)])
                if "/manifests/" in self.path:
                    return self.send(200, man, "application/vnd.oci.image.manifest.v1+json")
                if self.path.endswith(cdig):
                    return self.send(200, cfg)
                if self.path.endswith(bdig):
                    return self.send(307, extra=[("Location", "http://127.0.0.1:%d/storage/blob" % target)])
                self.send(404)

            def log_message(self, *a):
                pass
        serve(port, H)
    elif mode == "sink":
        log, blobfile = sys.argv[3], sys.argv[4]
        blob = open(blobfile, "rb").read()

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with open(log, "a") as f:
                    f.write("%s\n" % (self.headers.get("Authorization") or "none"))
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                self.wfile.write(blob)

            def log_message(self, *a):
                pass
        serve(port, H)


if __name__ == "__main__":
    main()
