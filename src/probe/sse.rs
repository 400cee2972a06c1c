//! An incremental Server-Sent Events parser (the WHATWG event-stream format).
//!
//! Bytes arrive in arbitrary chunks; the parser keeps the unfinished line between calls and
//! yields an event at each blank line. It never panics on garbage: invalid UTF-8 is replaced.
//! It holds at most a bounded number of bytes for one event: a server that sends `data:`
//! lines without ever the blank line that ends its event would otherwise grow memory until
//! the probe's timeout (one such stream reached 2.6 GB).

use super::MAX_EVENT_BYTES;

/// One dispatched event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental parser state. Feed chunks with [`SseParser::feed`].
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of a line not yet terminated by `\n` (kept as bytes so a split UTF-8 sequence survives).
    pending: Vec<u8>,
    /// The event being assembled from the lines seen since the last blank line.
    event: Option<String>,
    data: Vec<String>,
    has_data: bool,
    /// Bytes of the kept (`data:`, `event:`) lines of the event being assembled.
    event_bytes: usize,
    /// Most bytes one event may hold, its unfinished line included.
    max_event_bytes: usize,
    /// Set once an event outgrew `max_event_bytes`; the parser then ignores all input, since
    /// nothing after a runaway event can be trusted to line up with event boundaries.
    too_large: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser bounded by [`MAX_EVENT_BYTES`] per event.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that holds at most `max_event_bytes` for one event.
    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseParser {
            pending: Vec::new(),
            event: None,
            data: Vec::new(),
            has_data: false,
            event_bytes: 0,
            max_event_bytes,
            too_large: false,
        }
    }

    /// Parses `chunk`, returning every event completed by it. Once an event outgrows the
    /// limit, returns the events completed before it and then nothing: check
    /// [`SseParser::too_large`].
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.too_large {
            return events;
        }
        // Only the new bytes can hold a newline: the pending ones were searched already.
        let mut search_from = self.pending.len();
        self.pending.extend_from_slice(chunk);
        let mut line_start = 0;
        while let Some(offset) = self.pending[search_from..].iter().position(|&b| b == b'\n') {
            let line_end = search_from + offset;
            let mut line = &self.pending[line_start..line_end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            line_start = line_end + 1;
            search_from = line_start;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
            if self.event_bytes > self.max_event_bytes {
                return self.overflow(events);
            }
        }
        self.pending.drain(..line_start);
        if self.event_bytes + self.pending.len() > self.max_event_bytes {
            return self.overflow(events);
        }
        events
    }

    /// True once an event outgrew the limit; the stream cannot be trusted after that.
    pub fn too_large(&self) -> bool {
        self.too_large
    }

    /// True when bytes or fields of an unfinished event are buffered.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || self.has_data || self.event.is_some()
    }

    /// Drops everything held and stops parsing, keeping the events completed before.
    fn overflow(&mut self, events: Vec<SseEvent>) -> Vec<SseEvent> {
        self.too_large = true;
        self.pending = Vec::new();
        self.data = Vec::new();
        self.event = None;
        self.has_data = false;
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data).join("\n"),
            };
            self.event_bytes = 0;
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
            "event" => {
                self.event_bytes += value.len();
                self.event = Some(value.to_string());
            }
            "data" => {
                // The joining newline counts too: a stream of empty `data:` lines still grows.
                self.event_bytes += value.len() + 1;
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

    #[test]
    fn an_event_past_the_limit_stops_the_parser() {
        // Data lines without the blank line that ends their event.
        let mut p = SseParser::with_limit(64);
        assert_eq!(p.feed(b"data: first\n\n").len(), 1);
        let line = b"data: 0123456789\n";
        for _ in 0..3 {
            assert!(p.feed(line).is_empty());
        }
        assert!(!p.too_large(), "33 bytes held");
        // The event completed in the same chunk is kept; the runaway one is not.
        let mut chunk = b"\ndata: done\n\n".to_vec();
        chunk.extend(line.repeat(6));
        assert_eq!(p.feed(&chunk).len(), 2);
        assert!(p.too_large());
        assert!(!p.has_partial(), "nothing is held after the overflow");
        assert!(
            p.feed(b"\n\ndata: x\n\n").is_empty(),
            "input after it is ignored"
        );

        // One unterminated line is bounded the same way.
        let mut p = SseParser::with_limit(64);
        assert!(p.feed(&[b'x'; 64]).is_empty());
        assert!(!p.too_large());
        assert!(p.feed(b"x").is_empty());
        assert!(p.too_large());
    }

    #[test]
    fn events_under_the_limit_reset_the_count() {
        let mut p = SseParser::with_limit(32);
        let events: Vec<SseEvent> = (0..100)
            .flat_map(|_| p.feed(b"event: e\ndata: 0123456789\n\n"))
            .collect();
        assert_eq!(events.len(), 100);
        assert!(!p.too_large());
    }
}
