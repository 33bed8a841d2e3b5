//! Any string as a path: parsing never panics, and an accepted path keeps the rules it promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepath_protocol::{Path, path::{MAX_SEGMENTS, MAX_SEGMENT_BYTES}};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(path) = Path::parse(text) {
        let segments: Vec<&str> = path.segments().collect();
        assert!(!segments.is_empty() && segments.len() <= MAX_SEGMENTS);
        for s in &segments {
            assert!(!s.is_empty() && s.len() <= MAX_SEGMENT_BYTES && *s != "." && *s != "..");
            assert!(!s.chars().any(char::is_control) && !s.contains('/'));
        }
        assert_eq!(path.as_str(), text);
        assert_eq!(path.id(), *segments.last().unwrap());
        if let Some(parent) = path.parent() {
            assert_eq!(Path::parse(parent.as_str()).as_ref(), Ok(&parent));
        }
    }
});
