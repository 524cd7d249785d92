//! Staff roles and what each may do.

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
    }
}

/// Something a staff member may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadRegister,
    EditRegister,
    PublishStatement,
    ManageUsers,
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
        })
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
    }
}
