//! Letters to print and post: for a person without an e-mail address (a request received
//! by letter or at the desk), a letter as a PDF with the address where a window envelope
//! shows it, the date, then the letter as it would have been mailed.

use kluis_domain::rights::Letter;
use kluis_domain::statement::date_in_words;
use kluis_store::RightsRequest;
use time::Date;

use crate::pdf_text::{Doc, Style};

/// `letter` to the requester of `request` as a PDF, dated `today`.
pub fn letter_pdf(request: &RightsRequest, letter: &Letter, today: Date) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.describe(&letter.subject, &request.reference);
    let person = &request.requester.identity;
    let name = person.full_name();
    if !name.is_empty() {
        doc.line(Style::Text, &name);
    }
    // A postal address is typed as lines, or on one line separated by commas.
    let address = request
        .requester
        .postal_address
        .as_deref()
        .unwrap_or_default();
    for line in address
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        doc.line(Style::Text, line);
    }
    doc.gap();
    doc.gap();
    doc.line(Style::Text, &date_in_words(request.language, today));
    doc.gap();
    doc.line(Style::Bold, &letter.subject);
    doc.gap();
    for paragraph in letter.body.trim().lines() {
        if paragraph.trim().is_empty() {
            doc.gap();
        } else {
            doc.line(Style::Text, paragraph);
        }
    }
    doc.finish()
}
