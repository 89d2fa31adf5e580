//! Dashboard users: passwords hashed with Argon2id, checked in constant time.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::{Email, Role};
use crate::store::{Store, StoreError};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The e-mail address or password is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The store failed or the address is taken.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hashes a password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> String {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 with default parameters and a random salt hashes any password");
    hash.to_string()
}

/// Whether `password` matches a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Creates a dashboard user.
pub async fn create_user(store: &Arc<dyn Store>, email: &str, role: Role, password: &str) -> Result<i64, AccountError> {
    let email = Email::parse(email).map_err(|e| AccountError::Invalid(e.0))?;
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD} characters"
        )));
    }
    let hash = hash_password(password);
    Ok(store
        .create_user(email.as_str(), role, &hash, chrono::Utc::now().timestamp())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(hash, hash_password("correct horse battery"), "salts differ");
    }
}
