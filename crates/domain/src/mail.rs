//! Mail kluis sends to a person: receipts, confirmations and mail on behalf of a purpose.
//! The domain says what is sent; the store queues it and the mail crate delivers it.

use crate::identifiers::EmailAddress;

/// One message to one person, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: EmailAddress,
    pub subject: String,
    /// Plain text: every mail client shows it, and screen readers read it as written.
    pub body_text: String,
    /// The processing activity the mail is sent for; `None` for service mail (a receipt,
    /// a link to the portal).
    pub activity: Option<String>,
    /// The link that withdraws consent for that activity with one click (RFC 8058). Mail
    /// sent on behalf of a purpose based on consent must carry one.
    pub unsubscribe_url: Option<String>,
}
