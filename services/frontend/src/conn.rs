//! The connections every server accepts. A request hyper cannot read (a URI over the 65534
//! bytes the `http` crate holds, headers over its limit, a malformed request line) never
//! reaches the router: hyper answers it itself, 414, 431 or 400 with an empty body. Those
//! answers get the API error body here, as every other error has. Over TLS, the decrypted
//! stream is the one rewritten.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use waymark_api::{ApiError, Code};

use crate::tls;

/// A `TcpListener`, with TLS when it has an acceptor, whose connections word hyper's own error
/// answers (`axum::serve` takes it).
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<TlsAcceptor>,
}

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Connection, std::net::SocketAddr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
        let connection = Connection {
            stream: tls::Stream::new(tcp, self.tls.as_ref()),
            pending: Vec::new(),
        };
        (connection, addr)
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The address of a connection's client, for each of its requests (`ConnectInfo<ClientAddr>`).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// One accepted connection; what it writes passes through unchanged except hyper's answers to
/// unreadable requests.
pub struct Connection {
    stream: tls::Stream,
    /// A rewritten answer still to be written.
    pending: Vec<u8>,
}

impl Connection {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

/// hyper's answer to a request it could not parse, with the API error body: such an answer is
/// a whole head of one of these statuses without a body, which no handler answers (errors of
/// handlers always have a body).
pub fn with_error_body(written: &[u8]) -> Option<Vec<u8>> {
    let head = written.strip_suffix(b"\r\n\r\n")?;
    let status = match head.get(..13)? {
        b"HTTP/1.1 400 " => 400,
        b"HTTP/1.1 414 " => 414,
        b"HTTP/1.1 431 " => 431,
        _ => return None,
    };
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let no_body = |l: &&[u8]| l.eq_ignore_ascii_case(b"content-length: 0");
    if !lines.iter().any(no_body) {
        return None;
    }
    let message = match status {
        414 => "the request URI is too long (at most 65534 bytes)",
        431 => "the request headers are too large",
        _ => "malformed HTTP request",
    };
    let body = serde_json::to_vec(&ApiError::new(Code::for_http_status(status), message)).ok()?;
    let mut answer = Vec::with_capacity(written.len() + body.len() + 64);
    for line in lines.iter().filter(|l| !no_body(l)) {
        answer.extend_from_slice(line);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"content-type: application/json\r\n");
    answer.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    answer.extend_from_slice(&body);
    Some(answer)
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = with_error_body(buf) {
            this.pending = answer;
            // Taken whole; the rest is written by the next write, flush or shutdown.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each answer's head in one buffer, where it can be seen.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_parse_error_answers_are_rewritten() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 12:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(with_error_body(head).unwrap()).unwrap();
        let body = r#"{"code":3,"message":"the request URI is too long (at most 65534 bytes)"}"#;
        assert_eq!(
            answer,
            format!(
                "HTTP/1.1 414 URI Too Long\r\ndate: Mon, 07 Dec 2026 12:00:00 GMT\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        );
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(with_error_body(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(with_error_body(ok), None);
        assert_eq!(with_error_body(b"{\"code\":3}"), None);
    }
}
