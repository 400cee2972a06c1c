//! An incremental Server-Sent Events parser (the WHATWG event-stream format).
//!
//! Bytes arrive in arbitrary chunks; the parser keeps the unfinished line between calls and
//! yields an event at each blank line. It never panics on garbage: invalid UTF-8 is replaced.

/// One dispatched event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental parser state. Feed chunks with [`SseParser::feed`].
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet terminated by `\n` (kept as bytes so a split UTF-8 sequence survives).
    pending: Vec<u8>,
    /// The event being assembled from the lines seen since the last blank line.
    event: Option<String>,
    data: Vec<String>,
    has_data: bool,
}

/// Upper bound on one unterminated line, so a stream without newlines cannot grow memory.
const MAX_LINE_BYTES: usize = 1 << 20;

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `chunk`, returning every event completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        self.pending.extend_from_slice(chunk);
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        if self.pending.len() > MAX_LINE_BYTES {
            // A line this long is not an event stream; drop it rather than hold it.
            self.pending.clear();
        }
        events
    }

    /// True when bytes or fields of an unfinished event are buffered.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || self.has_data || self.event.is_some()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data).join("\n"),
            };
            let had = std::mem::replace(&mut self.has_data, false);
            return (had || event.event.is_some()).then_some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                self.data.push(value.to_string());
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut p = SseParser::new();
        assert!(p.feed(b"event: message_start\r\nda").is_empty());
        let ev = p.feed(b"ta: {\"a\":1}\r\n\r\ndata: x\n\n");
        assert_eq!(
            ev,
            vec![
                SseEvent {
                    event: Some("message_start".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "x".into()
                }
            ]
        );
        assert!(!p.has_partial());
    }

    #[test]
    fn comments_and_multiline_data() {
        let mut p = SseParser::new();
        let ev = p.feed(b": ping\n\ndata: a\ndata: b\n\n");
        assert_eq!(
            ev,
            vec![SseEvent {
                event: None,
                data: "a\nb".into()
            }]
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut p = SseParser::new();
        let ev = p.feed(&[0xff, 0xfe, b'\n', b'\n', 0x00, b':']);
        assert!(ev.is_empty());
        assert!(p.has_partial());
    }
}
