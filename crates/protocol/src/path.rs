//! Paths: `/`-separated segments naming a document (an even count) or a collection (an odd count).

use core::fmt;

/// The most segments a path may have.
pub const MAX_SEGMENTS: usize = 64;
/// The longest a segment may be, in bytes of UTF-8.
pub const MAX_SEGMENT_BYTES: usize = 256;

/// Whether a path names a document or a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// An even number of segments: `rooms/r1`.
    Document,
    /// An odd number of segments: `rooms`, `rooms/r1/messages`.
    Collection,
}

/// A validated path. Holds the original text; segments are found by splitting on `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(String);

/// Why a path was refused; the `Display` text names the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is the empty string.
    Empty,
    /// More than [`MAX_SEGMENTS`] segments.
    TooManySegments,
    /// Segment `index` (from 1) is empty: a leading, trailing or doubled `/`.
    EmptySegment(usize),
    /// Segment `index` is longer than [`MAX_SEGMENT_BYTES`].
    SegmentTooLong(usize),
    /// Segment `index` is `.` or `..`.
    DotSegment(usize),
    /// Segment `index` holds a control character.
    ControlCharacter(usize),
    /// A document path was needed and this path (held) names a collection: see [`document_path`].
    NotADocument(String),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("path is empty"),
            Self::TooManySegments => write!(f, "path has more than {MAX_SEGMENTS} segments"),
            Self::EmptySegment(i) => write!(f, "path segment {i} is empty (no leading, trailing or double '/')"),
            Self::SegmentTooLong(i) => write!(f, "path segment {i} is longer than {MAX_SEGMENT_BYTES} bytes"),
            Self::DotSegment(i) => write!(f, "path segment {i} is '.' or '..'"),
            Self::ControlCharacter(i) => write!(f, "path segment {i} contains a control character"),
            Self::NotADocument(path) => write!(
                f,
                "{path} is a collection (an odd number of segments); writes need a document path such as {path}/some-id"
            ),
        }
    }
}

impl std::error::Error for PathError {}

impl Path {
    /// Validates `text` as a path. Works on bytes: the wasm client parses every path it is given, and
    /// splitting on a `char` or decoding characters would bring their code into it.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let bytes = text.as_bytes();
        let (mut n, mut start) = (1, 0);
        while start <= bytes.len() {
            let end = bytes[start..].iter().position(|&b| b == b'/').map_or(bytes.len(), |i| start + i);
            let segment = &bytes[start..end];
            if n > MAX_SEGMENTS {
                return Err(PathError::TooManySegments);
            }
            if segment.is_empty() {
                return Err(PathError::EmptySegment(n));
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(PathError::SegmentTooLong(n));
            }
            if segment == b"." || segment == b".." {
                return Err(PathError::DotSegment(n));
            }
            if has_control_character(segment) {
                return Err(PathError::ControlCharacter(n));
            }
            (n, start) = (n + 1, end + 1);
        }
        Ok(Self(text.to_owned()))
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Document or collection, by the parity of the segment count.
    pub fn kind(&self) -> PathKind {
        // One more segment than slashes. Counting bytes keeps the character searcher out of the wasm client.
        let slashes = self.0.bytes().filter(|&b| b == b'/').count();
        if slashes % 2 == 1 { PathKind::Document } else { PathKind::Collection }
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment: a document's id, or a collection's name.
    pub fn id(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The path one segment up: a document's collection, or a subcollection's document. `None` for a
    /// top-level collection.
    pub fn parent(&self) -> Option<Path> {
        self.0.rsplit_once('/').map(|(parent, _)| Path(parent.to_owned()))
    }
}

/// Whether UTF-8 text holds a control character (`char::is_control`: U+0000–U+001F and U+007F–U+009F).
/// The first range and U+007F are single bytes; U+0080–U+009F are encoded as 0xC2 then 0x80–0x9F.
fn has_control_character(utf8: &[u8]) -> bool {
    let mut previous = 0;
    for &b in utf8 {
        if b < 0x20 || b == 0x7f || (previous == 0xc2 && (0x80..=0x9f).contains(&b)) {
            return true;
        }
        previous = b;
    }
    false
}

/// Parses `text` and requires a document path.
pub fn document_path(text: &str) -> Result<Path, PathError> {
    let path = Path::parse(text)?;
    match path.kind() {
        PathKind::Document => Ok(path),
        PathKind::Collection => Err(PathError::NotADocument(path.0)),
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Path {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_segment_counts_are_documents_and_odd_are_collections() {
        assert_eq!(Path::parse("rooms").unwrap().kind(), PathKind::Collection);
        assert_eq!(Path::parse("rooms/r1").unwrap().kind(), PathKind::Document);
        assert_eq!(Path::parse("rooms/r1/messages").unwrap().kind(), PathKind::Collection);
        assert_eq!(Path::parse("rooms/r1/messages/m1").unwrap().kind(), PathKind::Document);
    }

    #[test]
    fn id_is_the_last_segment_and_parent_drops_it() {
        let p = Path::parse("rooms/r1/messages/m1").unwrap();
        assert_eq!(p.id(), "m1");
        assert_eq!(p.parent().unwrap().as_str(), "rooms/r1/messages");
        assert_eq!(Path::parse("rooms").unwrap().parent(), None);
    }

    #[test]
    fn bad_paths_name_the_rule_they_broke() {
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            ("/rooms", PathError::EmptySegment(1)),
            ("rooms/", PathError::EmptySegment(2)),
            ("rooms//r1", PathError::EmptySegment(2)),
            ("rooms/..", PathError::DotSegment(2)),
            ("./r1", PathError::DotSegment(1)),
            ("rooms/a\u{0}b", PathError::ControlCharacter(2)),
            ("rooms/a\nb", PathError::ControlCharacter(2)),
        ];
        for (text, expected) in cases {
            assert_eq!(Path::parse(text).unwrap_err(), *expected, "{text:?}");
        }
        let long = format!("rooms/{}", "x".repeat(MAX_SEGMENT_BYTES + 1));
        assert_eq!(Path::parse(&long).unwrap_err(), PathError::SegmentTooLong(2));
        assert!(PathError::SegmentTooLong(2).to_string().contains("256 bytes"));
    }

    #[test]
    fn a_document_path_is_required_where_documents_are_written() {
        assert_eq!(document_path("rooms/r1").unwrap().as_str(), "rooms/r1");
        assert_eq!(document_path("rooms/r1/messages/m1").unwrap().kind(), PathKind::Document);
        for collection in ["rooms", "rooms/r1/messages"] {
            let error = document_path(collection).unwrap_err();
            assert_eq!(error, PathError::NotADocument(collection.into()));
            assert!(error.to_string().contains(&format!("such as {collection}/some-id")), "{error}");
        }
        assert_eq!(document_path("rooms//r1").unwrap_err(), PathError::EmptySegment(2), "a bad path first");
    }

    #[test]
    fn limits_are_inclusive() {
        let max_segment = format!("rooms/{}", "é".repeat(MAX_SEGMENT_BYTES / 2));
        assert!(Path::parse(&max_segment).is_ok());
        let max_depth = vec!["a"; MAX_SEGMENTS].join("/");
        assert!(Path::parse(&max_depth).is_ok());
        let too_deep = vec!["a"; MAX_SEGMENTS + 1].join("/");
        assert_eq!(Path::parse(&too_deep).unwrap_err(), PathError::TooManySegments);
    }

    #[test]
    fn control_characters_are_found_in_bytes_exactly_as_chars_would_find_them() {
        let chars = (0..0x800).chain([0x2028, 0xfeff, 0x1_f600]).filter_map(char::from_u32);
        for c in chars {
            for text in [format!("{c}"), format!("a{c}b"), format!("é{c}"), format!("{c}\u{a0}")] {
                assert_eq!(has_control_character(text.as_bytes()), text.chars().any(char::is_control), "{text:?}");
            }
        }
    }

    /// The rules as plainly as they can be written: split on '/', look at characters.
    fn reference(text: &str) -> Result<(), PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        for (i, segment) in text.split('/').enumerate() {
            let n = i + 1;
            if n > MAX_SEGMENTS {
                return Err(PathError::TooManySegments);
            }
            if segment.is_empty() {
                return Err(PathError::EmptySegment(n));
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(PathError::SegmentTooLong(n));
            }
            if segment == "." || segment == ".." {
                return Err(PathError::DotSegment(n));
            }
            if segment.chars().any(char::is_control) {
                return Err(PathError::ControlCharacter(n));
            }
        }
        Ok(())
    }

    #[test]
    fn random_paths_are_judged_as_the_plain_rules_judge_them() {
        let pieces = [
            "a",
            "b",
            "/",
            "/",
            ".",
            "..",
            "é",
            "\u{85}",
            "\u{a0}",
            "\n",
            "\u{7f}",
            "😀",
            "/s/t/u/v/w/x/y/z",
            &"x".repeat(120),
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 80) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            assert_eq!(Path::parse(&text).map(|_| ()), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn dots_inside_a_segment_and_unicode_are_fine() {
        for ok in ["rooms/r.1", "rooms/...", "räume/zimmer-1", "a/b c"] {
            assert!(Path::parse(ok).is_ok(), "{ok:?}");
        }
    }
}
