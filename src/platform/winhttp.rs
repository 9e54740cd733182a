//! The WinHTTP proxy setting (`netsh winhttp show proxy`): the REG_BINARY value
//! `WinHttpSettings` under `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`.
//!
//! Layout (little-endian): DWORD version, DWORD counter, DWORD flags (1 direct, 2 proxy,
//! 4 PAC URL, 8 auto-detect), then length-prefixed ANSI strings: proxy server list, bypass
//! list, and (optionally, as in `DefaultConnectionSettings`) the PAC URL. Anything after the
//! strings is ignored. The blob comes from the registry and is treated as hostile: every length
//! is checked against what remains, strings are capped and made printable.

/// Flag bit: direct access (no proxy).
pub const FLAG_DIRECT: u32 = 0x1;
/// Flag bit: the proxy server list is used.
pub const FLAG_PROXY: u32 = 0x2;
/// Flag bit: a PAC URL is configured.
pub const FLAG_PAC_URL: u32 = 0x4;
/// Flag bit: WPAD auto-detection is on.
pub const FLAG_AUTO_DETECT: u32 = 0x8;

/// Longest string kept from the blob, in bytes (longer ones are an error: no real proxy list is).
pub const MAX_STRING: usize = 32 * 1024;

/// A decoded `WinHttpSettings` blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinHttpSettings {
    /// The structure version (0x18 on current Windows; not checked).
    pub version: u32,
    /// The change counter.
    pub counter: u32,
    /// The flag bits (`FLAG_*`).
    pub flags: u32,
    /// The proxy server list (`host:port` or `scheme=host:port;...`), printable; `None` when empty.
    pub proxy: Option<String>,
    /// The bypass list entries (split on `;` and whitespace), printable.
    pub bypass: Vec<String>,
    /// The PAC URL when the blob carries one, printable.
    pub pac_url: Option<String>,
}

impl WinHttpSettings {
    /// The proxy server this setting makes WinHTTP use, when the proxy flag is set and a list is
    /// present.
    pub fn effective_proxy(&self) -> Option<&str> {
        if self.flags & FLAG_PROXY != 0 { self.proxy.as_deref() } else { None }
    }

    /// Whether WPAD auto-detection is on.
    pub fn auto_detect(&self) -> bool {
        self.flags & FLAG_AUTO_DETECT != 0
    }
}

/// Why a blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WinHttpError {
    /// The blob ends inside a DWORD.
    #[error("WinHttpSettings is truncated: {field} at byte {offset} needs 4 bytes, {remaining} left")]
    Truncated {
        /// Which field was being read.
        field: &'static str,
        /// Byte offset of the field.
        offset: usize,
        /// Bytes left at that offset.
        remaining: usize,
    },
    /// A string length runs past the end of the blob or over [`MAX_STRING`].
    #[error(
        "WinHttpSettings {field} length {len} at byte {offset} exceeds the {remaining} bytes left (cap {MAX_STRING})"
    )]
    BadLength {
        /// Which string.
        field: &'static str,
        /// The declared length.
        len: u32,
        /// Byte offset of the length DWORD.
        offset: usize,
        /// Bytes left after the length DWORD.
        remaining: usize,
    },
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn dword(&mut self, field: &'static str) -> Result<u32, WinHttpError> {
        let remaining = self.data.len().saturating_sub(self.pos);
        let bytes = self.data.get(self.pos..self.pos.saturating_add(4)).ok_or(WinHttpError::Truncated {
            field,
            offset: self.pos,
            remaining,
        })?;
        self.pos += 4;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self, field: &'static str) -> Result<Option<String>, WinHttpError> {
        let offset = self.pos;
        let len = self.dword(field)?;
        let remaining = self.data.len().saturating_sub(self.pos);
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        if n > remaining || n > MAX_STRING {
            return Err(WinHttpError::BadLength { field, len, offset, remaining });
        }
        let raw = &self.data[self.pos..self.pos + n];
        self.pos += n;
        let text = printable(raw);
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Bytes as text: NULs trimmed, control characters and non-ASCII replaced by `?`.
fn printable(raw: &[u8]) -> String {
    let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
    raw.iter()
        .map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '?' })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Decodes a `WinHttpSettings` blob. The header (version, counter, flags) is required; a blob
/// that ends cleanly after the header or after the proxy string is valid (the rest is empty).
///
/// # Errors
/// [`WinHttpError`] when the header is short or a declared string length runs past the end.
pub fn decode(blob: &[u8]) -> Result<WinHttpSettings, WinHttpError> {
    let mut r = Reader { data: blob, pos: 0 };
    let version = r.dword("version")?;
    let counter = r.dword("counter")?;
    let flags = r.dword("flags")?;
    let proxy = if r.at_end() { None } else { r.string("proxy server")? };
    let bypass = if r.at_end() { None } else { r.string("bypass list")? };
    let pac_url = if r.at_end() { None } else { r.string("PAC URL")? };
    let bypass = bypass
        .map(|b| b.split([';', ' ', '\t']).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(WinHttpSettings { version, counter, flags, proxy, bypass, pac_url })
}

/// Encodes settings the way `netsh winhttp set proxy` writes them (tests and the wine tests'
/// `reg add` values).
pub fn encode(flags: u32, proxy: &str, bypass: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0x18u32, 1, flags] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for s in [proxy, bypass] {
        out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(0).to_le_bytes());
        if u32::try_from(s.len()).is_ok() {
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn direct_access_as_netsh_writes_it() {
        let blob = hex::decode("1800000000000000010000000000000000000000").unwrap();
        let s = decode(&blob).unwrap();
        assert_eq!(s.flags, FLAG_DIRECT);
        assert_eq!(s.proxy, None);
        assert_eq!(s.effective_proxy(), None);
        assert!(s.bypass.is_empty());
    }

    #[test]
    fn proxy_and_bypass() {
        let blob = encode(FLAG_PROXY | FLAG_DIRECT, "proxy.corp:3128", "<local>;*.azurestack.local 10.*");
        let s = decode(&blob).unwrap();
        assert_eq!(s.version, 0x18);
        assert_eq!(s.effective_proxy(), Some("proxy.corp:3128"));
        assert_eq!(s.bypass, vec!["<local>", "*.azurestack.local", "10.*"]);
        assert_eq!(s.pac_url, None);
        assert!(!s.auto_detect());
    }

    #[test]
    fn proxy_list_without_the_proxy_flag_is_not_effective() {
        let s = decode(&encode(FLAG_DIRECT, "proxy.corp:3128", "")).unwrap();
        assert_eq!(s.proxy.as_deref(), Some("proxy.corp:3128"));
        assert_eq!(s.effective_proxy(), None);
    }

    #[test]
    fn pac_url_and_auto_detect() {
        let mut blob = encode(FLAG_PAC_URL | FLAG_AUTO_DETECT, "", "");
        let url = b"http://wpad.corp/proxy.pac";
        blob.extend_from_slice(&u32::try_from(url.len()).unwrap().to_le_bytes());
        blob.extend_from_slice(url);
        blob.extend_from_slice(&[0; 28]);
        let s = decode(&blob).unwrap();
        assert_eq!(s.pac_url.as_deref(), Some("http://wpad.corp/proxy.pac"));
        assert!(s.auto_detect());
    }

    #[test]
    fn malformed_blobs_are_clear_errors() {
        assert_eq!(decode(&[]).unwrap_err(), WinHttpError::Truncated { field: "version", offset: 0, remaining: 0 });
        let e = decode(&[0x18, 0, 0, 0, 1, 0, 0, 0, 3, 0]).unwrap_err();
        assert_eq!(e, WinHttpError::Truncated { field: "flags", offset: 8, remaining: 2 });
        assert!(e.to_string().contains("flags at byte 8"), "{e}");
        let mut blob = encode(FLAG_PROXY, "", "");
        blob.truncate(12);
        blob.extend_from_slice(&u32::MAX.to_le_bytes());
        blob.extend_from_slice(b"abc");
        let e = decode(&blob).unwrap_err();
        assert_eq!(e, WinHttpError::BadLength { field: "proxy server", len: u32::MAX, offset: 12, remaining: 3 });
        assert!(e.to_string().contains("proxy server length 4294967295 at byte 12"), "{e}");
        // Ends inside the bypass length.
        let mut blob = encode(FLAG_PROXY, "p:1", "");
        blob.truncate(blob.len() - 2);
        assert!(matches!(decode(&blob), Err(WinHttpError::Truncated { field: "bypass list", .. })));
    }

    #[test]
    fn hostile_bytes_are_made_printable() {
        let s = decode(&encode(FLAG_PROXY, "p\u{1b}[31m:1\u{0}junk", "a\u{7}b")).unwrap();
        assert_eq!(s.proxy.as_deref(), Some("p?[31m:1"));
        assert_eq!(s.bypass, vec!["a?b"]);
    }

    #[test]
    fn every_prefix_of_a_valid_blob_decodes_or_errs() {
        let mut blob = encode(FLAG_PROXY, "proxy:8080", "<local>");
        blob.extend_from_slice(&[5, 0, 0, 0, b'h', b't']);
        for n in 0..=blob.len() {
            let _ = decode(&blob[..n]);
        }
    }
}
