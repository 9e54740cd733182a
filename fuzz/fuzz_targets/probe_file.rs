//! Probe-file parsing and validation: never panics, errors carry a position inside the text.
#![no_main]

use azs_netprobe::catalog::{CatalogError, ProbeSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match ProbeSet::parse(&text, "fuzz.toml", "fuzz") {
        Ok(set) => {
            for e in &set.endpoints {
                let _ = e.target.to_string();
            }
        }
        Err(CatalogError::Invalid { line, column, .. }) => {
            assert!(line >= 1 && column >= 1);
            assert!(line <= text.lines().count().max(1) + 1, "line {line} beyond the text");
        }
        Err(_) => {}
    }
});
