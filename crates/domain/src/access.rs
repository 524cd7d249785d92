//! Staff roles, what each may do, and need-to-know: who may open which personal data.

use std::collections::BTreeSet;

use time::Date;

use crate::vocabulary;

vocabulary! {
    /// A role a staff account holds; an account may hold several.
    pub enum Role: "role" {
        /// Runs the deployment: accounts, tokens, configuration; may edit the register.
        Admin = "admin",
        /// The data protection officer: keeps the register and publishes the statement.
        Dpo = "dpo",
        /// Handles requests and records personal data of their activities.
        Caseworker = "caseworker",
        /// Reads the register and the logs, changes nothing.
        Auditor = "auditor",
        /// Another application of the authority (a newsletter tool, a media database): asks
        /// whether consent allows a purpose, for the purposes it is assigned to.
        Application = "application",
    }
}

/// Something a staff member may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadRegister,
    EditRegister,
    PublishStatement,
    ManageUsers,
    /// Read the processing log with the staff identities (the audit view).
    ReadAuditLog,
    /// Assign staff to processing activities and record confidentiality statements.
    ManageStaff,
    /// Ask whether consent allows a purpose to use a person's data now.
    CheckConsent,
    /// Record and withdraw consent on a person's behalf.
    RecordConsent,
    /// Register and work through data-subject rights requests (they hold personal data).
    HandleRightsRequests,
}

impl Permission {
    /// Whether any of `roles` grants this permission.
    pub fn granted_to(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| match self {
            Permission::ReadRegister => true,
            Permission::EditRegister | Permission::PublishStatement => {
                matches!(r, Role::Admin | Role::Dpo)
            }
            Permission::ManageUsers => matches!(r, Role::Admin),
            Permission::ReadAuditLog => matches!(r, Role::Dpo | Role::Auditor),
            Permission::ManageStaff => matches!(r, Role::Admin | Role::Dpo),
            Permission::CheckConsent => {
                matches!(r, Role::Dpo | Role::Caseworker | Role::Application)
            }
            Permission::RecordConsent => matches!(r, Role::Dpo | Role::Caseworker),
            Permission::HandleRightsRequests => matches!(r, Role::Dpo | Role::Caseworker),
        })
    }
}

/// What kluis knows of a staff member when they ask for personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clearance {
    pub roles: Vec<Role>,
    /// The processing activities the staff member is assigned to.
    pub activities: BTreeSet<String>,
    /// When the staff member signed a confidentiality statement, if ever.
    pub confidentiality_signed_on: Option<Date>,
}

/// Which processing activities' personal data someone may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every activity: the DPO, who must have access to personal data and processing
    /// operations to do their task (GDPR art. 38(2)).
    All,
    /// Only these activities.
    Activities(BTreeSet<String>),
}

impl Scope {
    pub fn allows(&self, activity: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Activities(set) => set.contains(activity),
        }
    }
}

/// Why personal data was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "you have not signed a confidentiality statement: ask the DPO to record it before you          open personal data"
    )]
    NoConfidentialityStatement,
    #[error(
        "your roles do not include access to personal data: caseworkers of an activity and          the DPO have it"
    )]
    NoPersonalDataRole,
    #[error(
        "you are not assigned to processing activity '{0}': ask the DPO to assign you if your \
         task needs it"
    )]
    NotAssigned(String),
}

impl Clearance {
    /// The activities whose personal data this staff member may open: need-to-know.
    ///
    /// A confidentiality statement comes first, for everyone. The DPO sees every activity;
    /// a caseworker only those assigned; administrators and auditors none (auditors read
    /// the processing log, not the data).
    pub fn scope(&self) -> Result<Scope, Refusal> {
        if self.confidentiality_signed_on.is_none() {
            return Err(Refusal::NoConfidentialityStatement);
        }
        if self.roles.contains(&Role::Dpo) {
            return Ok(Scope::All);
        }
        if self.roles.contains(&Role::Caseworker) {
            return Ok(Scope::Activities(self.activities.clone()));
        }
        Err(Refusal::NoPersonalDataRole)
    }

    /// Whether this account may ask about consent for `activity`: the DPO for every purpose,
    /// caseworkers and applications for the purposes they are assigned to. An application
    /// learns only yes or no about an address it already holds, so it signs no statement.
    pub fn check_consent(&self, activity: &str) -> Result<(), Refusal> {
        if self.roles.contains(&Role::Dpo) || self.activities.contains(activity) {
            Ok(())
        } else {
            Err(Refusal::NotAssigned(activity.to_string()))
        }
    }

    /// Whether this staff member may open personal data of `activity`.
    pub fn check(&self, activity: &str) -> Result<(), Refusal> {
        if self.scope()?.allows(activity) {
            Ok(())
        } else {
            Err(Refusal::NotAssigned(activity.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dpo_and_admin_edit_the_register() {
        assert!(Permission::EditRegister.granted_to(&[Role::Dpo]));
        assert!(Permission::EditRegister.granted_to(&[Role::Caseworker, Role::Admin]));
        assert!(!Permission::EditRegister.granted_to(&[Role::Caseworker, Role::Auditor]));
        assert!(!Permission::ReadRegister.granted_to(&[]));
        assert!(Permission::ReadRegister.granted_to(&[Role::Auditor]));
        assert!(!Permission::ManageUsers.granted_to(&[Role::Dpo]));
        assert!(Permission::ReadAuditLog.granted_to(&[Role::Auditor]));
        assert!(!Permission::ReadAuditLog.granted_to(&[Role::Caseworker]));
    }

    fn clearance(roles: &[Role], activities: &[&str], signed: bool) -> Clearance {
        Clearance {
            roles: roles.to_vec(),
            activities: activities.iter().map(|a| a.to_string()).collect(),
            confidentiality_signed_on: signed.then_some(time::macros::date!(2026 - 01 - 05)),
        }
    }

    #[test]
    fn caseworkers_open_only_their_activities() {
        let c = clearance(&[Role::Caseworker], &["werving"], true);
        assert_eq!(c.check("werving"), Ok(()));
        assert_eq!(
            c.check("camerabewaking"),
            Err(Refusal::NotAssigned("camerabewaking".into()))
        );
    }

    #[test]
    fn nobody_opens_personal_data_without_a_confidentiality_statement() {
        for roles in [&[Role::Caseworker][..], &[Role::Dpo]] {
            let c = clearance(roles, &["werving"], false);
            assert_eq!(c.check("werving"), Err(Refusal::NoConfidentialityStatement));
        }
    }

    #[test]
    fn the_dpo_sees_all_and_admins_and_auditors_see_none() {
        assert_eq!(clearance(&[Role::Dpo], &[], true).scope(), Ok(Scope::All));
        for roles in [&[Role::Admin][..], &[Role::Auditor]] {
            assert_eq!(
                clearance(roles, &["werving"], true).check("werving"),
                Err(Refusal::NoPersonalDataRole)
            );
        }
    }
}
