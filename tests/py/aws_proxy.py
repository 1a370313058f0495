"""A reverse proxy in front of moto's server for tests of irsa-issuer under partial failure.

The AWS SDK reaches it through AWS_ENDPOINT_URL=http://127.0.0.1:PORT; it forwards every request
to --upstream (moto) unchanged and can, per request:

  hold      --hold-response N: forward the Nth AWS request to moto (so that its effect is
            applied) and never answer it. The proxy prints "held N SERVICE:ACTION METHOD PATH"
            on stdout, and
            `GET /__aws_proxy/status` shows it, so a test can inspect moto's state at that moment
            and SIGKILL the client: "killed right after call N".
  latency   --latency-ms MS: wait MS before forwarding each request (a far region, a slow API).
  faults    --fault-rate P --faults KINDS --seed S: answer a request with an injected fault instead
            of forwarding it, with probability P, drawn from a random.Random(S) so that a run is
            reproducible. KINDS (comma-separated, picked with the same generator):
              500       HTTP 500 with the service's error body (IAM/STS InternalFailure,
                        S3 InternalError)
              503       HTTP 503 (IAM/STS ServiceUnavailable, S3 ServiceUnavailable)
              throttle  IAM/STS HTTP 400 <Code>Throttling</Code>, S3 HTTP 503 <Code>SlowDown</Code>
              reset     the connection is reset (TCP RST) before the request reaches moto
              reset-after  forwarded to moto (applied), then the connection is reset instead of
                        answered: the client cannot know the call succeeded

The service of a request is read from its SigV4 Authorization header (Credential=.../SERVICE/
aws4_request). Requests under /__aws_proxy/ and moto's own /moto-api/ are control requests: never
counted, delayed or faulted.

Control (JSON over HTTP on the same port):
  GET  /__aws_proxy/status   {"requests": N, "held": [N, "SERVICE:ACTION METHOD PATH"] | null,
                              "faults": N,
                              "config": {...}}
  POST /__aws_proxy/config   body {"hold_response": N|null, "latency_ms": MS, "fault_rate": P,
                              "faults": [KINDS], "seed": S}: replaces the settings given and resets
                              the request count (and releases a held request)
  POST /__aws_proxy/release  answers nothing to the held request: its connection is closed

Every AWS request is logged as one JSON line to --log (default: stderr): n, method, path,
service, action, fault, status, ms, start (monotonic seconds when it arrived).

Bounded by design: it listens on and forwards to loopback addresses only, serves at most
--max-connections at once, reads at most 64 MiB of a request or response, times every read out
after 60 s, and exits by itself after --max-seconds (default one hour).

Usage: aws_proxy.py --upstream http://127.0.0.1:5000 [--listen 127.0.0.1:0] [--hold-response N]
                    [--latency-ms MS] [--fault-rate P] [--faults 500,503,throttle,reset]
                    [--seed S] [--log FILE] [--max-connections 64] [--max-seconds 3600]
Prints "listening on http://127.0.0.1:PORT" on stdout once bound.
"""

import argparse
import asyncio
import ipaddress
import json
import random
import re
import socket
import struct
import sys
import time
import urllib.parse

MAX_BODY = 64 * 1024 * 1024
READ_TIMEOUT = 60.0
FAULT_KINDS = ("500", "503", "throttle", "reset", "reset-after")


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def error_body(service: str, code: str, message: str) -> bytes:
    if service == "s3":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>aws-proxy</RequestId></Error>"
        ).encode()
    ns = "https://iam.amazonaws.com/doc/2010-05-08/" if service == "iam" else "https://sts.amazonaws.com/doc/2011-06-15/"
    kind = "Sender" if code == "Throttling" else "Receiver"
    return (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>aws-proxy</RequestId></ErrorResponse>"
    ).encode()


def fault_response(kind: str, service: str) -> bytes:
    if kind == "500":
        status, code = "500 Internal Server Error", ("InternalError" if service == "s3" else "InternalFailure")
        body = error_body(service, code, "injected by aws_proxy")
    elif kind == "503":
        status = "503 Service Unavailable"
        body = error_body(service, "ServiceUnavailable", "injected by aws_proxy")
    else:  # throttle
        if service == "s3":
            status, body = "503 Slow Down", error_body("s3", "SlowDown", "Please reduce your request rate.")
        else:
            status, body = "400 Bad Request", error_body(service, "Throttling", "Rate exceeded")
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n"
        "x-amzn-RequestId: aws-proxy\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers, self.body = headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def service(self) -> str:
        m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", self.header("authorization") or "")
        if m:
            return m.group(1)
        return "s3"

    def action(self) -> str:
        if self.service() in ("iam", "sts"):
            params = urllib.parse.parse_qs(self.body.decode("latin-1")) if self.body else {}
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query)
            return (params.get("Action") or query.get("Action") or ["?"])[0]
        q = urllib.parse.urlsplit(self.target).query
        sub = q.split("&")[0].split("=")[0] if q else ""
        return f"{self.method} {sub}".strip()

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.target} {self.version}"]
        for k, v in self.headers:
            if k.lower() in ("connection", "keep-alive", "proxy-connection", "transfer-encoding"):
                continue
            if k.lower() == "content-length":
                continue
            lines.append(f"{k}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


async def read_head(reader):
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    if len(head) > 64 * 1024:
        raise ValueError("header too large")
    lines = head.decode("latin-1").split("\r\n")
    start = lines[0]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return start, headers


async def read_body(reader, headers, until_eof=False):
    get = {k.lower(): v for k, v in headers}
    if "chunked" in get.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), READ_TIMEOUT)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await asyncio.wait_for(reader.readuntil(b"\r\n"), READ_TIMEOUT)
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise ValueError("body too large")
            body += await asyncio.wait_for(reader.readexactly(size + 2), READ_TIMEOUT)
            del body[-2:]
    if "content-length" in get:
        n = int(get["content-length"])
        if n > MAX_BODY:
            raise ValueError("body too large")
        return await asyncio.wait_for(reader.readexactly(n), READ_TIMEOUT) if n else b""
    if until_eof:
        body = bytearray()
        while len(body) <= MAX_BODY:
            chunk = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
            if not chunk:
                return bytes(body)
            body += chunk
        raise ValueError("body too large")
    return b""


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Proxy:
    def __init__(self, args):
        self.upstream = urllib.parse.urlsplit(args.upstream)
        self.log = open(args.log, "a", buffering=1) if args.log else sys.stderr
        self.slots = asyncio.Semaphore(args.max_connections)
        self.config = {}
        self.configure(
            {
                "hold_response": args.hold_response,
                "latency_ms": args.latency_ms,
                "fault_rate": args.fault_rate,
                "faults": [f for f in args.faults.split(",") if f],
                "seed": args.seed,
            }
        )

    def configure(self, changes):
        self.config.update(changes)
        for f in self.config["faults"]:
            if f not in FAULT_KINDS:
                raise ValueError(f"unknown fault {f!r}: use {', '.join(FAULT_KINDS)}")
        self.rng = random.Random(self.config["seed"])
        self.requests = 0
        self.faults = 0
        self.release()

    def release(self):
        self.held = None
        held_writer = getattr(self, "held_writer", None)
        if held_writer is not None:
            held_writer.transport.abort()
        self.held_writer = None

    def status(self):
        return {"requests": self.requests, "held": self.held, "faults": self.faults, "config": self.config}

    async def control(self, req, writer):
        path = urllib.parse.urlsplit(req.target).path
        code, body = "200 OK", None
        try:
            if path == "/__aws_proxy/status":
                body = self.status()
            elif path == "/__aws_proxy/config" and req.method == "POST":
                self.configure(json.loads(req.body or b"{}"))
                body = self.status()
            elif path == "/__aws_proxy/release" and req.method == "POST":
                self.release()
                body = self.status()
            else:
                code, body = "404 Not Found", {"error": "unknown control path"}
        except (ValueError, KeyError) as e:
            code, body = "400 Bad Request", {"error": str(e)}
        data = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    async def forward(self, req) -> bytes:
        host, port = self.upstream.hostname, self.upstream.port or 80
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), READ_TIMEOUT)
        try:
            w.write(req.raw())
            await w.drain()
            start, headers = await read_head(r)
            body = await read_body(r, headers, until_eof=True)
        finally:
            w.close()
        out = [start]
        for k, v in headers:
            if k.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                continue
            out.append(f"{k}: {v}")
        out.append(f"Content-Length: {len(body)}")
        out.append("Connection: close")
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body

    def log_line(self, **fields):
        print(json.dumps(fields), file=self.log, flush=True)

    async def handle(self, reader, writer):
        async with self.slots:
            try:
                start, headers = await read_head(reader)
                method, target, version = start.split(" ", 2)
                body = await read_body(reader, headers)
                req = Request(method, target, version, headers, body)
                path = urllib.parse.urlsplit(target).path
                if path.startswith("/__aws_proxy/"):
                    await self.control(req, writer)
                    return
                if path.startswith("/moto-api/"):
                    writer.write(await self.forward(req))
                    await writer.drain()
                    return
                await self.aws(req, writer)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError, asyncio.LimitOverrunError):
                pass
            finally:
                if writer is not self.held_writer:
                    writer.close()

    async def aws(self, req, writer):
        self.requests += 1
        n = self.requests
        started = time.monotonic()
        service, action = req.service(), req.action()
        c = self.config
        if c["latency_ms"]:
            await asyncio.sleep(c["latency_ms"] / 1000)
        fault = None
        if c["faults"] and c["fault_rate"] and self.rng.random() < c["fault_rate"]:
            fault = self.rng.choice(c["faults"])
            self.faults += 1
        status = None
        if fault in ("500", "503", "throttle"):
            resp = fault_response(fault, service)
            status = int(resp.split(b" ", 2)[1])
            writer.write(resp)
            await writer.drain()
        elif fault == "reset":
            reset(writer)
        else:
            resp = await self.forward(req)
            status = int(resp.split(b" ", 2)[1])
            if fault == "reset-after":
                reset(writer)
            elif c["hold_response"] is not None and n == c["hold_response"]:
                what = f"{service}:{action} {req.method} {urllib.parse.urlsplit(req.target).path}"
                self.held = [n, what]
                self.held_writer = writer
                print(f"held {n} {what}", flush=True)
                fault = "held"
            else:
                writer.write(resp)
                await writer.drain()
        self.log_line(
            n=n, method=req.method, path=urllib.parse.urlsplit(req.target).path, service=service,
            action=action, fault=fault, status=status, ms=round((time.monotonic() - started) * 1000, 1),
            start=round(started, 4),
        )


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT on loopback (port 0: any)")
    p.add_argument("--hold-response", type=int, default=None, metavar="N")
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="MS")
    p.add_argument("--fault-rate", type=float, default=0.0, metavar="P")
    p.add_argument("--faults", default="", metavar="KINDS", help=",".join(FAULT_KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", default=None, metavar="FILE")
    p.add_argument("--max-connections", type=int, default=64)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    up = urllib.parse.urlsplit(args.upstream)
    if not loopback(host) or not loopback(up.hostname or ""):
        print("aws_proxy listens on and forwards to loopback addresses only", file=sys.stderr)
        return 64
    if not 0 <= args.fault_rate <= 1:
        print("--fault-rate is a probability between 0 and 1", file=sys.stderr)
        return 64
    try:
        proxy = Proxy(args)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 64
    server = await asyncio.start_server(proxy.handle, host.strip("[]"), int(port), limit=1 << 20)
    bound = server.sockets[0].getsockname()
    print(f"listening on http://{bound[0]}:{bound[1]}", flush=True)
    async with server:
        try:
            await asyncio.wait_for(server.serve_forever(), args.max_seconds)
        except asyncio.TimeoutError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
