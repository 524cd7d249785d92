//! Renders a statement as an HTML fragment or as Markdown.
//!
//! The HTML is a fragment for the web layer's layout: semantic headings with ids, lists,
//! definition lists and tables, every text and attribute escaped, `lang` on text in
//! another language than the page, no styles and no scripts.

use std::fmt::Write;

use super::{Block, Inline, Section, Statement};
use crate::text::Lang;

/// Whether a link may be followed from a public page: web, mail and phone links, and
/// links within the site. Anything else (`javascript:`, `data:`) is shown as text.
fn safe_href(href: &str) -> bool {
    let lower = href.trim_start().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|p| lower.starts_with(p))
        || (["?", "#", "/"].iter().any(|p| href.starts_with(p)) && !href.contains(':'))
}

/// Room for the rendered statement, so a large one is not copied while it grows: about
/// two kilobytes per section (an activity is a section).
fn estimated_size(s: &Statement) -> usize {
    fn count(sections: &[Section]) -> usize {
        sections.iter().map(|s| 1 + count(&s.subsections)).sum()
    }
    8192 + 2048 * count(&s.sections)
}

// --- HTML ------------------------------------------------------------------------------

/// Escapes text for HTML element content and double- or single-quoted attributes.
/// Copies runs of safe text at once: a large register's statement is a megabyte.
fn escape_html(out: &mut String, s: &str) {
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // ASCII bytes are always char boundaries in UTF-8.
        out.push_str(&s[done..i]);
        out.push_str(entity);
        done = i + 1;
    }
    out.push_str(&s[done..]);
}

/// The statement as an HTML fragment: an `<article>` with a table of contents.
pub fn render_html(s: &Statement) -> String {
    let mut out = String::with_capacity(estimated_size(s));
    let lang = s.lang;
    let _ = write!(
        out,
        "<article class=\"privacy-statement\" lang=\"{}\">\n<h1>",
        lang.code()
    );
    html_inlines(&mut out, &s.title, lang);
    out.push_str("</h1>\n<nav class=\"toc\" aria-label=\"");
    escape_html(&mut out, &s.contents_label);
    out.push_str("\">\n");
    html_toc(&mut out, &s.sections, lang, 2);
    out.push_str("</nav>\n");
    for section in &s.sections {
        html_section(&mut out, section, 2, lang);
    }
    out.push_str("</article>\n");
    out
}

/// The table of contents: top-level sections and their subsections (h2 and h3).
fn html_toc(out: &mut String, sections: &[Section], lang: Lang, level: usize) {
    out.push_str("<ol>\n");
    for s in sections {
        out.push_str("<li><a href=\"#");
        escape_html(out, &s.id);
        out.push_str("\">");
        html_text_only(out, &s.heading, lang);
        out.push_str("</a>");
        if level < 3 && !s.subsections.is_empty() {
            out.push('\n');
            html_toc(out, &s.subsections, lang, level + 1);
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

fn html_section(out: &mut String, s: &Section, level: usize, lang: Lang) {
    let h = level.min(6);
    out.push_str("<section aria-labelledby=\"");
    escape_html(out, &s.id);
    let _ = write!(out, "\">\n<h{h} id=\"");
    escape_html(out, &s.id);
    out.push_str("\">");
    html_inlines(out, &s.heading, lang);
    let _ = writeln!(out, "</h{h}>");
    for block in &s.blocks {
        html_block(out, block, lang);
    }
    for sub in &s.subsections {
        html_section(out, sub, level + 1, lang);
    }
    out.push_str("</section>\n");
}

fn html_block(out: &mut String, block: &Block, lang: Lang) {
    match block {
        Block::Paragraph(line) => {
            out.push_str("<p>");
            html_inlines(out, line, lang);
            out.push_str("</p>\n");
        }
        Block::List(items) => {
            out.push_str("<ul>\n");
            for item in items {
                out.push_str("<li>");
                html_inlines(out, item, lang);
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        Block::Definitions(defs) => {
            out.push_str("<dl>\n");
            for d in defs {
                out.push_str("<dt>");
                html_inlines(out, &d.term, lang);
                out.push_str("</dt>\n<dd>");
                match d.details.as_slice() {
                    // A single paragraph needs no <p> of its own.
                    [Block::Paragraph(line)] => html_inlines(out, line, lang),
                    details => {
                        out.push('\n');
                        for b in details {
                            html_block(out, b, lang);
                        }
                    }
                }
                out.push_str("</dd>\n");
            }
            out.push_str("</dl>\n");
        }
        Block::Table(table) => {
            out.push_str("<table>\n<thead>\n<tr>");
            for h in &table.header {
                out.push_str("<th scope=\"col\">");
                html_inlines(out, h, lang);
                out.push_str("</th>");
            }
            out.push_str("</tr>\n</thead>\n<tbody>\n");
            for row in &table.rows {
                out.push_str("<tr>");
                for cell in row {
                    out.push_str("<td>");
                    html_inlines(out, cell, lang);
                    out.push_str("</td>");
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
    }
}

fn html_lang_attr(out: &mut String, lang: Lang, page: Lang) {
    if lang != page {
        let _ = write!(out, " lang=\"{}\"", lang.code());
    }
}

fn html_inlines(out: &mut String, line: &[Inline], page: Lang) {
    for inline in line {
        match inline {
            Inline::Text(span) if span.lang == page => escape_html(out, &span.text),
            Inline::Text(span) => {
                out.push_str("<span");
                html_lang_attr(out, span.lang, page);
                out.push('>');
                escape_html(out, &span.text);
                out.push_str("</span>");
            }
            Inline::Link { href, text } if safe_href(href) => {
                out.push_str("<a href=\"");
                escape_html(out, href);
                out.push('"');
                html_lang_attr(out, text.lang, page);
                out.push('>');
                escape_html(out, &text.text);
                out.push_str("</a>");
            }
            Inline::Link { text, .. } => html_inlines(out, &[Inline::Text(text.clone())], page),
        }
    }
}

/// Inline text without links, for inside the table of contents' own links.
fn html_text_only(out: &mut String, line: &[Inline], page: Lang) {
    for inline in line {
        let (Inline::Text(span) | Inline::Link { text: span, .. }) = inline;
        html_inlines(out, &[Inline::Text(span.clone())], page);
    }
}

// --- Markdown --------------------------------------------------------------------------

/// Escapes text so that Markdown shows it literally: punctuation that starts emphasis,
/// links, code, HTML or tables is backslash-escaped, and line breaks become spaces so
/// register text cannot break the document's structure.
fn escape_md(out: &mut String, s: &str) {
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let line_break = match b {
            b'\\' | b'`' | b'*' | b'_' | b'[' | b']' | b'<' | b'>' | b'#' | b'|' | b'!' | b'&'
            | b'~' => false,
            b'\n' | b'\r' => true,
            _ => continue,
        };
        // ASCII bytes are always char boundaries in UTF-8.
        out.push_str(&s[done..i]);
        if line_break {
            out.push(' ');
        } else {
            out.push('\\');
            out.push(char::from(b));
        }
        done = i + 1;
    }
    out.push_str(&s[done..]);
}

/// A block's text must not start like a list item or heading would.
fn guard_line_start(text: &mut String, start: usize) {
    let rest = &text[start..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if rest.starts_with(['-', '+', '=']) {
        text.insert(start, '\\');
    } else if digits > 0 && rest[digits..].starts_with(['.', ')']) {
        text.insert(start + digits, '\\');
    }
}

/// The statement as Markdown (CommonMark with pipe tables).
pub fn render_markdown(s: &Statement) -> String {
    let mut out = String::with_capacity(estimated_size(s));
    out.push_str("# ");
    md_inlines(&mut out, &s.title);
    out.push_str("\n\n");
    // French puts a space before a colon.
    let colon = crate::i18n::t(s.lang, "statement.term_colon");
    for section in &s.sections {
        md_section(&mut out, section, 2, colon);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn md_section(out: &mut String, s: &Section, level: usize, colon: &str) {
    out.push_str(&"#".repeat(level.min(6)));
    out.push(' ');
    md_inlines(out, &s.heading);
    out.push_str("\n\n");
    for block in &s.blocks {
        md_block(out, block, "", colon);
    }
    for sub in &s.subsections {
        md_section(out, sub, level + 1, colon);
    }
}

fn md_block(out: &mut String, block: &Block, indent: &str, colon: &str) {
    match block {
        Block::Paragraph(line) => {
            out.push_str(indent);
            let start = out.len();
            md_inlines(out, line);
            guard_line_start(out, start);
            out.push_str("\n\n");
        }
        Block::List(items) => {
            for item in items {
                out.push_str(indent);
                out.push_str("- ");
                let start = out.len();
                md_inlines(out, item);
                guard_line_start(out, start);
                out.push('\n');
            }
            out.push('\n');
        }
        Block::Definitions(defs) => {
            for d in defs {
                out.push_str(indent);
                out.push_str("- **");
                md_inlines(out, &d.term);
                if !super::plain_text(&d.term).trim_end().ends_with(['?', ':']) {
                    out.push_str(colon);
                }
                out.push_str("**");
                let nested = format!("{indent}  ");
                match d.details.as_slice() {
                    [Block::Paragraph(line)] => {
                        out.push(' ');
                        md_inlines(out, line);
                        out.push('\n');
                    }
                    details => {
                        out.push_str("\n\n");
                        for b in details {
                            md_block(out, b, &nested, colon);
                        }
                    }
                }
            }
            out.push('\n');
        }
        Block::Table(table) => {
            out.push_str(indent);
            md_row(out, &table.header);
            out.push_str(indent);
            out.push('|');
            for _ in &table.header {
                out.push_str(" --- |");
            }
            out.push('\n');
            for row in &table.rows {
                out.push_str(indent);
                md_row(out, row);
            }
            out.push('\n');
        }
    }
}

fn md_row(out: &mut String, cells: &[Vec<Inline>]) {
    out.push('|');
    for cell in cells {
        out.push(' ');
        md_inlines(out, cell);
        out.push_str(" |");
    }
    out.push('\n');
}

fn md_inlines(out: &mut String, line: &[Inline]) {
    for inline in line {
        match inline {
            Inline::Text(span) => escape_md(out, &span.text),
            Inline::Link { href, text } if safe_href(href) => {
                out.push('[');
                escape_md(out, &text.text);
                out.push_str("](<");
                for c in href.chars() {
                    match c {
                        '<' => out.push_str("%3C"),
                        '>' => out.push_str("%3E"),
                        ' ' => out.push_str("%20"),
                        '\n' | '\r' => {}
                        _ => out.push(c),
                    }
                }
                out.push_str(">)");
            }
            Inline::Link { text, .. } => escape_md(out, &text.text),
        }
    }
}
