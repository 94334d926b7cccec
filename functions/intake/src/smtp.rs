//! The local SMTP listener (SPEC §9: `crm serve --smtp-port N` accepts mail on 127.0.0.1 for
//! the inbound domain and hands each message to the same code as the cloud path). Any
//! standard client delivers to it: HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no AUTH and
//! no STARTTLS (loopback only).
//!
//! The protocol is `mailin` 0.6.5's (command parser, state machine, replies, dot-unstuffing;
//! no I/O); the I/O is this module's, on tokio. The crates looked at (crates.io, 2026-12):
//! - `mailin-embedded` 0.8.3, the same author's server around `mailin`: blocking sockets on a
//!   fixed pool of its own threads, `serve()` never returns (no shutdown for `crm serve` or a
//!   test), fixed 5-minute timeouts, lines read without a length bound, and its default TLS
//!   feature pulls rustls on aws-lc (a second crypto library; the workspace keeps ring only)
//!   while turning it off does not build.
//! - `samotop` 0.13: async-std (discontinued), a large tree, no release since 2022.
//! - `smtpbis` 0.1.7: GPL-3.0 (the workspace is MIT), tokio-rustls 0.22, no release since 2021.
//! - `smtp-proto` 0.2 (Stalwart): maintained, but a parser only — the state machine would be
//!   ours to write.
//! - `mailin` 0.6.5 (August 2024; MIT/Apache-2.0): nom 7 and either, which the workspace
//!   already builds, plus ternop, base64-compat and log. Its limits, none of which matter on
//!   loopback: a null reverse path (`MAIL FROM:<>`, bounces) is a syntax error, SIZE is not
//!   advertised (a message over the limit gets its 552 after DATA), and after an error reply
//!   to the end of DATA it would stay in DATA — so the end-of-data reply is written here, with
//!   `mailin` always moved on to the next transaction.

use crate::MAX_MESSAGE_BYTES;
use mailin::{Action, Handler, Response, SessionBuilder};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

/// The longest command line read (RFC 5321 §4.5.3.1.4 says 512 with CRLF; some clients
/// send long parameters).
const MAX_COMMAND_LINE: usize = 4096;
/// The longest line of message data read (RFC 5321 says 1000; mail writers overstep it).
const MAX_DATA_LINE: usize = 1 << 20;
/// Recipients of one message at most (RFC 5321 §4.5.3.1.8 asks servers to take 100).
const MAX_RECIPIENTS: usize = 100;

/// How the listener behaves; `SmtpConfig::new` gives the defaults.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The inbound domain: mail for any other domain is refused at RCPT (550).
    pub domain: String,
    /// The largest message taken, in bytes (after dot-unstuffing); larger is refused (552).
    pub max_bytes: usize,
    /// How long the server waits for each line from the client.
    pub read_timeout: Duration,
    /// How long one connection may last in all.
    pub session_timeout: Duration,
    /// Connections served at once; more are told to come back later (421).
    pub max_sessions: usize,
}

impl SmtpConfig {
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            max_bytes: MAX_MESSAGE_BYTES,
            read_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(600),
            max_sessions: 16,
        }
    }
}

/// One message as delivered: the envelope and the exact bytes of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// `MAIL FROM`, as the client wrote it.
    pub from: String,
    /// The `RCPT TO` addresses taken (all in the inbound domain).
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, CRLF line ends as sent.
    pub raw: Vec<u8>,
}

/// What the handler made of a message, told to the client at the end of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 250: taken — a ticket, a comment, or dropped without a word (SPEC §9 refuses silently,
    /// so that nobody is told which addresses or tokens are good).
    Accepted,
    /// 451: cannot be handled now (the store is down); the client tries again later.
    TryLater,
    /// 554: refused; the client's side reports it to the sender.
    Rejected,
}

/// The transaction in progress, shared between the protocol hooks and the I/O loop.
#[derive(Default)]
struct Transaction {
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
}

fn lock(t: &Mutex<Transaction>) -> MutexGuard<'_, Transaction> {
    t.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `mailin`'s callbacks: record the envelope and the data, refuse other domains.
struct Hooks {
    domain: String,
    max_bytes: usize,
    txn: Arc<Mutex<Transaction>>,
}

impl Handler for Hooks {
    fn mail(&mut self, _ip: IpAddr, _helo: &str, from: &str) -> Response {
        *lock(&self.txn) = Transaction {
            from: from.to_owned(),
            ..Transaction::default()
        };
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let ours = to.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.eq_ignore_ascii_case(&self.domain)
        });
        if !ours {
            return Response::custom(550, "5.1.2 Not a mailbox of this server".into());
        }
        let mut t = lock(&self.txn);
        if t.recipients.len() >= MAX_RECIPIENTS {
            return Response::custom(452, "4.5.3 Too many recipients".into());
        }
        t.recipients.push(to.to_owned());
        mailin::response::OK
    }

    fn data_start(&mut self, _helo: &str, _from: &str, _is8bit: bool, _to: &[String]) -> Response {
        let mut t = lock(&self.txn);
        t.data.clear();
        t.too_big = false;
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut t = lock(&self.txn);
        if t.too_big || t.data.len() + buf.len() > self.max_bytes {
            // Read on to the end of DATA, keep nothing: the reply then is 552.
            t.too_big = true;
            t.data = Vec::new();
        } else {
            t.data.extend_from_slice(buf);
        }
        Ok(())
    }

    // The reply to the end of DATA is the I/O loop's (see the module comment); this one only
    // moves `mailin` on to the next transaction.
    fn data_end(&mut self) -> Response {
        mailin::response::OK
    }
}

fn reply(code: u16, text: &str) -> Vec<u8> {
    format!("{code} {text}\r\n").into_bytes()
}

fn outcome_reply(o: Outcome) -> Vec<u8> {
    match o {
        Outcome::Accepted => reply(250, "2.0.0 OK"),
        Outcome::TryLater => reply(451, "4.3.0 Cannot take the message now, try again later"),
        Outcome::Rejected => reply(554, "5.7.1 Message refused"),
    }
}

enum Line {
    Complete,
    TooLong,
    Closed,
}

/// Reads one line (up to and including `\n`) into `line`, reading at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    line.clear();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Closed);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(Line::Complete);
        }
    }
}

/// One SMTP connection, until QUIT, an error, the client leaving, or a timeout.
async fn session<H, F>(
    stream: TcpStream,
    peer: SocketAddr,
    config: &SmtpConfig,
    handler: &H,
) -> io::Result<()>
where
    H: Fn(Delivered) -> F,
    F: Future<Output = Outcome>,
{
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let txn = Arc::new(Mutex::new(Transaction::default()));
    let hooks = Hooks {
        domain: config.domain.clone(),
        max_bytes: config.max_bytes,
        txn: txn.clone(),
    };
    let mut smtp = SessionBuilder::new(config.domain.clone()).build(peer.ip(), hooks);
    wr.write_all(&smtp.greeting().buffer()?).await?;
    let deadline = Instant::now() + config.session_timeout;
    let mut line = Vec::with_capacity(1024);
    let mut in_data = false;
    loop {
        let max = if in_data {
            MAX_DATA_LINE
        } else {
            MAX_COMMAND_LINE
        };
        let until = deadline.min(Instant::now() + config.read_timeout);
        match timeout_at(until, read_line(&mut rd, &mut line, max)).await {
            Err(_) => {
                wr.write_all(&reply(421, "4.4.2 Timeout, closing connection"))
                    .await?;
                return Ok(());
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Closed)) => return Ok(()),
            Ok(Ok(Line::TooLong)) => {
                wr.write_all(&reply(500, "5.5.2 Line too long, closing connection"))
                    .await?;
                return Ok(());
            }
            Ok(Ok(Line::Complete)) => {}
        }
        if in_data && line == b".\r\n" {
            in_data = false;
            let taken = std::mem::take(&mut *lock(&txn));
            // `mailin` takes the end of DATA to move to the next transaction; its reply is
            // replaced by the handler's outcome.
            let _ = smtp.process(&line);
            let answer = if taken.too_big {
                reply(552, "5.3.4 Message too big")
            } else {
                tracing::debug!(
                    bytes = taken.data.len(),
                    recipients = taken.recipients.len(),
                    "smtp: message received"
                );
                outcome_reply(
                    handler(Delivered {
                        from: taken.from,
                        recipients: taken.recipients,
                        raw: taken.data,
                    })
                    .await,
                )
            };
            wr.write_all(&answer).await?;
            continue;
        }
        let res = smtp.process(&line);
        if res.code == 354 {
            in_data = true;
        }
        match res.action {
            Action::NoReply => {}
            Action::Reply => wr.write_all(&res.buffer()?).await?,
            Action::Close | Action::UpgradeTls => {
                wr.write_all(&res.buffer()?).await?;
                return Ok(());
            }
        }
    }
}

/// Serves SMTP on `listener` (bind it to 127.0.0.1) until `shutdown` completes; then stops
/// accepting and drops the connections still open (their clients retry: nothing was taken).
/// `handler` gets each message whose recipients are all in `config.domain`, and says what to
/// answer.
pub async fn serve_smtp<H, F>(
    listener: TcpListener,
    config: SmtpConfig,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    H: Fn(Delivered) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let handler = Arc::new(handler);
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.max_sessions));
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %e, "smtp: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    let _ = stream.write_all(&reply(421, "4.3.2 Too busy, try again later")).await;
                    continue;
                };
                let (handler, config) = (handler.clone(), config.clone());
                sessions.spawn(async move {
                    if let Err(e) = session(stream, peer, &config, handler.as_ref()).await {
                        tracing::debug!(error = %e, "smtp: connection ended with an error");
                    }
                    drop(slot);
                });
            }
        }
    }
    sessions.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A listener on a free port whose handler records what it got and answers `outcome`.
    async fn start(
        config: SmtpConfig,
        outcome: Outcome,
    ) -> (
        SocketAddr,
        Arc<Mutex<Vec<Delivered>>>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_smtp(
            listener,
            config,
            move |d| {
                seen.lock().unwrap().push(d);
                async move { outcome }
            },
            async {
                let _ = stopped.await;
            },
        ));
        (addr, got, stop)
    }

    /// Sends `script` (the client's side, in one write) and returns the server's replies.
    async fn talk(addr: SocketAddr, script: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(script).await.unwrap();
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
        out
    }

    fn codes(replies: &str) -> Vec<&str> {
        replies
            .lines()
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| &l[..3])
            .collect()
    }

    #[tokio::test]
    async fn a_transaction_with_rset_noop_dot_stuffing_and_a_foreign_recipient() {
        let (addr, got, _stop) =
            start(SmtpConfig::new("help.example.com"), Outcome::Accepted).await;
        let replies = talk(
            addr,
            b"EHLO client.example\r\nNOOP\r\nMAIL FROM:<x@example.com>\r\nRSET\r\n\
              MAIL FROM:<jane@example.com>\r\nRCPT TO:<support@help.example.com>\r\n\
              RCPT TO:<someone@elsewhere.example>\r\nRCPT TO:<SUPPORT+T@HELP.EXAMPLE.COM>\r\n\
              DATA\r\nSubject: hi\r\n\r\n..leading dot\r\n.\r\nMAIL FROM:<b@example.com>\r\nQUIT\r\n",
        )
        .await;
        assert_eq!(
            codes(&replies),
            [
                "220", "250", "250", "250", "250", "250", "250", "550", "250", "354", "250", "250",
                "221"
            ],
            "{replies}"
        );
        assert_eq!(
            got.lock().unwrap().as_slice(),
            [Delivered {
                from: "jane@example.com".into(),
                recipients: vec![
                    "support@help.example.com".into(),
                    "SUPPORT+T@HELP.EXAMPLE.COM".into()
                ],
                raw: b"Subject: hi\r\n\r\n.leading dot\r\n".to_vec(),
            }]
        );
    }

    #[tokio::test]
    async fn too_big_is_552_and_the_session_goes_on() {
        let mut config = SmtpConfig::new("help.example.com");
        config.max_bytes = 20;
        let (addr, got, _stop) = start(config, Outcome::Accepted).await;
        let replies = talk(
            addr,
            b"HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<support@help.example.com>\r\nDATA\r\n\
              0123456789\r\n0123456789\r\n.\r\nMAIL FROM:<a@example.com>\r\n\
              RCPT TO:<support@help.example.com>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert_eq!(
            codes(&replies),
            [
                "220", "250", "250", "250", "354", "552", "250", "250", "354", "250", "221"
            ],
            "{replies}"
        );
        assert_eq!(
            got.lock().unwrap().len(),
            1,
            "only the small one reached the handler"
        );
    }

    #[tokio::test]
    async fn the_handler_outcome_is_the_reply_and_the_next_command_is_a_command() {
        for (outcome, code) in [(Outcome::TryLater, "451"), (Outcome::Rejected, "554")] {
            let (addr, _got, _stop) = start(SmtpConfig::new("help.example.com"), outcome).await;
            let replies = talk(
                addr,
                b"HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<support@help.example.com>\r\nDATA\r\nx\r\n.\r\nRSET\r\nQUIT\r\n",
            )
            .await;
            assert_eq!(
                codes(&replies),
                ["220", "250", "250", "250", "354", code, "250", "221"],
                "{replies}"
            );
        }
    }

    #[tokio::test]
    async fn data_without_a_recipient_long_lines_and_silence() {
        let mut config = SmtpConfig::new("help.example.com");
        config.read_timeout = Duration::from_millis(200);
        let (addr, got, _stop) = start(config, Outcome::Accepted).await;
        let replies = talk(
            addr,
            b"HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<x@other.example>\r\nDATA\r\nQUIT\r\n",
        )
        .await;
        assert_eq!(
            codes(&replies),
            ["220", "250", "250", "550", "503", "221"],
            "{replies}"
        );
        let long = [b"HELO ".as_slice(), &[b'a'; MAX_COMMAND_LINE], b"\r\n"].concat();
        assert_eq!(codes(&talk(addr, &long).await), ["220", "500"]);
        // Says nothing: 421 after the read timeout, and the connection is closed.
        assert_eq!(
            codes(&talk(addr, b"HELO c\r\n").await),
            ["220", "250", "421"]
        );
        assert!(got.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn more_connections_than_slots_are_told_to_come_back() {
        let mut config = SmtpConfig::new("help.example.com");
        config.max_sessions = 1;
        let (addr, _got, _stop) = start(config, Outcome::Accepted).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut greeting = [0u8; 5];
        first.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"220 h");
        assert_eq!(codes(&talk(addr, b"").await), ["421"]);
    }

    #[tokio::test]
    async fn shutdown_stops_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_smtp(
            listener,
            SmtpConfig::new("help.example.com"),
            |_| async { Outcome::Accepted },
            tokio::time::sleep(Duration::from_millis(100)),
        ));
        let open = TcpStream::connect(addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("stopped in time")
            .expect("no panic")
            .expect("no error");
        drop(open);
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "nothing listens any more"
        );
    }
}
