//! `serve` under abuse, against the real binary on loopback: more idle connections than the
//! connection cap and than its descriptor limit (RLIMIT_NOFILE lowered for the child), TLS
//! connections that never send a request, a slow-loris client, and a normal client that must
//! still be served, with the process's descriptors and memory (VmRSS) bounded. Then the
//! deadlines: a plain TCP connection, a TLS connection that sends nothing after its handshake, a
//! slow-loris request, an idle HTTP/1 keep-alive connection and an idle HTTP/2 connection are all
//! closed by the server.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISSUER: &str = "https://localhost/c1";
const DISCOVERY: &str = "/c1/.well-known/openid-configuration";

/// `serve` over TLS with RLIMIT_NOFILE set to `nofile` for the child, and `extra` flags.
fn start(tls: &Tls, nofile: u32, extra: &[&str]) -> Server {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args([
            "serve",
            "--issuer",
            ISSUER,
            "--key",
            fixture("rsa2048.pub").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &tls.cert(),
            "--tls-key",
            &tls.key(),
        ])
        .args(extra);
    Server::spawn(cmd)
}

fn status_field(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn tls_client(tls: &Tls, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    let ca = std::fs::read(tls.ca()).unwrap();
    let mut c = irsa_issuer::serve::tls::client_config(Some((&ca, "ca.crt"))).unwrap();
    c.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(c)
}

type Tls1 = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr` with the handshake completed.
fn tls_connect(config: &Arc<rustls::ClientConfig>, addr: &str) -> Tls1 {
    try_tls_connect(config, addr).unwrap()
}

fn try_tls_connect(config: &Arc<rustls::ClientConfig>, addr: &str) -> Result<Tls1, String> {
    let tcp = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(10))
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let conn =
        rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(s)
}

/// One HTTP/1.1 GET on an open TLS connection, kept alive; returns the status line and body.
fn get_keep_alive(s: &mut Tls1, path: &str) -> (String, Vec<u8>) {
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    s.flush().unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "connection closed mid-response"
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (head.lines().next().unwrap().to_string(), body)
}

/// How long until the peer closes `r` (EOF, reset, or TLS close), reading and discarding what
/// it sends; panics if it is still open after `limit`.
fn closed_within(r: &mut dyn Read, limit: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
        assert!(
            start.elapsed() < limit,
            "{what}: still open after {limit:?}: the server never closed it"
        );
    }
}

#[test]
fn a_normal_client_is_served_while_idle_connections_and_a_slow_loris_exceed_the_cap() {
    let tls = Tls::new();
    // The descriptor limit, not --max-connections, sets the cap here: 128 - 32 reserved = 96.
    // The deadlines are far off, so that only the cap can make room for the normal client.
    let mut server = start(
        &tls,
        128,
        &[
            "--max-connections",
            "5000",
            "--first-request-timeout",
            "600s",
            "--idle-timeout",
            "600s",
        ],
    );
    let pid = server.pid();
    let addr = server.addr.clone();
    let config = tls_client(&tls, b"http/1.1");
    // Warm up (the first request allocates what every later one reuses), then measure.
    let (status, _) = get_keep_alive(&mut tls_connect(&config, &addr), DISCOVERY);
    assert!(status.contains(" 200 "), "{status}");
    let rss_before = rss_kib(pid);

    // 300 TCP connections that never send a byte, 60 TLS connections that complete their
    // handshake and then send nothing, and a slow loris sending one header byte at a time.
    // (Without a cap, the server stops accepting at its descriptor limit and the kernel's
    // backlog fills: connects then time out, which is what the normal client below would see.)
    let sockaddr: std::net::SocketAddr = addr.parse().unwrap();
    let connect = || match TcpStream::connect_timeout(&sockaddr, Duration::from_secs(3)) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("an idle connection could not be opened: {e}");
            None
        }
    };
    let idle_tcp: Vec<TcpStream> = (0..300).map_while(|_| connect()).collect();
    let mut idle_tls = Vec::new();
    for _ in 0..60 {
        let Some(tcp) = connect() else { break };
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        // The server may shed it before the handshake completes: that is the cap at work.
        let mut ok = true;
        while ok && s.conn.is_handshaking() {
            ok = s.conn.complete_io(&mut s.sock).is_ok();
        }
        idle_tls.push(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let loris = {
        let stop = stop.clone();
        let config = config.clone();
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = tls_connect(&config, &addr);
            let req = format!("GET {DISCOVERY} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
            let _ = s.write_all(req.as_bytes());
            let _ = s.flush();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) && sent < 600 {
                if s.write_all(b"a").and_then(|()| s.flush()).is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let fds_under_attack = open_fds(pid);
    let rss_under_attack = rss_kib(pid);

    // A normal client, on new connections, one after the other: every request is answered.
    for i in 0..5 {
        let mut s = try_tls_connect(&config, &addr).unwrap_or_else(|e| {
            panic!(
                "request {i}: the normal client is not served while idle connections are held: {e}"
            )
        });
        let (status, body) = get_keep_alive(&mut s, DISCOVERY);
        assert!(status.contains(" 200 "), "request {i}: {status}");
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["issuer"], ISSUER);
    }
    let fds_after = open_fds(pid);
    let rss_after = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    loris.join().unwrap();
    // How many of the idle connections the server still holds (the rest it shed for newcomers).
    let opened = idle_tcp.len();
    let held = idle_tcp
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    eprintln!(
        "cap test: fd limit 128, open fds under attack {fds_under_attack}, after {fds_after}; \
         idle TCP connections still held {held}/{opened}; VmRSS before {rss_before} KiB, under attack \
         {rss_under_attack} KiB, after {rss_after} KiB"
    );
    assert!(fds_under_attack <= 128 && fds_after <= 128);
    assert!(
        held > 0,
        "the server should hold idle connections up to its cap"
    );
    assert!(
        opened > 96,
        "only {opened} idle connections could be opened, not more than the cap of 96"
    );
    assert!(
        held < opened,
        "every idle connection is still open: no cap is enforced"
    );
    for (what, rss) in [("under attack", rss_under_attack), ("after", rss_after)] {
        assert!(
            rss < rss_before + 64 * 1024,
            "VmRSS {what} {rss} KiB grew more than 64 MiB from {rss_before} KiB"
        );
    }
    // Still alive and serving.
    assert!(server_alive(&mut server));
    drop(idle_tls);
    drop(idle_tcp);
    let (status, _) = get_keep_alive(&mut tls_connect(&config, &addr), DISCOVERY);
    assert!(status.contains(" 200 "), "{status}");
}

fn server_alive(server: &mut Server) -> bool {
    std::fs::metadata(format!("/proc/{}", server.pid())).is_ok()
}

/// An HTTP/2 frame: (type, flags, stream, payload).
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend(stream.to_be_bytes());
    f.extend(payload);
    f
}

fn read_h2_frame(r: &mut dyn Read) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head).ok()?;
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).ok()?;
    Some((head[3], head[4], stream, payload))
}

#[test]
fn connections_that_send_nothing_or_go_idle_are_closed() {
    let tls = Tls::new();
    let server = start(
        &tls,
        1024,
        &["--first-request-timeout", "2s", "--idle-timeout", "2s"],
    );
    let addr = server.addr.clone();
    // Under 10 s: hyper's own header-read timer (10 s) must not be what closes them.
    let limit = Duration::from_secs(8);

    // 1. Plain TCP, never a byte (not even a TLS ClientHello).
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let idle = |r: &mut dyn Read, what: &str| {
        let t = closed_within(r, limit, what);
        assert!(
            t >= Duration::from_millis(500),
            "{what}: closed after {t:?}, before any deadline"
        );
        t
    };
    let _ = idle(
        &mut WouldBlockIsOpen(&mut tcp),
        "TCP connection that sends nothing",
    );

    // 2. TLS: handshake completed, then nothing.
    let h1 = tls_client(&tls, b"http/1.1");
    let mut s = tls_connect(&h1, &addr);
    s.sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    idle(
        &mut WouldBlockIsOpen(&mut s),
        "TLS connection that sends nothing after its handshake",
    );

    // 3. Slow loris: a request line and then one header byte a second, forever.
    let mut s = tls_connect(&h1, &addr);
    write!(s, "GET {DISCOVERY} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
    s.flush().unwrap();
    s.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    loop {
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => break, // a 408 or similar, then the close: either ends the loris
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        assert!(
            start.elapsed() < limit,
            "slow loris still connected after {limit:?}"
        );
        if s.write_all(b"a").and_then(|()| s.flush()).is_err() {
            break;
        }
    }

    // 4. HTTP/1.1 keep-alive: one request answered, then idle.
    let mut s = tls_connect(&h1, &addr);
    let (status, _) = get_keep_alive(&mut s, DISCOVERY);
    assert!(status.contains(" 200 "), "{status}");
    s.sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    idle(
        &mut WouldBlockIsOpen(&mut s),
        "idle HTTP/1.1 keep-alive connection",
    );

    // 5. HTTP/2 (ALPN h2): one request answered, then idle: GOAWAY, then the close.
    let h2 = tls_client(&tls, b"h2");
    let mut s = tls_connect(&h2, &addr);
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    s.write_all(&h2_frame(4, 0, 0, &[])).unwrap();
    // HPACK: :method GET (2), :scheme https (7), :path and :authority as literals.
    let mut block = vec![0x82, 0x87, 0x44, DISCOVERY.len() as u8];
    block.extend(DISCOVERY.as_bytes());
    block.extend([0x41, 9]);
    block.extend(b"localhost");
    s.write_all(&h2_frame(1, 0x05, 1, &block)).unwrap();
    s.flush().unwrap();
    let (mut status_ok, mut done, mut goaway) = (false, false, false);
    while !done {
        let (kind, flags, stream, payload) = read_h2_frame(&mut s).expect("HTTP/2 response");
        match kind {
            4 if flags & 1 == 0 => {
                s.write_all(&h2_frame(4, 1, 0, &[])).unwrap();
                s.flush().unwrap();
            }
            1 if stream == 1 => {
                status_ok = payload.first() == Some(&0x88); // :status 200, indexed
                done = flags & 1 == 1;
            }
            0 if stream == 1 => done = flags & 1 == 1,
            7 => panic!("GOAWAY before the response"),
            _ => {}
        }
    }
    assert!(status_ok, "HTTP/2 response was not 200");
    let start = Instant::now();
    loop {
        match read_h2_frame(&mut s) {
            Some((7, ..)) => goaway = true,
            Some(_) => {}
            None => break,
        }
        assert!(
            start.elapsed() < limit,
            "idle HTTP/2 connection still open after {limit:?}"
        );
    }
    assert!(
        goaway,
        "the idle HTTP/2 connection was closed without a GOAWAY"
    );
    assert!(start.elapsed() >= Duration::from_millis(500));
}

/// A reader for which a read timeout means "still open, keep waiting", and anything else ends.
struct WouldBlockIsOpen<'a, R: Read>(&'a mut R);

impl<R: Read> Read for WouldBlockIsOpen<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf) {
            // Still open: the caller loops.
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Ok(1)
            }
            other => other,
        }
    }
}

#[test]
fn a_tls_key_others_can_read_is_served_with_a_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    let tls = Tls::new();
    let dir = tempfile::tempdir().unwrap();
    let log_of = |mode: u32| {
        std::fs::set_permissions(tls.key(), std::fs::Permissions::from_mode(mode)).unwrap();
        let log = dir.path().join(format!("serve-{mode:o}.log"));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec \"$0\" \"$@\" 2>'{}'", log.display()))
            .arg(bin())
            .args([
                "serve",
                "--issuer",
                ISSUER,
                "--key",
                fixture("rsa2048.pub").to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &tls.cert(),
                "--tls-key",
                &tls.key(),
            ]);
        // The check runs before the listener is bound: the log is complete once it listens.
        drop(Server::spawn(cmd));
        std::fs::read_to_string(log).unwrap()
    };
    for mode in [0o644, 0o640, 0o604] {
        let log = log_of(mode);
        assert!(
            log.contains("WARN")
                && log.contains(&format!("the TLS private key {} is readable by users other than its owner (mode {mode:04o})", tls.key()))
                && log.contains(&format!("chmod 600 {}", tls.key())),
            "mode {mode:o}: no warning naming the file, the mode and the fix: {log}"
        );
    }
    for mode in [0o600, 0o400] {
        let log = log_of(mode);
        assert!(
            !log.contains("TLS private key"),
            "mode {mode:o}: warned about a private key file: {log}"
        );
    }
}
