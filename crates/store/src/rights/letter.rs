//! Letters on paper. A person without an e-mail address (a request received by letter or
//! at the desk) gets no mail: staff print the letter and post it. kluis writes it again
//! from the request exactly as it would have been mailed: the latest of the closing letter,
//! the extension notice and the request for more proof of identity.

use kluis_domain::rights::{self, Closing, Letter, Notice, Stage};
use uuid::Uuid;

use super::RightsRequest;
use crate::{Store, StoreError};

impl Store {
    /// The latest letter to the person of request `id`, with the request (whose requester
    /// says where it goes). Errors: `NotFound`, and `Invalid` when nothing was written to
    /// the person yet (the receipt is a page and a mail, not a letter).
    pub async fn latest_letter(&self, id: Uuid) -> Result<(RightsRequest, Letter), StoreError> {
        let request = self.rights_request(id).await?;
        let Some(step) = request.timeline.iter().rev().find(|s| {
            matches!(
                s.step.as_str(),
                "closed" | "deadline_extended" | "identity_requested"
            )
        }) else {
            return Err(StoreError::Invalid(format!(
                "nothing was written to the person of request {} yet: a letter goes out when \
                 more proof of identity is asked, the deadline is extended or the request closes",
                request.reference
            )));
        };
        let note = step.note.clone().unwrap_or_default();
        let lang = request.language;
        let (organisation, authorities) = match self.controller(&request.controller).await? {
            Some(c) => (
                c.value.name.show(lang).to_string(),
                c.value.supervisory_authorities,
            ),
            None => (request.controller.clone(), Vec::new()),
        };
        let letter = match (step.step.as_str(), &request.deadline.extension) {
            ("closed", _) => {
                debug_assert_eq!(request.stage, Stage::Closed);
                let activities = self.activities(Some(&request.controller)).await?;
                let name = |id: &str| {
                    activities
                        .iter()
                        .find(|a| a.value.id == id)
                        .map_or_else(|| id.to_string(), |a| a.value.name.show(lang).to_string())
                };
                rights::closing_letter(
                    lang,
                    &Closing {
                        organisation: &organisation,
                        reference: &request.reference,
                        decisions: &request.decisions,
                        note: &note,
                        authorities: &authorities,
                    },
                    name,
                )
            }
            ("deadline_extended", Some(extension)) => rights::notice_letter(
                lang,
                &organisation,
                &request.reference,
                &Notice::Extension {
                    months: extension.months,
                    reason: &extension.reason,
                    due_on: extension.due_on,
                },
            ),
            ("identity_requested", _) => rights::notice_letter(
                lang,
                &organisation,
                &request.reference,
                &Notice::IdentityRequested { note: &note },
            ),
            (other, _) => {
                return Err(StoreError::Corrupt(format!(
                    "request {}: step {other} without what its letter says",
                    request.reference
                )));
            }
        };
        Ok((request, letter))
    }
}
