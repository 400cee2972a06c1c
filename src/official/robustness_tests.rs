//! Every parser on hostile input: recorded documents cut at every length, garbage, deep
//! nesting, huge documents and documents of another format. Nothing may panic, and a
//! document that is not the format is [`Unreadable`] with a reason, never a half-read report.

use super::{feed, google_cloud, incidentio, statuspage, Report, Unreadable};

type Parse = fn(&[u8]) -> Result<Report, Unreadable>;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/official/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn statuspage_one(body: &[u8]) -> Result<Report, Unreadable> {
    statuspage::parse(&[body])
}

/// Each parser with a recorded document of its own format.
fn parsers() -> Vec<(&'static str, Parse, Vec<u8>)> {
    vec![
        (
            "statuspage",
            statuspage_one as Parse,
            fixture("statuspage_summary.json"),
        ),
        (
            "incidentio",
            incidentio::parse as Parse,
            fixture("incidentio_widget.json"),
        ),
        ("feed", feed::parse as Parse, fixture("feed_atom.xml")),
        (
            "google_cloud",
            google_cloud::parse as Parse,
            fixture("google_cloud_incidents.json"),
        ),
    ]
}

#[test]
fn every_recorded_document_parses() {
    for (name, parse, body) in parsers() {
        let report = parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !report.incidents.is_empty() || !report.components.is_empty(),
            "{name}: a recorded document must say something"
        );
    }
}

#[test]
fn a_document_cut_anywhere_is_refused_or_read_never_a_panic() {
    for (name, parse, body) in parsers() {
        // Every length for small documents; a few hundred evenly spread for large ones.
        let step = (body.len() / 400).max(1);
        for cut in (0..body.len()).step_by(step) {
            match parse(&body[..cut]) {
                Ok(_) => {}
                Err(Unreadable(reason)) => assert!(!reason.is_empty(), "{name} at {cut}"),
            }
        }
        // JSON cut short is always refused (the document ends early): never half-read.
        if name != "feed" {
            let half = &body[..body.len() / 2];
            let Err(Unreadable(reason)) = parse(half) else {
                panic!("{name}: half a document must be refused");
            };
            assert!(reason.contains("line"), "{name}: {reason}");
        }
    }
}

#[test]
fn garbage_and_other_formats_are_refused_with_a_reason() {
    let atom = fixture("feed_atom.xml");
    let summary = fixture("statuspage_summary.json");
    let garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\x00garbage\x00".to_vec(),
        b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"{\"components\": 7}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        format!("{}{}", "<a>".repeat(50_000), "</a>".repeat(50_000)).into_bytes(),
    ];
    for (name, parse, _) in parsers() {
        for (i, body) in garbage.iter().enumerate() {
            if let Ok(r) = parse(body) {
                // Only an empty but well-formed document of the format may pass.
                assert!(
                    r.components.is_empty() && r.incidents.is_empty(),
                    "{name}: garbage {i} read as {r:?}"
                );
            }
        }
        let other = if name == "feed" { &summary } else { &atom };
        assert!(parse(other).is_err(), "{name} must refuse another format");
    }
    for body in &garbage {
        assert!(
            statuspage_one(body).is_err(),
            "statuspage must refuse {:?}",
            String::from_utf8_lossy(&body[..body.len().min(20)])
        );
    }
}

#[test]
fn a_huge_document_is_read_without_trouble() {
    // Google Cloud's incidents.json holds years of history: a few thousand incidents.
    let one = String::from_utf8(fixture("google_cloud_incidents.json")).unwrap();
    let inner = one.trim().trim_start_matches('[').trim_end_matches(']');
    let huge = format!("[{}]", vec![inner; 2000].join(","));
    let report = google_cloud::parse(huge.as_bytes()).unwrap();
    assert!(report.incidents.len() >= 2000);
}
