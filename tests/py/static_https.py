"""A plain static HTTPS server for irsa-issuer's verify tests (Python's http.server + ssl).

Serves the files under --root at URL paths below --prefix, over TLS with the given chain, on a
loopback port. Files are served as application/json unless a sibling NAME.content-type file
says otherwise, and at once unless a sibling NAME.delay file holds a number of seconds to wait
first (a slow issuer), so a test can break one thing at a time. Prints "listening on https://127.0.0.1:PORT".
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
    args = p.parse_args()
    root = os.path.abspath(args.root)
    prefix = args.prefix.rstrip("/")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if not path.startswith(prefix + "/"):
                self.send_error(404)
                return
            rel = path[len(prefix) + 1 :]
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
