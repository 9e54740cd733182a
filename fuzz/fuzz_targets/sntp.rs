//! SNTP reply parsing: never panics, and an accepted reply gives finite numbers.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use azs_netprobe::clock::sntp::parse_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Answer the request the reply claims to answer, so parsing goes past the originate check.
    let t1 = data.get(24..32).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes);
    let sent = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let received = sent + Duration::from_millis(data.first().copied().unwrap_or(0).into());
    if let Ok(s) = parse_reply(data, t1, sent, received) {
        assert!(s.offset.is_finite() && s.delay.is_finite() && s.delay >= 0.0);
    }
});
