//! A small SMTP server for the tests, on 127.0.0.1: the real peer Tessera's SMTP transport talks
//! to over TCP. It speaks enough of RFC 5321 for a client (EHLO/HELO, MAIL, RCPT, DATA with
//! dot-unstuffing §4.5.2, RSET, NOOP, QUIT), records every message, and can refuse the first
//! transactions with a transient 451 reply to exercise retries. Also a small MIME reader for the
//! received messages (RFC 2045 transfer encodings, RFC 2046 multipart).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One accepted message.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as sent (CRLF line ends, unstuffed).
    pub data: String,
    /// When it was accepted.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Times a transaction was refused with 451.
    refused: Vec<Instant>,
    /// Transactions still to refuse.
    refuse_next: usize,
}

/// A running SMTP server.
pub struct SmtpServer {
    /// The port it listens on.
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// Starts a server on a free port that accepts everything.
    pub async fn start() -> Self {
        Self::start_on(0, 0).await
    }

    /// Starts a server on `port` (0: any) that refuses the first `refuse` transactions with a
    /// transient 451 reply (RFC 5321 §4.2.2).
    pub async fn start_on(port: u16, refuse: usize) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            refuse_next: refuse,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        Self { port, state, task }
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// When transactions were refused.
    pub fn refused(&self) -> Vec<Instant> {
        self.state.lock().unwrap().refused.clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 smtp.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut rcpt = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-smtp.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 smtp.test\r\n",
            "MAIL" => {
                let refuse = {
                    let mut s = state.lock().unwrap();
                    if s.refuse_next > 0 {
                        s.refuse_next -= 1;
                        s.refused.push(Instant::now());
                        true
                    } else {
                        false
                    }
                };
                if refuse {
                    b"451 4.3.0 Try again later\r\n"
                } else {
                    from = address(&command);
                    rcpt.clear();
                    b"250 2.1.0 OK\r\n"
                }
            }
            "RCPT" => {
                rcpt.push(address(&command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    // RFC 5321 §4.5.2: a leading dot was doubled by the client.
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                state.lock().unwrap().received.push(Received {
                    mail_from: std::mem::take(&mut from),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                    at: Instant::now(),
                });
                b"250 2.0.0 Queued\r\n"
            }
            "RSET" => {
                from.clear();
                rcpt.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.1 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Reading a received message

/// A parsed message: unfolded headers and the decoded parts of a multipart body.
pub struct Parsed {
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// `(media type, decoded text)` of each part (or of the single body).
    pub parts: Vec<(String, String)>,
}

impl Parsed {
    /// The first header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded text of the part of media type `media`.
    pub fn part(&self, media: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(media))
            .map(|(_, t)| t.as_str())
    }
}

/// Splits headers (unfolded, RFC 5322 §2.2.3) from the body.
fn split_headers(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

/// Decodes a body by its `Content-Transfer-Encoding` (RFC 2045 §6).
fn decode(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        }
        "quoted-printable" => {
            let joined = body.replace("=\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'=' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        }
        _ => body.to_owned(),
    }
}

/// Parses a received message.
pub fn parse(raw: &str) -> Parsed {
    let (headers, body) = split_headers(raw);
    let content_type = header(&headers, "Content-Type").to_owned();
    let media = |ct: &str| ct.split(';').next().unwrap_or_default().trim().to_owned();
    let parts = if media(&content_type).starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        body.split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|part| {
                let (h, b) = split_headers(part.trim_start_matches('\n'));
                let text = decode(header(&h, "Content-Transfer-Encoding"), &b);
                (media(header(&h, "Content-Type")), text)
            })
            .collect()
    } else {
        let text = decode(header(&headers, "Content-Transfer-Encoding"), &body);
        vec![(media(&content_type), text)]
    };
    Parsed { headers, parts }
}
