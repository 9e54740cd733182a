//! HTTP/1.1 response heads as a peer sends them: any number of interim (1xx) heads, then the
//! final one. Used by the HTTP stage and by the proxy's CONNECT exchange. Pure functions over
//! the bytes received so far, so that they can be fuzzed.

/// Most interim (1xx) heads skipped before the final response; a peer sending more is hostile.
pub const MAX_INTERIM_HEADS: usize = 16;

/// Where the final response head lies in the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalHead {
    /// Byte offset where the final head starts (after the skipped interim heads).
    pub start: usize,
    /// Byte offset just past the final head's blank line.
    pub end: usize,
    /// The final status code (never an interim 1xx other than 101).
    pub code: u16,
    /// How many interim heads came before it.
    pub interim: usize,
}

/// Why the bytes are not an HTTP response head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// httparse refused the bytes (its error text).
    #[error("not an HTTP response: {0}")]
    Malformed(String),
    /// More interim responses than [`MAX_INTERIM_HEADS`] before a final one (the count read).
    #[error("{0} interim (1xx) responses without a final one (at most {MAX_INTERIM_HEADS} are read)")]
    TooManyInterim(usize),
    /// No complete final head within the cap (bytes read, the cap in bytes).
    #[error("{0} bytes without a complete final response head (at most {1} are read)")]
    TooLarge(usize, usize),
}

/// An interim response: skipped while waiting for the final one. 101 (Switching Protocols)
/// is final: after it the connection speaks another protocol.
pub fn is_interim(code: u16) -> bool {
    (100..200).contains(&code) && code != 101
}

/// Find the final response head in `buf` (the bytes received so far), skipping interim heads.
/// `Ok(None)`: more bytes are needed. `max_bytes` caps all the heads together.
pub fn final_head(buf: &[u8], max_bytes: usize, max_headers: usize) -> Result<Option<FinalHead>, HeadError> {
    let mut start = 0;
    let mut interim = 0;
    let mut storage = vec![httparse::EMPTY_HEADER; max_headers.max(1)];
    loop {
        let mut resp = httparse::Response::new(&mut storage);
        match resp.parse(&buf[start..]) {
            Ok(httparse::Status::Complete(n)) => {
                let code = resp.code.unwrap_or(0);
                let end = start.saturating_add(n);
                if end > max_bytes {
                    return Err(HeadError::TooLarge(end, max_bytes));
                }
                if !is_interim(code) {
                    return Ok(Some(FinalHead { start, end, code, interim }));
                }
                interim += 1;
                if interim > MAX_INTERIM_HEADS {
                    return Err(HeadError::TooManyInterim(interim));
                }
                start = end;
            }
            Ok(httparse::Status::Partial) if buf.len() >= max_bytes => {
                return Err(HeadError::TooLarge(buf.len(), max_bytes));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HeadError::Malformed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interim_heads_are_skipped() {
        let buf = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nServer: x\r\n\r\nbody";
        let h = final_head(buf, 1024, 16).unwrap().unwrap();
        assert_eq!((h.code, h.interim), (503, 2));
        assert!(buf[h.start..h.end].starts_with(b"HTTP/1.1 503"));
        assert_eq!(&buf[h.end..], b"body");
        // Only the interim head so far: wait for more.
        assert_eq!(final_head(b"HTTP/1.1 100 Continue\r\n\r\n", 1024, 16), Ok(None));
        assert_eq!(final_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", 1024, 16), Ok(None));
        // 101 is final.
        assert_eq!(final_head(b"HTTP/1.1 101 Switching\r\n\r\n", 1024, 16).unwrap().unwrap().code, 101);
    }

    #[test]
    fn hostile_peers_are_capped() {
        let many = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INTERIM_HEADS + 1);
        assert_eq!(final_head(&many, 1 << 20, 16), Err(HeadError::TooManyInterim(MAX_INTERIM_HEADS + 1)));
        let few = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(10);
        assert!(matches!(final_head(&few, 100, 16), Err(HeadError::TooLarge(_, 100))));
        assert!(matches!(final_head(b"SSH-2.0-OpenSSH\r\n\r\n", 100, 16), Err(HeadError::Malformed(_))));
    }
}
