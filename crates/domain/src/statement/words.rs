//! Building lines of text from translations and register text, and the wording of
//! periods, dates and retention rules.

use std::borrow::Cow;

use time::Date;

use super::{Inline, Line, Span};
use crate::i18n::{self, Piece};
use crate::retention::{Period, RetentionEvent, RetentionRule, RetentionSchedule};
use crate::text::{Lang, Text};

/// Appends text in `lang`, merging it with the previous piece when that has the same
/// language, so renderers do not emit a `<span>` per word. Translations stay borrowed
/// from the catalogue until a merge needs to own them.
pub(super) fn push_cow(line: &mut Line, text: Cow<'static, str>, lang: Lang) {
    if text.is_empty() {
        return;
    }
    if let Some(Inline::Text(last)) = line.last_mut()
        && last.lang == lang
    {
        last.text.to_mut().push_str(&text);
        return;
    }
    line.push(Inline::Text(Span { text, lang }));
}

/// Appends register text or other text that is not a translation.
pub(super) fn push(line: &mut Line, text: &str, lang: Lang) {
    if let Some(Inline::Text(last)) = line.last_mut()
        && last.lang == lang
    {
        last.text.to_mut().push_str(text);
        return;
    }
    push_cow(line, Cow::Owned(text.to_string()), lang);
}

pub(super) fn extend(line: &mut Line, more: &[Inline]) {
    for inline in more {
        match inline {
            Inline::Text(s) => push_cow(line, s.text.clone(), s.lang),
            link => line.push(link.clone()),
        }
    }
}

/// A line of text in one language.
pub(super) fn words(text: &str, lang: Lang) -> Line {
    let mut line = Line::new();
    push(&mut line, text, lang);
    line
}

/// A line of translated text, borrowed from the catalogue.
pub(super) fn words_cow(text: Cow<'static, str>, lang: Lang) -> Line {
    let mut line = Line::new();
    push_cow(&mut line, text, lang);
    line
}

/// The translation of `key` as a line; a missing key shows as itself.
pub(super) fn say(lang: Lang, key: &str) -> Line {
    let text = match i18n::lookup(lang, key) {
        Some(t) => Cow::Borrowed(t),
        None => Cow::Owned(key.to_string()),
    };
    words_cow(text, lang)
}

/// Register text in `lang`, or in the language it falls back to.
pub(super) fn text(t: &Text, lang: Lang) -> Option<Line> {
    t.get(lang).map(|(l, s)| words(s.trim(), l))
}

pub(super) fn link(href: &str, label: &str, lang: Lang) -> Line {
    vec![Inline::Link {
        href: href.to_string(),
        text: Span {
            text: Cow::Owned(label.to_string()),
            lang,
        },
    }]
}

/// The translation of `key` with its placeholders filled by lines, which may be in
/// other languages than the template.
pub(super) fn compose(lang: Lang, key: &str, args: &[(&str, &Line)]) -> Line {
    let mut line = Line::new();
    let Some(template) = i18n::lookup(lang, key) else {
        push(&mut line, key, lang);
        return line;
    };
    for piece in i18n::pieces(template) {
        match piece {
            Piece::Literal(s) => push_cow(&mut line, Cow::Borrowed(s), lang),
            Piece::Placeholder(name) => match args.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => extend(&mut line, value),
                None => push(&mut line, &format!("{{{name}}}"), lang),
            },
        }
    }
    line
}

/// Joins items as a sentence does: "a, b en c".
pub(super) fn join(items: Vec<Line>, lang: Lang) -> Line {
    let count = items.len();
    let mut line = Line::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            let sep = if i + 1 == count {
                "statement.list.and"
            } else {
                "statement.list.comma"
            };
            push_cow(&mut line, Cow::Borrowed(i18n::t(lang, sep)), lang);
        }
        extend(&mut line, &item);
    }
    line
}

/// The label of a vocabulary term (`kind` is the vocabulary's KIND); a missing label
/// shows as its key.
pub(super) fn label(lang: Lang, kind: &str, name: &str) -> Cow<'static, str> {
    match i18n::lookup2(lang, kind, name) {
        Some(l) => Cow::Borrowed(l),
        None => Cow::Owned(format!("{kind}.{name}")),
    }
}

/// Lower-cases the first letter of a label used inside a sentence, but leaves acronyms
/// ("DPIA") and names alone: only a capital followed by a small letter is lowered.
pub(super) fn decapitalize(s: Cow<'static, str>) -> Cow<'static, str> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            Cow::Owned(first.to_lowercase().chain(s.chars().skip(1)).collect())
        }
        _ => s,
    }
}

/// Labels of common nouns joined in a sentence: "Identificatiegegevens, contactgegevens
/// en financiële gegevens".
pub(super) fn label_list<'n>(
    lang: Lang,
    kind: &str,
    names: impl IntoIterator<Item = &'n str>,
) -> Line {
    let items = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let l = label(lang, kind, name);
            words_cow(if i == 0 { l } else { decapitalize(l) }, lang)
        })
        .collect();
    join(items, lang)
}

/// "30 dagen", "1 jaar en 6 maanden", "4 weeks".
pub(super) fn period(lang: Lang, p: &Period) -> String {
    let parts = [
        (p.years, "year"),
        (p.months, "month"),
        (p.weeks, "week"),
        (p.days, "day"),
    ];
    let count = parts.iter().filter(|(n, _)| *n > 0).count();
    if count == 0 {
        return i18n::tf(lang, "statement.period.day_many", &[("n", "0")]);
    }
    let mut out = String::with_capacity(24);
    for (i, (n, unit)) in parts.iter().filter(|(n, _)| *n > 0).enumerate() {
        if i > 0 {
            let sep = if i + 1 == count {
                "statement.list.and"
            } else {
                "statement.list.comma"
            };
            out.push_str(i18n::t(lang, sep));
        }
        let form = if *n == 1 { "one" } else { "many" };
        let mut key = [0u8; 16];
        let template = match std::str::from_utf8(join_key(&mut key, unit, form)) {
            Ok(k) => i18n::lookup2(lang, "statement.period", k).unwrap_or("{n}"),
            Err(_) => "{n}",
        };
        out.push_str(&i18n::fill(template, &[("n", &n.to_string())]));
    }
    out
}

/// `unit_form` in a stack buffer: "year_one", "days_many" (no allocation per period).
fn join_key<'b>(buf: &'b mut [u8; 16], unit: &str, form: &str) -> &'b [u8] {
    let len = unit.len() + 1 + form.len();
    buf[..unit.len()].copy_from_slice(unit.as_bytes());
    buf[unit.len()] = b'_';
    buf[unit.len() + 1..len].copy_from_slice(form.as_bytes());
    &buf[..len]
}

/// "18 juli 2022", "18 July 2022", "1er juillet 2022".
pub(crate) fn date(lang: Lang, d: Date) -> String {
    let day = if d.day() == 1 {
        i18n::t(lang, "statement.date_first").to_string()
    } else {
        d.day().to_string()
    };
    let month = i18n::t(lang, &format!("statement.month.{}", u8::from(d.month()))).to_string();
    i18n::tf(
        lang,
        "statement.date",
        &[
            ("day", &day),
            ("month", &month),
            ("year", &d.year().to_string()),
        ],
    )
}

fn after(lang: Lang, event: RetentionEvent) -> Line {
    words_cow(label(lang, "statement.retention_after", event.name()), lang)
}

fn period_line(lang: Lang, p: &Period) -> Line {
    words(&period(lang, p), lang)
}

fn after_event(lang: Lang, event: RetentionEvent, p: &Period) -> Line {
    if p.is_zero() {
        return compose(
            lang,
            "statement.retention.immediately",
            &[("after", &after(lang, event))],
        );
    }
    compose(
        lang,
        "statement.retention.after_event",
        &[
            ("period", &period_line(lang, p)),
            ("after", &after(lang, event)),
        ],
    )
}

/// A retention rule in words: "30 dagen na de opname", "tot de leeftijd van 70 jaar".
pub(super) fn rule(lang: Lang, rule: &RetentionRule) -> Line {
    match rule {
        RetentionRule::AfterEvent { event, period } => after_event(lang, *event, period),
        RetentionRule::UntilAge { age } => words(
            &i18n::tf(
                lang,
                "statement.retention.until_age",
                &[("age", &age.to_string())],
            ),
            lang,
        ),
        RetentionRule::Extendable {
            event,
            period,
            extension,
            max_extensions,
        } => {
            let key = match max_extensions {
                0 => return after_event(lang, *event, period),
                1 => "statement.retention.extendable_once",
                _ => "statement.retention.extendable",
            };
            compose(
                lang,
                key,
                &[
                    ("period", &period_line(lang, period)),
                    ("after", &after(lang, *event)),
                    ("extension", &period_line(lang, extension)),
                    ("max", &words(&max_extensions.to_string(), lang)),
                ],
            )
        }
        RetentionRule::UntilWithdrawal { grace: None } => {
            say(lang, "statement.retention.until_withdrawal")
        }
        RetentionRule::UntilWithdrawal { grace: Some(grace) } => compose(
            lang,
            "statement.retention.until_withdrawal_grace",
            &[("grace", &period_line(lang, grace))],
        ),
        RetentionRule::Permanent => say(lang, "statement.retention.permanent"),
        RetentionRule::WhileNeeded {
            criterion,
            event,
            maximum,
        } => {
            let criterion = text(criterion, lang).unwrap_or_default();
            match (event, maximum) {
                (Some(event), Some(maximum)) => compose(
                    lang,
                    "statement.retention.while_needed_max",
                    &[
                        ("criterion", &criterion),
                        ("period", &period_line(lang, maximum)),
                        ("after", &after(lang, *event)),
                    ],
                ),
                _ => compose(
                    lang,
                    "statement.retention.while_needed",
                    &[("criterion", &criterion)],
                ),
            }
        }
        RetentionRule::ArchiveLaw {
            reference,
            event,
            period,
        } => {
            let reference = text(reference, lang).unwrap_or_default();
            match (event, period) {
                (Some(event), Some(period)) => compose(
                    lang,
                    "statement.retention.archive_law_after",
                    &[
                        ("period", &period_line(lang, period)),
                        ("after", &after(lang, *event)),
                        ("reference", &reference),
                    ],
                ),
                _ => compose(
                    lang,
                    "statement.retention.archive_law",
                    &[("reference", &reference)],
                ),
            }
        }
    }
}

/// One retention schedule as a line: what it covers, the rule in words, the statement's
/// note, whether the data is anonymised after it, and the evidence hold.
pub(super) fn schedule(lang: Lang, s: &RetentionSchedule) -> Line {
    let mut line = rule(lang, &s.rule);
    if let Some(records) = s.applies_to.as_ref().and_then(|t| text(t, lang)) {
        line = compose(
            lang,
            "statement.retention.applies_to",
            &[("records", &records), ("rule", &line)],
        );
    }
    if let Some(note) = s.note.as_ref().and_then(|t| text(t, lang)) {
        line = compose(
            lang,
            "statement.retention.note",
            &[("rule", &line), ("note", &note)],
        );
    }
    if s.anonymise.is_some() {
        line = compose(lang, "statement.retention.anonymised", &[("line", &line)]);
    }
    if let Some(reason) = s.evidence_hold.as_ref().and_then(|t| text(t, lang)) {
        line = compose(
            lang,
            "statement.retention.evidence_hold",
            &[("line", &line), ("reason", &reason)],
        );
    }
    line
}
