//! Response heads as the HTTP stage and the CONNECT exchange read them (interim 1xx heads
//! skipped, then the final one): never panics; the final head lies inside the bytes, under the
//! cap, is not interim, comes after at most MAX_INTERIM_HEADS interim heads, and does not change
//! when more bytes arrive.
#![no_main]

use azs_netprobe::probe::head::{HeadError, MAX_INTERIM_HEADS, final_head, is_interim};
use libfuzzer_sys::fuzz_target;

/// Small enough that the fuzzer reaches the byte cap too.
const MAX_BYTES: usize = 2048;
const MAX_HEADERS: usize = 16;

fuzz_target!(|data: &[u8]| {
    let whole = final_head(data, MAX_BYTES, MAX_HEADERS);
    match &whole {
        Ok(Some(h)) => {
            assert!(h.start <= h.end && h.end <= data.len() && h.end <= MAX_BYTES, "{h:?}");
            assert!(!is_interim(h.code), "{h:?}");
            assert!(h.interim <= MAX_INTERIM_HEADS, "{h:?}");
        }
        Ok(None) => assert!(data.len() < MAX_BYTES),
        Err(HeadError::TooManyInterim(n)) => assert_eq!(*n, MAX_INTERIM_HEADS + 1),
        Err(HeadError::TooLarge(n, cap)) => assert!(*n >= *cap && *cap == MAX_BYTES),
        Err(HeadError::Malformed(_)) => {}
    }
    // As the stages read: the HTTP stage in chunks, CONNECT a byte at a time, checking at each
    // blank line. Once a prefix gives the final head, the whole input gives the same.
    for cut in (1..data.len()).filter(|&i| data[..i].ends_with(b"\n\n") || data[..i].ends_with(b"\r\n\r\n") || i % 97 == 0) {
        if let Ok(Some(h)) = final_head(&data[..cut], MAX_BYTES, MAX_HEADERS) {
            assert_eq!(whole, Ok(Some(h)), "prefix of {cut} bytes");
            break;
        }
    }
});
