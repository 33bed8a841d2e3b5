//! [`encode`]: a value as bytes whose byte order is the order of values, for a database to sort and
//! index by (the server's SQLite indexes on query fields). Not a second comparison: its test checks
//! that comparing the bytes always gives [`Value`]'s own order.

use super::Value;

/// Appends the encoding of `value` to `out`: for any two values, comparing their encodings byte by
/// byte (shorter first when one is the start of the other) orders them as [`Value`]'s `Ord` does, and
/// equal values (`1` and `1.0`) encode alike.
///
/// A type byte first (null, false, true, numbers, strings, arrays, objects, ascending), then:
/// numbers as the 8 bytes of the double with the sign bit flipped (negative ones: every bit), big
/// endian; strings as their UTF-8 bytes, each 0x00 written 0x00 0xFF, ended by 0x00 0x01; arrays as
/// their elements, ended by 0x00; objects as 0x01, key (a string's encoding) and value for each member
/// in key order, ended by 0x00. An end (0x00) sorts before an element (a type byte) or a member (0x01).
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0x10),
        Value::Bool(false) => out.push(0x20),
        Value::Bool(true) => out.push(0x21),
        Value::Number(n) => {
            out.push(0x30);
            out.extend_from_slice(&number(*n).to_be_bytes());
        }
        Value::String(s) => {
            out.push(0x40);
            string(s, out);
        }
        Value::Array(items) => {
            out.push(0x50);
            for item in items {
                encode(item, out);
            }
            out.push(0x00);
        }
        Value::Object(members) => {
            out.push(0x60);
            for (key, value) in members {
                out.push(0x01);
                string(key, out);
                encode(value, out);
            }
            out.push(0x00);
        }
    }
}

/// The encoding of `value`, on its own.
pub fn key(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

fn number(n: f64) -> u64 {
    if n.is_nan() {
        return 0; // below every other number, as in the order
    }
    let bits = (n + 0.0).to_bits(); // -0 is 0
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

fn string(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    /// A tiny seeded generator.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn value(&mut self, depth: u32) -> Value {
            let strings = ["", "a", "aa", "a\u{0}", "a\u{1}", "\u{0}", "b", "é", "A"];
            // Keys include "" and "\u{0}", whose encodings start with 0x00.
            match self.below(if depth > 2 { 4 } else { 6 }) {
                0 => Value::Null,
                1 => Value::Bool(self.below(2) == 0),
                2 => Value::Number(
                    [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e300, -1e300, 2.5, 3.0, f64::MIN_POSITIVE, -f64::MIN_POSITIVE]
                        [self.below(12) as usize],
                ),
                3 => Value::String(strings[self.below(strings.len() as u64) as usize].to_owned()),
                4 => Value::Array((0..self.below(3)).map(|_| self.value(depth + 1)).collect()),
                _ => Value::object(
                    (0..self.below(3))
                        .map(|_| (strings[self.below(6) as usize].to_owned(), self.value(depth + 1)))
                        .collect(),
                ),
            }
        }
    }

    #[test]
    fn the_bytes_order_values_as_values_order_themselves() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let values: Vec<Value> = (0..400).map(|_| rng.value(0)).collect();
        for a in &values {
            for b in &values {
                assert_eq!(key(a).cmp(&key(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn equal_values_encode_alike() {
        assert_eq!(key(&v("1")), key(&v("1.0")));
        assert_eq!(key(&v("-0.0")), key(&v("0")));
        assert_eq!(key(&v(r#"{"b":1,"a":[2]}"#)), key(&v(r#"{"a":[2.0],"b":1}"#)));
        assert!(key(&Value::Number(f64::NAN)) < key(&v("-1e300")));
    }
}
