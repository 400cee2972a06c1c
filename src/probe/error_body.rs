//! Error bodies as text fit to store: decoded when compressed, never binary garbage.
//!
//! Probes ask for no compression, yet some servers compress error pages anyway (a CDN or
//! gateway in front of a provider). reqwest is built without its decompression features: they
//! would also make it ask for compressed *streams*, and a compressed stream arrives in bursts
//! that distort time to first token. So an error body arrives as its raw bytes and is decoded
//! here, bounded, with the decoders the crate already has (flate2, brotli). Whatever does not
//! come out as UTF-8 text becomes a placeholder that says what it was and how long.

use std::io::Read;

/// Most bytes of an error body read, and most bytes its decoding may produce: enough for any
/// JSON error, bounded for a hostile server (and for a compressed body that expands hugely).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The text of an error body: `raw` are its first bytes, `complete` says whether they are all
/// of it, `encoding` is its `Content-Encoding` header.
pub fn text(raw: &[u8], complete: bool, encoding: Option<&str>) -> String {
    let size = size(raw.len(), complete);
    let coding = match encoding.map(|e| e.trim().to_ascii_lowercase()) {
        Some(coding) if !coding.is_empty() && coding != "identity" => Some(coding),
        // A gzip body without its header (a misconfigured proxy) is still gzip.
        _ if raw.starts_with(&GZIP_MAGIC) => Some("gzip".to_string()),
        _ => None,
    };
    let Some(coding) = coding else {
        return utf8(raw, !complete).unwrap_or_else(|| format!("(binary body, {size})"));
    };
    // Header values are visible ASCII, but not necessarily short.
    let name: String = coding.chars().take(20).collect();
    match decode(&coding, raw) {
        Decoded::Unknown => format!("({name}-encoded body, {size})"),
        Decoded::Failed => format!("({name}-encoded body that does not decode, {size})"),
        // A decoding stopped early (by the bound or a truncated input) may end mid-character.
        Decoded::Bytes(bytes, cut) => utf8(&bytes, cut || !complete)
            .unwrap_or_else(|| format!("(binary {name}-encoded body, {size})")),
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

enum Decoded {
    /// The decoded bytes, and whether decoding stopped before the end of the body.
    Bytes(Vec<u8>, bool),
    /// A coding we have no decoder for (`zstd`, a list of codings, …).
    Unknown,
    /// A known coding whose bytes do not decode at all.
    Failed,
}

fn decode(coding: &str, raw: &[u8]) -> Decoded {
    match coding {
        "gzip" | "x-gzip" => read(flate2::read::MultiGzDecoder::new(raw)),
        // HTTP's `deflate` is zlib-wrapped, but some servers send raw deflate.
        "deflate" => match read(flate2::read::ZlibDecoder::new(raw)) {
            Decoded::Failed => read(flate2::read::DeflateDecoder::new(raw)),
            decoded => decoded,
        },
        "br" => read(brotli::Decompressor::new(raw, 4096)),
        _ => Decoded::Unknown,
    }
}

/// Reads at most [`MAX_ERROR_BODY`] decoded bytes. A body cut short by our read bound fails
/// at its end; what decoded before the failure is kept.
fn read(decoder: impl Read) -> Decoded {
    let mut out = Vec::new();
    let limit = MAX_ERROR_BODY as u64 + 1;
    let result = decoder.take(limit).read_to_end(&mut out);
    let cut = out.len() > MAX_ERROR_BODY;
    out.truncate(MAX_ERROR_BODY);
    match result {
        Ok(_) => Decoded::Bytes(out, cut),
        Err(_) if out.is_empty() => Decoded::Failed,
        Err(_) => Decoded::Bytes(out, true),
    }
}

/// `bytes` as text, or `None` when they are not text: invalid UTF-8, or control characters
/// no error message contains (NUL and the like, typical of binary data). When `cut` is true,
/// a character split by the cut is dropped rather than counted against the body.
fn utf8(bytes: &[u8], cut: bool) -> Option<String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // `error_len() == None`: the bytes end inside a character.
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let binary = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
    (!binary).then(|| text.to_string())
}

fn size(len: usize, complete: bool) -> String {
    if complete {
        format!("{len} bytes")
    } else {
        format!("more than {len} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str = r#"{"error":{"message":"Service unavailable"}}"#;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn br(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        e.write_all(bytes).unwrap();
        drop(e);
        out
    }

    #[test]
    fn bodies_become_text_or_a_placeholder() {
        let binary = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xff];
        let table: [(Vec<u8>, Option<&str>, &str); 12] = [
            (JSON.into(), None, JSON),
            (JSON.into(), Some("identity"), JSON),
            (gzip(JSON.as_bytes()), Some("gzip"), JSON),
            (gzip(JSON.as_bytes()), Some(" GZIP "), JSON),
            (gzip(JSON.as_bytes()), None, JSON),
            (zlib(JSON.as_bytes()), Some("deflate"), JSON),
            (deflate(JSON.as_bytes()), Some("deflate"), JSON),
            (br(JSON.as_bytes()), Some("br"), JSON),
            (binary.into(), Some("zstd"), "(zstd-encoded body, 6 bytes)"),
            (
                binary.into(),
                Some("gzip"),
                "(gzip-encoded body that does not decode, 6 bytes)",
            ),
            (binary.into(), None, "(binary body, 6 bytes)"),
            // Valid UTF-8, but no error message holds NUL bytes.
            (b"\0\0\0\x01".to_vec(), None, "(binary body, 4 bytes)"),
        ];
        for (raw, encoding, want) in table {
            assert_eq!(text(&raw, true, encoding), want, "{encoding:?}");
        }
        let compressed_binary = gzip(&[0u8; 100]);
        let want = format!(
            "(binary gzip-encoded body, {} bytes)",
            compressed_binary.len()
        );
        assert_eq!(text(&compressed_binary, true, Some("gzip")), want);
    }

    #[test]
    fn cut_bodies_keep_their_text_and_bombs_stay_bounded() {
        // Our read bound cut the body inside a character: the text before it survives.
        let cut = "é".repeat(10).into_bytes();
        assert_eq!(text(&cut[..5], false, None), "éé");
        // A cut compressed body keeps what decoded.
        let long = "x".repeat(200_000);
        let compressed = gzip(long.as_bytes());
        let half = &compressed[..compressed.len() / 2];
        let decoded = text(half, false, Some("gzip"));
        assert!(!decoded.is_empty() && decoded.bytes().all(|b| b == b'x'));
        // 200 kB from a few hundred bytes: the decoding stops at the bound.
        assert_eq!(text(&compressed, true, Some("gzip")).len(), MAX_ERROR_BODY);
        let binary = [0xff, 0xfe];
        assert_eq!(
            text(&binary, false, None),
            "(binary body, more than 2 bytes)"
        );
    }
}
