//! The public privacy statement, generated from the register in the structure of the
//! seeds: who we are, what we process and why, authorisations and protocols, security,
//! your rights, cookies, complaints and changes.
//!
//! [`generate`] builds a small document tree ([`Statement`]); [`render_html`] and
//! [`render_markdown`] turn it into an HTML fragment or Markdown. Every piece of text in
//! the tree carries the language it is written in, because register text falls back to
//! another language when it has no translation, and pages must mark that with `lang`.

mod build;
mod changes;
mod render;
pub(crate) mod words;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde::Serialize;
use time::Date;

use crate::register::Register;
use crate::text::Lang;

pub use changes::{ActivityAspect, Change, ControllerAspect, changes};
pub use render::{render_html, render_markdown};

/// The ids of the statement's top-level sections, in the order they appear. Sections
/// with nothing to say (no cookies, no public agreements) are left out.
pub const SECTION_IDS: [&str; 8] = [
    "who-we-are",
    "processing",
    "agreements",
    "security",
    "rights",
    "cookies",
    "complaints",
    "changes",
];

/// Text in one language. Translations are borrowed from the embedded catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub text: Cow<'static, str>,
    pub lang: Lang,
}

/// A piece of running text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Inline {
    Text(Span),
    /// A link; renderers drop the link (keeping its text) unless the address is
    /// http(s), mailto, tel, or relative to the page.
    Link {
        href: String,
        text: Span,
    },
}

/// A line of running text: a paragraph, a list item, a heading.
pub type Line = Vec<Inline>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "content", rename_all = "snake_case")]
pub enum Block {
    Paragraph(Line),
    List(Vec<Line>),
    Definitions(Vec<Definition>),
    Table(Table),
}

/// One term of a definition list with what is said about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub term: Line,
    pub details: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub header: Vec<Line>,
    pub rows: Vec<Vec<Line>>,
}

/// A section with a heading; nesting gives the heading level (h2, h3, h4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Unique within the statement and the same in every language, for links.
    pub id: String,
    pub heading: Line,
    pub blocks: Vec<Block>,
    pub subsections: Vec<Section>,
}

/// A generated privacy statement of one controller in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub lang: Lang,
    pub controller: String,
    pub version: u32,
    pub effective_date: Date,
    pub title: Line,
    /// The name of the table of contents, for its `aria-label`.
    pub contents_label: String,
    pub sections: Vec<Section>,
}

impl Statement {
    /// The title as plain text, for `<title>` and mail subjects.
    pub fn title_text(&self) -> String {
        plain_text(&self.title)
    }

    /// The section with this id, at any depth.
    pub fn section(&self, id: &str) -> Option<&Section> {
        fn find<'a>(sections: &'a [Section], id: &str) -> Option<&'a Section> {
            sections.iter().find_map(|s| {
                if s.id == id {
                    Some(s)
                } else {
                    find(&s.subsections, id)
                }
            })
        }
        find(&self.sections, id)
    }
}

/// The text of a line without its languages and links.
pub fn plain_text(line: &[Inline]) -> String {
    let mut out = String::new();
    for inline in line {
        match inline {
            Inline::Text(s) | Inline::Link { text: s, .. } => out.push_str(&s.text),
        }
    }
    out
}

/// A published version of the statement, for the list of earlier versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRef {
    pub version: u32,
    pub effective_date: Date,
}

/// What the statement says about its own version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementMeta {
    /// The published version number this statement is.
    pub version: u32,
    pub effective_date: Date,
    /// Earlier published versions, linked as `?version=N`.
    pub earlier_versions: Vec<VersionRef>,
    /// What changed since the previous version, from [`changes`].
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("there is no controller '{given}' in the register; use one of: {known}")]
    UnknownController { given: String, known: String },
}

/// Generates the privacy statement of `controller` in `lang` from `register`.
///
/// Draft activities are left out. `register` may be the whole register or the part
/// [`Register::for_controller`] returns; with the whole register, joint controllers are
/// shown with their name and address instead of their id.
pub fn generate(
    register: &Register,
    controller: &str,
    lang: Lang,
    meta: &StatementMeta,
) -> Result<Statement, StatementError> {
    build::generate(register, controller, lang, meta)
}

/// A date as the statement and letters write it: "7 april 2026", "1er avril 2026".
pub fn date_in_words(lang: crate::text::Lang, date: time::Date) -> String {
    words::date(lang, date)
}
