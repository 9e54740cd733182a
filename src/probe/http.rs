//! HTTP stage: one HTTP/1.1 GET over the TLS stream; the response head parsed with httparse,
//! read with a cap so a hostile server cannot make the probe hold unbounded memory.

use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::head::HeadError;
use super::{HttpObservation, HttpStatus, ms};

/// Most bytes read while waiting for the end of the response head.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// Response headers that proxies and inspection devices add; Microsoft's endpoints send none of them.
const PROXY_HEADERS: [&str; 10] = [
    "via",
    "x-cache",
    "x-cache-lookup",
    "x-squid-error",
    "proxy-connection",
    "proxy-agent",
    "x-bluecoat-via",
    "x-forwarded-for",
    "x-proxy-id",
    "x-proxy-cache",
];

/// The first value of a header (case-insensitive name), as text.
pub fn header(headers: &[httparse::Header<'_>], name: &str) -> Option<String> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| String::from_utf8_lossy(h.value).into_owned())
}

/// Most bytes of an error page read past the response head.
const MAX_BODY_EXCERPT: usize = 512;

/// A reference header's value made printable and bounded (256 characters).
fn edge_reference(value: &Option<String>) -> Option<String> {
    let v: String = value.as_deref()?.chars().filter(|c| !c.is_control()).take(256).collect();
    let v = v.trim().to_string();
    (!v.is_empty()).then_some(v)
}

fn is_proxy_header(name: &str) -> bool {
    PROXY_HEADERS.iter().any(|p| p.eq_ignore_ascii_case(name))
        || name.to_ascii_lowercase().starts_with("x-zscaler")
        || name.to_ascii_lowercase().starts_with("x-fortigate")
}

/// Send `GET path` with `Host: authority` and read the response head within `timeout`.
pub async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> HttpObservation {
    let start = Instant::now();
    let sent_at = SystemTime::now();
    let mut obs = HttpObservation::not_attempted();
    obs.status = HttpStatus::Error;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("send the request to {authority}: {e}"))?;
        stream.flush().await.map_err(|e| format!("send the request to {authority}: {e}"))?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| format!("read the response from {authority}: {e}"))?;
            if n == 0 {
                return Err(format!(
                    "{authority} closed the connection after {} bytes, before a complete response head",
                    buf.len()
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            // Interim 1xx heads (103 Early Hints, 100 Continue) are skipped: the final head decides.
            let start = match super::head::final_head(&buf, MAX_HEAD_BYTES, MAX_HEADERS) {
                Ok(Some(h)) => h.start,
                Ok(None) => continue,
                Err(HeadError::TooLarge(n, _)) => {
                    return Err(format!("{authority} sent {n} bytes without ending the response head"));
                }
                Err(HeadError::Malformed(e)) => return Err(format!("{authority} sent a malformed HTTP response: {e}")),
                Err(e @ HeadError::TooManyInterim(_)) => return Err(format!("{authority} sent {e}")),
            };
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&buf[start..]) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let header = |name: &str| header(resp.headers, name);
                    let edge_ref = edge_reference(&header("x-azure-ref").or_else(|| header("x-msedge-ref")));
                    let code = resp.code.unwrap_or(0);
                    let body_start = buf[start + head_len..].to_vec();
                    let proxy_headers: Vec<String> = resp
                        .headers
                        .iter()
                        .filter(|h| is_proxy_header(h.name))
                        .map(|h| format!("{}: {}", h.name, String::from_utf8_lossy(h.value)))
                        .collect();
                    let (date, server, via) = (header("date"), header("server"), header("via"));
                    let content_length = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
                    return Ok((code, date, server, via, proxy_headers, edge_ref, content_length, body_start));
                }
                Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
                    return Err(format!("{authority} sent {} bytes without ending the response head", buf.len()));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(format!("{authority} sent a malformed HTTP response: {e}")),
            }
        }
    };
    let result = tokio::time::timeout(timeout, exchange).await;
    // The head's arrival: what the stage's duration and the HTTP Date estimate use (the error
    // page read below must not shift them).
    let (head_elapsed, received_at) = (start.elapsed(), SystemTime::now());
    match result {
        Err(_) => {
            obs.status = HttpStatus::Timeout;
            obs.error = Some(format!("no complete response head from {authority} within {} ms", timeout.as_millis()));
        }
        Ok(Err(e)) => obs.error = Some(e),
        Ok(Ok((code, date, server, via, proxy_headers, edge_ref, content_length, mut body))) => {
            if code >= 400 {
                // The page of a refusal says who refused: read a little of it, briefly.
                let wait = timeout.saturating_sub(start.elapsed()).min(Duration::from_millis(500));
                let want = content_length.unwrap_or(MAX_BODY_EXCERPT).min(MAX_BODY_EXCERPT);
                let _ = tokio::time::timeout(wait, async {
                    let mut chunk = [0u8; 512];
                    while body.len() < want {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                        }
                    }
                })
                .await;
                body.truncate(MAX_BODY_EXCERPT);
                let text = super::proxy::page_text(&body);
                obs.body_excerpt = (!text.is_empty()).then_some(text);
            }
            obs.edge_ref = edge_ref;
            obs.status = HttpStatus::Ok;
            obs.status_code = Some(code);
            obs.date = date;
            obs.server = server;
            obs.via = via;
            obs.proxy_headers = proxy_headers;
        }
    }
    obs.duration_ms = ms(head_elapsed);
    obs.sent_at = Some(sent_at);
    obs.received_at = Some(received_at);
    obs
}
