//! Any text a client could send: decoding never panics, and what decodes re-encodes to something that
//! decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepath_protocol::ClientMessage;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = serde_json::from_str::<ClientMessage<Value>>(text) {
        let again = serde_json::to_string(&message).expect("a decoded message encodes");
        let back: ClientMessage<Value> = serde_json::from_str(&again).expect("an encoded message decodes");
        assert_eq!(back, message);
    }
});
