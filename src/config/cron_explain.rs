//! Why a cron expression was refused, said in our own words.
//!
//! The `cron` crate's own messages are multi-line parser traces with a caret that does not
//! line up once they are inside a `file:line:column:` error, and their bounds are off by one
//! ("Hours must be less than 23" for 24). [`explain`] re-reads a refused expression field by
//! field and names the first thing wrong: the number of fields, a value out of its range, a
//! zero or too large step, a backwards range, or a part it cannot read at all. It is a pure
//! function: `CronSchedule::parse` calls it only after the crate refused the expression, so
//! it never refuses anything the crate accepts.

/// One field of a six- or seven-field expression: its name and inclusive bounds.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Accepted names (months, weekdays) and the number each stands for.
    names: &'static [(&'static str, u32)],
    /// `?` ("any") is accepted in the day fields only.
    any: bool,
    /// Said after an out-of-range value, where the numbering is not the usual one.
    note: &'static str,
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];

const WEEKDAYS: &[(&str, u32)] = &[
    ("sun", 1),
    ("sunday", 1),
    ("mon", 2),
    ("monday", 2),
    ("tue", 3),
    ("tues", 3),
    ("tuesday", 3),
    ("wed", 4),
    ("wednesday", 4),
    ("thu", 5),
    ("thurs", 5),
    ("thursday", 5),
    ("fri", 6),
    ("friday", 6),
    ("sat", 7),
    ("saturday", 7),
];

const FIELDS: [Field; 7] = [
    Field {
        name: "second",
        min: 0,
        max: 59,
        names: &[],
        any: false,
        note: "",
    },
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        any: false,
        note: "",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        any: false,
        note: "",
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        any: true,
        note: "",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        any: false,
        note: "",
    },
    Field {
        name: "day of week",
        min: 1,
        max: 7,
        names: WEEKDAYS,
        any: true,
        note: "1 is Sunday, or write SUN–SAT",
    },
    Field {
        name: "year",
        min: 1970,
        max: 2100,
        names: &[],
        any: false,
        note: "",
    },
];

const SHORTHANDS: [&str; 5] = ["@yearly", "@monthly", "@weekly", "@daily", "@hourly"];

/// A one-line reason why `expression` is not a cron expression modelwatch can use.
pub fn explain(expression: &str) -> String {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') {
        return format!(
            "unknown cron shorthand `{trimmed}`: use {} or six fields (seconds first), e.g. `0 */5 * * * *`",
            SHORTHANDS.join(", ")
        );
    }
    let parts: Vec<&str> = trimmed.split_whitespace().collect();
    match parts.len() {
        5 => {
            return format!(
                "cron expressions have 6 fields (seconds first): `0 {}`, got 5",
                parts.join(" ")
            )
        }
        6 | 7 => {}
        n => {
            return format!(
                "cron expressions have 6 fields (seconds first), e.g. `0 */5 * * * *`, got {n} in `{trimmed}`"
            )
        }
    }
    for (part, field) in parts.iter().zip(FIELDS.iter()) {
        if let Err(Refusal { what, hint }) = check_field(part, field) {
            let hint = if hint.is_empty() {
                String::new()
            } else {
                format!("; {hint}")
            };
            return format!("{what} in the cron expression `{trimmed}`{hint}");
        }
    }
    format!(
        "`{trimmed}` is not a valid cron expression; write `sec min hour day month weekday`, e.g. `*/30 * * * * *`"
    )
}

/// What is wrong with one field, and how to write it instead (may be empty).
struct Refusal {
    what: String,
    hint: &'static str,
}

impl Refusal {
    fn new(what: String, hint: &'static str) -> Self {
        Refusal { what, hint }
    }
}

/// Checks one field: a `,`-separated list of items, each `*`, `?`, `n`, `a-b` or a name,
/// optionally followed by `/step`.
fn check_field(text: &str, field: &Field) -> Result<(), Refusal> {
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let Ok(step) = step.parse::<u32>() else {
                return Err(not_understood(item, field));
            };
            if step == 0 || step > field.max {
                return Err(Refusal::new(
                    format!(
                        "step {step} in the {} field is out of range 1–{}",
                        field.name, field.max
                    ),
                    "",
                ));
            }
        }
        if base == "*" || (base == "?" && field.any) {
            continue;
        }
        match base.split_once('-') {
            Some((from, to)) => {
                let from = value(from, field, item)?;
                let to = value(to, field, item)?;
                if from > to {
                    return Err(Refusal::new(
                        format!("the {} range `{base}` runs backwards", field.name),
                        "write the smaller value first",
                    ));
                }
            }
            None => {
                value(base, field, item)?;
            }
        }
    }
    Ok(())
}

/// The number a single value stands for, checked against the field's range.
fn value(text: &str, field: &Field, item: &str) -> Result<u32, Refusal> {
    if let Ok(n) = text.parse::<u32>() {
        return if (field.min..=field.max).contains(&n) {
            Ok(n)
        } else {
            Err(Refusal::new(
                format!(
                    "{} {n} is out of range {}–{}",
                    field.name, field.min, field.max
                ),
                field.note,
            ))
        };
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphabetic()) {
        let lower = text.to_ascii_lowercase();
        if let Some((_, n)) = field.names.iter().find(|(name, _)| *name == lower) {
            return Ok(*n);
        }
        return Err(if field.names.is_empty() {
            Refusal::new(
                format!("`{text}` in the {} field is not a number", field.name),
                "",
            )
        } else {
            Refusal::new(format!("`{text}` is not a {} name", field.name), "")
        });
    }
    Err(not_understood(item, field))
}

fn not_understood(item: &str, field: &Field) -> Refusal {
    Refusal::new(
        format!("`{item}` in the {} field is not understood", field.name),
        "write a number, a range `a-b`, a list `a,b` or a step `*/n`",
    )
}

#[cfg(test)]
mod tests {
    use super::explain;

    /// Each refused expression and the exact reason given for it.
    #[test]
    fn each_refusal_in_our_words() {
        let cases = [
            (
                "*/5 * * * *",
                "cron expressions have 6 fields (seconds first): `0 */5 * * * *`, got 5",
            ),
            (
                "* * *",
                "cron expressions have 6 fields (seconds first), e.g. `0 */5 * * * *`, got 3 in `* * *`",
            ),
            (
                "0 0 24 * * *",
                "hour 24 is out of range 0–23 in the cron expression `0 0 24 * * *`",
            ),
            (
                "0 60 * * * *",
                "minute 60 is out of range 0–59 in the cron expression `0 60 * * * *`",
            ),
            (
                "0 0 0 0 * *",
                "day of month 0 is out of range 1–31 in the cron expression `0 0 0 0 * *`",
            ),
            (
                "0 0 0 * 13 *",
                "month 13 is out of range 1–12 in the cron expression `0 0 0 * 13 *`",
            ),
            (
                "0 0 0 * * 0",
                "day of week 0 is out of range 1–7 in the cron expression `0 0 0 * * 0`; 1 is Sunday, or write SUN–SAT",
            ),
            (
                "0 0 1-30 * * *",
                "hour 30 is out of range 0–23 in the cron expression `0 0 1-30 * * *`",
            ),
            (
                "*/0 * * * * *",
                "step 0 in the second field is out of range 1–59 in the cron expression `*/0 * * * * *`",
            ),
            (
                "0 30-10 * * * *",
                "the minute range `30-10` runs backwards in the cron expression `0 30-10 * * * *`; write the smaller value first",
            ),
            (
                "0 0 0 * FOO *",
                "`FOO` is not a month name in the cron expression `0 0 0 * FOO *`",
            ),
            (
                "0 0 x * * *",
                "`x` in the hour field is not a number in the cron expression `0 0 x * * *`",
            ),
            (
                "0 0 1.5 * * *",
                "`1.5` in the hour field is not understood in the cron expression `0 0 1.5 * * *`; write a number, a range `a-b`, a list `a,b` or a step `*/n`",
            ),
            (
                "@often",
                "unknown cron shorthand `@often`: use @yearly, @monthly, @weekly, @daily, @hourly or six fields (seconds first), e.g. `0 */5 * * * *`",
            ),
        ];
        for (expression, expected) in cases {
            assert_eq!(explain(expression), expected, "for `{expression}`");
        }
    }

    #[test]
    fn every_explanation_is_one_line() {
        for e in [
            "0 0 24 * * *",
            "a b c d e f g h",
            "@",
            "",
            "0 0 0 * * MON-FOO",
        ] {
            assert!(!explain(e).contains('\n'), "{e}: {}", explain(e));
        }
    }
}
