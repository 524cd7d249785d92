//! What a view page shows: rows of a definition list, each with its value as text in one
//! or more languages, links, or a YAML block for nested structures.

use kluis_domain::i18n;
use kluis_domain::text::{Lang, Text};
use serde::Serialize;

use super::form::format_date;

/// A piece of text, marked with its language when that is not the page's.
#[derive(Debug, Clone)]
pub struct Part {
    pub lang: Option<&'static str>,
    pub text: String,
}

/// One value in a row: a line of parts, optionally a link.
#[derive(Debug, Clone)]
pub struct Item {
    pub parts: Vec<Part>,
    pub href: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub items: Vec<Item>,
    /// A nested structure shown as the YAML of the register file.
    pub pre: Option<String>,
}

/// Builds rows in the page's language.
pub struct Rows {
    pub lang: Lang,
    pub rows: Vec<Row>,
}

impl Rows {
    pub fn new(lang: Lang) -> Self {
        Rows {
            lang,
            rows: Vec::new(),
        }
    }

    fn label(&self, key: &str) -> String {
        i18n::t(self.lang, key).to_string()
    }

    fn push(&mut self, key: &str, items: Vec<Item>, pre: Option<String>) {
        let label = self.label(key);
        self.rows.push(Row { label, items, pre });
    }

    pub fn plain(&mut self, key: &str, value: Option<&str>) {
        let items = value
            .filter(|v| !v.is_empty())
            .map(|v| vec![plain(v)])
            .unwrap_or_default();
        self.push(key, items, None);
    }

    pub fn link(&mut self, key: &str, href: String, text: &str) {
        self.push(
            key,
            vec![Item {
                parts: vec![Part {
                    lang: None,
                    text: text.to_string(),
                }],
                href: Some(href),
            }],
            None,
        );
    }

    pub fn links(&mut self, key: &str, links: Vec<(String, String)>) {
        let items = links
            .into_iter()
            .map(|(href, text)| Item {
                parts: vec![Part { lang: None, text }],
                href: Some(href),
            })
            .collect();
        self.push(key, items, None);
    }

    /// Every language of a text.
    pub fn text(&mut self, key: &str, text: Option<&Text>) {
        let items = text.map(|t| vec![text_item(t)]).unwrap_or_default();
        self.push(key, items, None);
    }

    pub fn texts(&mut self, key: &str, texts: &[Text]) {
        self.push(key, texts.iter().map(text_item).collect(), None);
    }

    /// Vocabulary terms, by their labels.
    pub fn terms(&mut self, key: &str, labels: Vec<String>) {
        self.push(key, labels.iter().map(|l| plain(l)).collect(), None);
    }

    pub fn date(&mut self, key: &str, date: Option<time::Date>) {
        self.plain(key, date.map(format_date).as_deref());
    }

    pub fn yes_no(&mut self, key: &str, yes: bool) {
        let word = self.label(if yes { "admin.yes" } else { "admin.no" });
        self.plain(key, Some(&word));
    }

    /// A nested structure as YAML; nothing when it is empty.
    pub fn yaml<T: Serialize>(&mut self, key: &str, value: &T, empty: bool) {
        let pre = if empty {
            None
        } else {
            serde_saphyr::to_string(value)
                .ok()
                .map(|s| s.trim_end().to_string())
        };
        self.push(key, Vec::new(), pre);
    }

    pub fn rows(self) -> Vec<Row> {
        self.rows
    }
}

pub fn plain(text: &str) -> Item {
    Item {
        parts: vec![Part {
            lang: None,
            text: text.to_string(),
        }],
        href: None,
    }
}

/// A text in each language it is written in, each part marked with its language.
pub fn text_item(text: &Text) -> Item {
    let parts = text
        .languages()
        .filter_map(|l| {
            text.get(l).filter(|(got, _)| *got == l).map(|(_, s)| Part {
                lang: Some(l.code()),
                text: s.to_string(),
            })
        })
        .collect();
    Item { parts, href: None }
}
