//! An Atom or RSS incident feed, for pages that publish nothing else (Statuspage's
//! `/history.atom` and `/history.rss`, incident.io's `/feed.atom`, …).
//!
//! A feed names no components in its structure: the poller matches the configured
//! component names in each entry's words ([`super::matched_components`]). An entry's status
//! is the first bolded word of its content (Statuspage writes each update as
//! `<strong>Resolved</strong> - …`, newest first). Maintenances carry no machine-readable
//! window in a feed, so they are left out.

use chrono::{DateTime, Utc};

use super::{time, Incident, Report, Unreadable};

/// Statuses that end an incident.
const FINISHED: [&str; 2] = ["resolved", "postmortem"];
/// Statuses of a maintenance's updates.
const MAINTENANCE: [&str; 4] = ["scheduled", "in progress", "verifying", "completed"];

pub fn parse(body: &[u8]) -> Result<Report, Unreadable> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Unreadable(format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
    // roxmltree builds the tree recursively: a hostile feed nested tens of thousands deep
    // would overflow the stack. Feeds are a few levels deep; refuse anything deeper first.
    if nesting_exceeds(text, MAX_DEPTH) {
        return Err(Unreadable(format!(
            "not a feed: elements nested deeper than {MAX_DEPTH}"
        )));
    }
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        let at = e.pos();
        Unreadable(format!("not XML (line {}, column {})", at.row, at.col))
    })?;
    let root = doc.root_element();
    let entries: Vec<roxmltree::Node> = match root.tag_name().name() {
        "feed" => root
            .children()
            .filter(|n| n.has_tag_name("entry"))
            .collect(),
        "rss" => root
            .children()
            .filter(|n| n.has_tag_name("channel"))
            .flat_map(|c| c.children().filter(|n| n.has_tag_name("item")))
            .collect(),
        other => {
            return Err(Unreadable(format!(
                "not an Atom or RSS feed (its root element is <{other}>)"
            )))
        }
    };
    let mut report = Report::default();
    for entry in entries {
        let child = |name: &str| {
            entry
                .children()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .map(str::trim)
                .filter(|t| !t.is_empty())
        };
        let Some(name) = child("title") else { continue };
        let link = entry
            .children()
            .find(|n| n.has_tag_name("link"))
            .and_then(|n| n.attribute("href").or_else(|| n.text()))
            .map(|l| l.trim().to_string());
        let id = child("id")
            .or_else(|| child("guid"))
            .map(str::to_string)
            .or_else(|| link.clone())
            .unwrap_or_else(|| name.to_string());
        let content = child("content")
            .or_else(|| child("description"))
            .or_else(|| child("summary"))
            .map(strip_html)
            .unwrap_or_default();
        let status = first_status(
            child("content")
                .or_else(|| child("description"))
                .unwrap_or_default(),
        );
        if status.as_deref().is_some_and(|s| MAINTENANCE.contains(&s)) {
            continue;
        }
        let finished = status.as_deref().is_some_and(|s| FINISHED.contains(&s));
        let published = child("published")
            .or_else(|| child("pubDate"))
            .and_then(any_time);
        let updated = child("updated").and_then(any_time).or(published);
        report.incidents.push(Incident {
            id,
            name: name.to_string(),
            url: link,
            status: status.unwrap_or_else(|| "published".into()),
            impact: None,
            published_at: published,
            resolved_at: if finished { updated } else { None },
            finished,
            components: Vec::new(),
            text: format!("{name}\n{content}"),
            maintenance: None,
        });
    }
    Ok(report)
}

/// The deepest element nesting a feed may have (an Atom entry's content is at depth 3).
const MAX_DEPTH: usize = 64;

/// Whether elements nest deeper than `most` anywhere in `text`: a single pass over the
/// markup that skips comments, CDATA sections, declarations and processing instructions,
/// and needs no stack of its own.
fn nesting_exceeds(text: &str, most: usize) -> bool {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0usize, 0usize);
    let skip_past = |from: usize, end: &str| {
        text[from..]
            .find(end)
            .map_or(bytes.len(), |at| from + at + end.len())
    };
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<!--") {
            i = skip_past(i, "-->");
        } else if rest.starts_with("<![CDATA[") {
            i = skip_past(i, "]]>");
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            i = skip_past(i, ">");
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            i = skip_past(i, ">");
        } else {
            let end = skip_past(i, ">");
            let self_closing = end >= 2 && bytes.get(end - 2) == Some(&b'/');
            if !self_closing {
                depth += 1;
                if depth > most {
                    return true;
                }
            }
            i = end;
        }
    }
    false
}

/// RFC 3339 (Atom) or RFC 2822 (RSS).
fn any_time(text: &str) -> Option<DateTime<Utc>> {
    time(text).or_else(|| {
        DateTime::parse_from_rfc2822(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The first `<strong>…</strong>` of an entry's HTML that is a status, lowercased: its
/// latest status. Labels (`<strong>Type:</strong> Maintenance`, as Instatus writes them)
/// are not statuses; a `Type:` of maintenance reads as `scheduled`.
fn first_status(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = rest.find("<strong>") {
        rest = &rest[start + "<strong>".len()..];
        let end = rest.find("</strong>")?;
        let word = rest[..end].trim().to_lowercase();
        let after = &rest[end + "</strong>".len()..];
        if word == "type:" {
            let kind = after
                .split('<')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase();
            if kind == "maintenance" {
                return Some("scheduled".into());
            }
        } else if !word.is_empty() && !word.ends_with(':') && word.len() < 40 {
            return Some(word);
        }
        rest = after;
    }
    None
}

/// The words of an HTML fragment: tags dropped, the common entities decoded.
fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}
