//! What can go wrong when kluis talks to another system, in words that say what to check.

/// Why a system could not be checked or searched. Every variant names the system; URLs
/// are shown with the password masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("system '{system}': its dataset map is not valid:\n{problems}")]
    InvalidMap { system: String, problems: String },

    #[error("system '{system}': the connection URL {url} cannot be used: {reason}")]
    BadUrl {
        system: String,
        url: String,
        reason: String,
    },

    #[error(
        "system '{system}' at {url} cannot be reached: {reason}. Check that its database \
         server runs and that host, port, database, user and password in [systems.{system}] \
         are right"
    )]
    Unreachable {
        system: String,
        url: String,
        reason: String,
    },

    #[error(
        "system '{system}' at {url} did not answer within {after:?} while {doing}. Check \
         the host and port in [systems.{system}], and that no firewall drops the connection"
    )]
    Timeout {
        system: String,
        url: String,
        after: std::time::Duration,
        doing: &'static str,
    },

    #[error(
        "system '{system}' does not match its dataset map, so it was not searched:\n  - {}\n\
         Correct the map, then run `kluis systems check {system}`",
        mismatches.join("\n  - ")
    )]
    SchemaMismatch {
        system: String,
        mismatches: Vec<String>,
    },

    #[error("system '{system}': reading its database failed: {reason}")]
    Query { system: String, reason: String },

    #[error("give at least one identifier to search for: national number, BSN, e-mail or phone")]
    EmptyQuery,
}

pub use kluis_keys::mask_password;

/// The password of `url`, as written in it (percent-encoded), if it has one.
fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = &userinfo[userinfo.find(':')? + 1..];
    (!password.is_empty()).then_some(password)
}

/// `message` with every occurrence of the password of `url` masked: driver messages may
/// quote the URL they were given.
pub(crate) fn redact(message: &str, url: &str) -> String {
    match password(url) {
        Some(p) => message.replace(p, "****"),
        None => message.to_string(),
    }
}

/// Serialises an error that stopped a system's part of the work as its message, so a
/// report says why in words (the error's fields are for the code that matches on them).
pub(crate) fn as_text<S: serde::Serializer>(
    error: &Option<ConnectorError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match error {
        Some(e) => s.collect_str(e),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://kluis:s3cret@db:5432/hr"),
            "postgres://kluis:****@db:5432/hr"
        );
        assert_eq!(
            mask_password("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
        assert_eq!(
            mask_password("mysql://u:p%40ss@h/db?ssl-mode=required"),
            "mysql://u:****@h/db?ssl-mode=required"
        );
        assert_eq!(
            redact("bad url mysql://u:p%40ss@h/db", "mysql://u:p%40ss@h/db"),
            "bad url mysql://u:****@h/db"
        );
        assert_eq!(redact("no password", "mysql://u@h/db"), "no password");
    }
}
