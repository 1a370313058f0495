"""A plain static HTTPS server for irsa-issuer's verify tests (Python's http.server + ssl).

Serves the files under --root at URL paths below --prefix, over TLS with the given chain, on a
loopback port. Files are served as application/json unless a sibling NAME.content-type file
says otherwise, and at once unless a sibling NAME.delay file holds a number of seconds to wait
first (a slow issuer), so a test can break one thing at a time. Prints "listening on https://127.0.0.1:PORT".

--endless REL (repeatable) makes the path REL below --prefix an endless document: a 200 with
no Content-Length whose body (the start of a JSON object, then spaces) keeps coming until the
client hangs up, or 256 MiB have been sent (so that the server stops by itself). Every
--endless request is counted and the bytes written logged to stderr, for tests of a client's
size cap.

--keep-alive answers in HTTP/1.1 with persistent connections, and logs "connection N" to stderr
for each TCP connection accepted, for tests that a client reuses its connections.
"""

import argparse
import http.server
import os
import ssl
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--endless", action="append", default=[])
    p.add_argument("--keep-alive", action="store_true")
    args = p.parse_args()
    connections = [0]
    endless = {e.strip("/") for e in args.endless}
    root = os.path.abspath(args.root)
    prefix = args.prefix.rstrip("/")

    class Handler(http.server.BaseHTTPRequestHandler):
        if args.keep_alive:
            protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            if args.keep_alive:
                connections[0] += 1
                print(f"connection {connections[0]}", file=sys.stderr, flush=True)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if not path.startswith(prefix + "/"):
                self.send_error(404)
                return
            rel = path[len(prefix) + 1 :]
            if rel in endless:
                self.send_endless()
                return
            full = os.path.abspath(os.path.join(root, rel))
            if not full.startswith(root + os.sep) or not os.path.isfile(full):
                self.send_error(404)
                return
            with open(full, "rb") as f:
                body = f.read()
            ctype = "application/json"
            if os.path.isfile(full + ".content-type"):
                with open(full + ".content-type") as f:
                    ctype = f.read().strip()
            if os.path.isfile(full + ".delay"):
                with open(full + ".delay") as f:
                    time.sleep(min(float(f.read().strip()), 30.0))
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_endless(self):
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            chunk = b" " * 65536
            try:
                self.wfile.write(b'{"issuer": ')
                while sent < 256 * 1024 * 1024:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass
            print(f"endless {self.path}: {sent} bytes sent", file=sys.stderr, flush=True)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening on https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
