//! WinHttpSettings blob decoding: never panics; a decoded blob re-encodes to a prefix-compatible
//! blob that decodes to the same proxy and bypass list, and strings stay printable.
#![no_main]

use azs_netprobe::platform::winhttp::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = decode(data) {
        for text in s.proxy.iter().chain(&s.bypass).chain(&s.pac_url) {
            assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)), "{text:?}");
        }
        let again = decode(&encode(s.flags, s.proxy.as_deref().unwrap_or(""), &s.bypass.join(";"))).unwrap();
        assert_eq!(again.proxy, s.proxy);
        assert_eq!(again.bypass, s.bypass);
        assert_eq!(again.flags, s.flags);
    }
});
