//! Who may do what: the roles of API keys and dashboard users.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::types::ParseError;

/// A role, from least to most trusted: each may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads customers, events, reports and models.
    Viewer,
    /// Also writes events and customers, and triggers fits.
    Staff,
    /// Also manages API keys, users and webhooks.
    Admin,
}

impl Role {
    /// Every role, least trusted first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Staff, Role::Admin];

    /// The role's stable name, as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == raw.trim())
            .ok_or_else(|| ParseError(format!("'{raw}' is not a role: use admin, staff or viewer")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_order_by_trust() {
        assert_eq!("staff".parse::<Role>().unwrap(), Role::Staff);
        assert!(Role::Viewer < Role::Staff && Role::Staff < Role::Admin);
        let error = "owner".parse::<Role>().unwrap_err().to_string();
        assert!(error.contains("'owner' is not a role"), "{error}");
    }
}
