//! A small PDF writer for text documents: lines in the standard Helvetica fonts (nothing
//! embedded, every reader has them), WinAnsi-encoded (é, è, ë, ç, €), wrapped and paged on
//! A4. The access package, the letters of a rights request and the breach notification
//! draft are written with it. Hand-written on `pdf_writer` (which only writes PDF objects)
//! because the documents are plain text: a layout engine would be a large dependency for
//! wrapping lines.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4 in points, the margin and the line height.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const LEADING: f32 = 13.0;
/// Characters per line: Helvetica at 10 pt averages about 5 pt a character, so the
/// text width (483 pt) holds about 95; fewer keeps wide letters inside the margin.
const LINE_CHARS: usize = 88;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Title,
    Heading,
    Bold,
    Text,
}

impl Style {
    fn size(self) -> f32 {
        match self {
            Style::Title => 14.0,
            Style::Heading => 12.0,
            Style::Bold | Style::Text => 10.0,
        }
    }

    fn bold(self) -> bool {
        self != Style::Text
    }
}

/// A document being written: lines, wrapped as they are added.
#[derive(Default)]
pub struct Doc {
    lines: Vec<(Style, String)>,
    /// The document's title and subject, for the reader's document properties.
    info: Option<(String, String)>,
}

impl Doc {
    pub fn new() -> Doc {
        Doc::default()
    }

    /// Adds text in `style`, wrapped at spaces.
    pub fn line(&mut self, style: Style, text: &str) {
        for part in wrap(text) {
            self.lines.push((style, part));
        }
    }

    /// A heading after an empty line.
    pub fn heading(&mut self, text: &str) {
        self.gap();
        self.line(Style::Heading, text);
    }

    /// The title and subject readers show in the document's properties.
    pub fn describe(&mut self, title: &str, subject: &str) {
        self.info = Some((title.to_string(), subject.to_string()));
    }

    /// An empty line.
    pub fn gap(&mut self) {
        self.lines.push((Style::Text, String::new()));
    }

    /// The PDF file.
    pub fn finish(self) -> Vec<u8> {
        let per_page = (((PAGE.1 - 2.0 * MARGIN) / LEADING) as usize).max(1);
        let pages: Vec<&[(Style, String)]> = self.lines.chunks(per_page).collect();
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let page_ref = |i: usize| Ref::new(5 + 2 * i as i32);
        let content_ref = |i: usize| Ref::new(6 + 2 * i as i32);
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids((0..pages.len()).map(page_ref))
            .count(pages.len() as i32);
        for (font, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
            pdf.type1_font(font)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        for (i, page_lines) in pages.iter().enumerate() {
            let mut page = pdf.page(page_ref(i));
            page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
            page.parent(tree);
            page.contents(content_ref(i));
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), regular);
            fonts.pair(Name(b"F2"), bold);
            drop(fonts);
            drop(resources);
            drop(page);
            let mut content = Content::new();
            let mut y = PAGE.1 - MARGIN;
            for (style, text) in page_lines.iter() {
                let font = if style.bold() {
                    Name(b"F2")
                } else {
                    Name(b"F1")
                };
                let encoded = win_ansi(text);
                content
                    .begin_text()
                    .set_font(font, style.size())
                    .next_line(MARGIN, y)
                    .show(Str(&encoded))
                    .end_text();
                y -= LEADING;
            }
            pdf.stream(content_ref(i), &content.finish());
        }
        if let Some((title, subject)) = &self.info {
            pdf.document_info(Ref::new(5 + 2 * pages.len() as i32))
                .title(TextStr(title))
                .subject(TextStr(subject));
        }
        pdf.finish()
    }
}

/// Splits text into lines of at most [`LINE_CHARS`] characters at spaces (a longer
/// word is cut), keeping the text's own line breaks.
fn wrap(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word = word.to_string();
            while word.chars().count() > LINE_CHARS {
                let head: String = word.chars().take(LINE_CHARS).collect();
                word = word.chars().skip(LINE_CHARS).collect();
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                out.push(head);
            }
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > LINE_CHARS {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        out.push(line);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Text in WinAnsi (Windows-1252): Latin-1 as is, typographic quotes, dashes and the
/// euro sign at their places, anything else as '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '\u{20ac}' => 0x80,
            '\u{2026}' => 0x85,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_keeps_dutch_and_french_letters() {
        assert_eq!(
            win_ansi("é è ë ç"),
            vec![0xe9, b' ', 0xe8, b' ', 0xeb, b' ', 0xe7]
        );
        assert_eq!(
            win_ansi("l’été – 5 €"),
            b"l\x92\xe9t\xe9 \x96 5 \x80".to_vec()
        );
        assert_eq!(win_ansi("Ω\t"), b"??".to_vec());
    }

    #[test]
    fn long_text_wraps_at_spaces_and_long_words_are_cut() {
        let text = format!("{} {}\neinde", "woord ".repeat(30).trim(), "x".repeat(200));
        let lines = wrap(&text);
        assert!(
            lines.iter().all(|l| l.chars().count() <= LINE_CHARS),
            "{lines:?}"
        );
        assert_eq!(lines.last().unwrap(), "einde");
        assert!(lines[0].starts_with("woord woord"));
        assert_eq!(lines.concat().matches('x').count(), 200);
        assert_eq!(wrap(""), vec![String::new()]);
    }

    #[test]
    fn lines_are_paged() {
        let mut doc = Doc::new();
        for n in 0..200 {
            doc.line(Style::Text, &format!("regel {n}"));
        }
        let pdf = doc.finish();
        assert!(pdf.starts_with(b"%PDF"));
        assert!(
            String::from_utf8_lossy(&pdf).contains("/Count 4"),
            "200 lines: 4 pages"
        );
    }
}
