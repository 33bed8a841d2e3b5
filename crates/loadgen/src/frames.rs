//! The few fields the load generator reads out of the server's frames, found by position instead of
//! parsed: ten thousand readers share the machine with the server they measure.

/// The unsigned number after `"key":` in `frame`, if there is one.
fn number_after(frame: &str, key: &str) -> Option<u64> {
    let at = frame.find(key)? + key.len();
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

/// The stamp a writer put in a snapshot's data (`"t":<µs>`).
pub fn stamp(frame: &str) -> Option<u64> {
    number_after(frame, "\"t\":")
}

/// The `req` an `ack` or `error` frame answers.
pub fn req(frame: &str) -> Option<u64> {
    number_after(frame, "\"req\":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stamp_and_the_req() {
        let snapshot = r#"{"type":"snapshot","id":1,"path":"bench/hot","version":7,"data":{"pad":"x","t":123456}}"#;
        assert_eq!(stamp(snapshot), Some(123_456));
        assert_eq!(req(r#"{"type":"ack","req":42,"version":9}"#), Some(42));
        assert_eq!(req(r#"{"type":"error","req":3,"code":"invalid"}"#), Some(3));
        assert_eq!(stamp(r#"{"type":"snapshot","data":null}"#), None);
    }
}
