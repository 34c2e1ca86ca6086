//! A real SMTP server for tests: aiosmtpd (`tests/fixtures/smtp_sink.py`) writing a Maildir,
//! in plain, STARTTLS or implicit-TLS mode, with optional AUTH, and a test CA made with rcgen.
//! Needs the virtualenv the test command creates (`.venv` with aiosmtpd); without it the test
//! fails with a message saying how to make it, rather than passing silently.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How the sink is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    Starttls,
    Smtps,
}

/// Options of one sink.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub security: Security,
    pub auth: Option<(String, String)>,
    /// Require AUTH XOAUTH2 with this user and bearer token.
    pub xoauth2: Option<(String, String)>,
    /// Hold the reply to the first message's DATA for this many seconds.
    pub hold_after_data: Option<f64>,
    /// A misbehaviour, if any.
    pub fault: Option<Fault>,
}

/// How a sink misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `550` for RCPT TO of these addresses.
    RejectRcpt(Vec<String>),
    /// `451` for RCPT TO of this address, the first N times.
    DeferRcpt(String, u32),
    /// Never answers the end of DATA (and keeps nothing).
    StallAfterData,
    /// Greets, then never answers.
    StallAfterGreeting,
    /// A server that never speaks first (an HTTP server, say).
    NotSmtp,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            security: Security::Plain,
            auth: None,
            xoauth2: None,
            hold_after_data: None,
            fault: None,
        }
    }
}

impl SinkOptions {
    /// A plain sink with `fault`.
    pub fn faulty(fault: Fault) -> Self {
        Self {
            fault: Some(fault),
            ..Self::default()
        }
    }
}

/// A running sink; killed on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter with aiosmtpd.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PIRWATCH_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no {}: run the test command from README.md (scripts/test), which creates it with aiosmtpd, \
         or set PIRWATCH_TEST_PYTHON",
        venv.display()
    );
    venv
}

/// A port on 127.0.0.1 held by the test: bound but not listening, so connections to it are
/// refused — an SMTP server that is down — until a sink is started on it. Never released while
/// the test runs, so no other test can take it.
pub struct PortReservation {
    socket: socket2::Socket,
    pub port: u16,
}

impl PortReservation {
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
        socket.bind(&addr.into()).expect("bind 127.0.0.1:0");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("bound port");
        Self { socket, port }
    }
}

/// Writes a test CA and a `localhost` leaf signed by it into `dir`: ca.pem, cert.pem, key.pem.
pub fn make_certs(dir: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "pirwatch test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write ca");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
    dir.join("ca.pem")
}

impl SmtpSink {
    /// Starts a sink on a port the system picks (it reports the port when ready).
    pub fn start(dir: &Path, opts: &SinkOptions) -> Self {
        Self::launch(dir, None, opts)
    }

    /// Starts a sink on a port the test holds (see [`PortReservation`]).
    pub fn start_on(dir: &Path, port: &PortReservation, opts: &SinkOptions) -> Self {
        Self::launch(dir, Some(port), opts)
    }

    /// Keeps mail in `dir/maildir`; panics with the sink's log if it does not start.
    fn launch(dir: &Path, reserved: Option<&PortReservation>, opts: &SinkOptions) -> Self {
        use std::os::fd::AsRawFd;
        let maildir = dir.join("maildir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script);
        match reserved {
            // The child inherits the bound socket (no close-on-exec) and listens on it.
            Some(r) => {
                r.socket.set_cloexec(false).expect("pass the socket on");
                cmd.arg("--fd").arg(r.socket.as_raw_fd().to_string());
            }
            None => {
                cmd.arg("--port").arg("0");
            }
        }
        cmd.arg("--maildir")
            .arg(&maildir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("smtp-sink.log")).expect("sink log"));
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if opts.security != Security::Plain && !cert.exists() {
            make_certs(dir);
        }
        match opts.security {
            Security::Plain => {}
            Security::Starttls => {
                cmd.arg("--starttls").arg(&cert).arg(&key);
            }
            Security::Smtps => {
                cmd.arg("--smtps").arg(&cert).arg(&key);
            }
        }
        if let Some((u, p)) = &opts.auth {
            cmd.arg("--auth").arg(format!("{u}:{p}"));
        }
        if let Some((u, t)) = &opts.xoauth2 {
            cmd.arg("--xoauth2").arg(format!("{u}:{t}"));
        }
        if let Some(h) = opts.hold_after_data {
            cmd.arg("--hold-after-data").arg(h.to_string());
        }
        match &opts.fault {
            None => {}
            Some(Fault::RejectRcpt(addrs)) => {
                for a in addrs {
                    cmd.arg("--reject-rcpt").arg(a);
                }
            }
            Some(Fault::DeferRcpt(addr, n)) => {
                cmd.arg("--defer-rcpt").arg(format!("{addr}:{n}"));
            }
            Some(Fault::StallAfterData) => {
                cmd.arg("--stall-after-data");
            }
            Some(Fault::StallAfterGreeting) => {
                cmd.arg("--stall-after-greeting");
            }
            Some(Fault::NotSmtp) => {
                cmd.arg("--not-smtp");
            }
        }
        let spawned = cmd.spawn();
        if let Some(r) = reserved {
            r.socket
                .set_cloexec(true)
                .expect("keep the socket to this process");
        }
        let mut child = spawned.expect("start the SMTP sink (python + aiosmtpd)");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the sink's READY line");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "SMTP sink did not start; its stderr:\n{}",
                std::fs::read_to_string(dir.join("smtp-sink.log")).unwrap_or_default()
            );
        };
        Self {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| {
                let t = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| Received::parse(&std::fs::read(p).expect("read message")))
            .collect()
    }
}

/// A received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// Envelope recipients, as the sink saw them.
    pub rcpt_to: String,
    pub to: String,
    pub text: String,
    pub html: String,
    /// The `Date` header (pirwatch sets it to when the mail was queued).
    pub date: Option<jiff::Timestamp>,
    /// A `text/calendar` attachment.
    pub ics: Option<String>,
}

impl Received {
    fn parse(raw: &[u8]) -> Self {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("parse message");
        let header = |name: &str| {
            m.header_raw(name)
                .map(|v| v.trim().replace(['\r', '\n'], ""))
        };
        Self {
            subject: m.subject().unwrap_or("").to_owned(),
            message_id: header("Message-ID").unwrap_or_default(),
            in_reply_to: header("In-Reply-To"),
            references: header("References"),
            rcpt_to: header("X-RcptTo").unwrap_or_default(),
            to: header("To").unwrap_or_default(),
            text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
            date: m
                .date()
                .and_then(|d| jiff::Timestamp::from_second(d.to_timestamp()).ok()),
            ics: m
                .attachments()
                .find(|a| mail_parser::MimeHeaders::is_content_type(*a, "text", "calendar"))
                .and_then(|a| a.text_contents().map(str::to_owned)),
        }
    }
}
