//! A minimal XML writer for the feeds and badges: the only way they emit markup.
//!
//! Element and attribute *names* are `&'static str` (ours, never untrusted); every attribute
//! value and every text node goes through [`escape`]. Incident text and model names come
//! from configuration and operators, so they may hold `<script>`, `&` or `]]>`: escaped as
//! text they stay inert, and no CDATA section is ever written that they could close.

/// Escapes `s` for XML text and attribute values (and for HTML, which needs the same five).
///
/// Characters XML 1.0 forbids (controls other than tab, newline, carriage return, and
/// U+FFFE/U+FFFF) would make the whole document ill-formed, so they become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Builds a document into a string; names are trusted, values and text are escaped.
pub struct Writer {
    out: String,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// Starts a document with the XML declaration.
    pub fn new() -> Writer {
        Writer {
            out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
        }
    }

    /// Starts a fragment without a declaration (for SVG served standalone it is optional).
    pub fn fragment() -> Writer {
        Writer { out: String::new() }
    }

    fn start(&mut self, name: &'static str, attrs: &[(&'static str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.out.push_str(&escape(v));
            self.out.push('"');
        }
    }

    /// `<name attrs>`: close it with [`Writer::close`].
    pub fn open(&mut self, name: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.start(name, attrs);
        self.out.push_str(">\n");
        self
    }

    pub fn close(&mut self, name: &'static str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// `<name attrs/>`.
    pub fn empty(&mut self, name: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.start(name, attrs);
        self.out.push_str("/>\n");
        self
    }

    /// `<name attrs>text</name>` with `text` escaped.
    pub fn text(
        &mut self,
        name: &'static str,
        attrs: &[(&'static str, &str)],
        text: &str,
    ) -> &mut Self {
        self.start(name, attrs);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>alert(1)</script> & ]]>"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;"
        );
        assert_eq!(escape("a\"b'c"), "a&quot;b&#39;c");
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn forbidden_characters_are_replaced() {
        assert_eq!(escape("a\u{0}b\u{1b}c\td\n"), "a\u{FFFD}b\u{FFFD}c\td\n");
        assert_eq!(escape("\u{FFFF}é"), "\u{FFFD}é");
    }

    #[test]
    fn writer_escapes_values_and_text() {
        let mut w = Writer::fragment();
        w.open("a", &[("href", "x\"><b>")])
            .text("t", &[], "1 < 2 & 3")
            .empty("e", &[("v", "'")])
            .close("a");
        assert_eq!(
            w.finish(),
            "<a href=\"x&quot;&gt;&lt;b&gt;\">\n<t>1 &lt; 2 &amp; 3</t>\n<e v=\"&#39;\"/>\n</a>\n"
        );
    }
}
