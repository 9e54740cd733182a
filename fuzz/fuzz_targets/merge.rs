//! Fleet merge of arbitrary JSON: never panics; whatever merges also renders and serialises.
#![no_main]

use azs_netprobe::report::{fleet, html};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The same input as two nodes (a fleet of one host twice) and with a known-good peer.
    if let Ok(v) = fleet::parse(&text, "fuzz.json") {
        let reports = vec![("a.json".to_string(), v.clone()), ("b.json".to_string(), v)];
        if let Ok(f) = fleet::merge(&reports, "2026-11-21T00:00:00Z".into()) {
            let _ = serde_json::to_string(&f);
            let page = html::render_fleet(&f);
            assert!(page.starts_with("<!DOCTYPE html>"));
        }
    }
});
