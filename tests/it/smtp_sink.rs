//! A real, minimal SMTP server on 127.0.0.1:0 that keeps every message it is given.
//!
//! It speaks just enough of RFC 5321 for lettre: EHLO/HELO, AUTH PLAIN (accepted, the user
//! recorded), MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP, QUIT. No TLS: the mailer
//! under test uses `SmtpTls::None`. Being a real socket, it exercises lettre's framing,
//! dot-stuffing and pooling exactly as a production relay would.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted message: the envelope and the raw message (CRLF line ends, unstuffed).
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

pub struct SmtpSink {
    port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    auth_users: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// The user names of successful AUTH PLAIN exchanges (passwords are not kept).
    pub fn auth_users(&self) -> Vec<String> {
        self.auth_users.lock().unwrap().clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the sink on a fresh loopback port.
pub async fn start() -> SmtpSink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let auth_users = Arc::new(Mutex::new(Vec::new()));
    let (m, a) = (Arc::clone(&messages), Arc::clone(&auth_users));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (m, a) = (Arc::clone(&m), Arc::clone(&a));
            // One task per connection: lettre's pool may hold one open while opening another.
            tokio::spawn(async move {
                let _ = session(stream, m, a).await;
            });
        }
    });
    SmtpSink {
        port,
        messages,
        auth_users,
        task,
    }
}

/// Serves one connection until QUIT or EOF.
async fn session(
    stream: TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
    auth_users: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(b"220 sink.localhost ESMTP test sink\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.localhost\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.localhost\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            // The initial response is inline (lettre sends it so); otherwise ask for it.
            let mut encoded = text[10..].trim().to_string();
            if encoded.is_empty() {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                read.read_until(b'\n', &mut line).await?;
                encoded = String::from_utf8_lossy(&line).trim().to_string();
            }
            match plain_user(&encoded) {
                Some(user) => {
                    auth_users.lock().unwrap().push(user);
                    b"235 2.7.0 Authentication successful\r\n"
                }
                None => b"501 5.5.2 cannot decode AUTH PLAIN\r\n",
            }
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(angle_address(&text[10..]));
            to.clear();
            b"250 2.1.0 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                b"503 5.5.1 MAIL first\r\n"
            } else {
                to.push(angle_address(&text[8..]));
                b"250 2.1.5 OK\r\n"
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                let envelope_from = from.take().unwrap_or_default();
                let received = Received {
                    from: envelope_from,
                    to: std::mem::take(&mut to),
                    data,
                };
                // Stored before the 250: once the client sees success, the test sees the mail.
                messages.lock().unwrap().push(received);
                b"250 2.0.0 OK queued\r\n"
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            b"250 2.0.0 OK\r\n"
        } else if upper.starts_with("NOOP") {
            b"250 2.0.0 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Command not recognized\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// Reads DATA lines up to the lone ".", removing the dot a client doubled at line start.
async fn read_data(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "EOF inside DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// `<a@b> SIZE=…` → `a@b`.
fn angle_address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(start), Some(end)) if start < end => arg[start + 1..end].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// The authentication identity of an AUTH PLAIN response (`authzid NUL authcid NUL passwd`).
fn plain_user(encoded: &str) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let mut fields = decoded.split(|b| *b == 0);
    let _authzid = fields.next()?;
    let user = fields.next()?;
    fields.next()?;
    String::from_utf8(user.to_vec()).ok()
}
