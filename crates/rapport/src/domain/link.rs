//! Signed links: a token that carries a few fields under an HMAC-SHA256 made with a secret the
//! server keeps, so a customer can follow a link (unsubscribe, later a survey) without logging in
//! and nobody can make one for someone else. Fields are length-prefixed before signing, so no two
//! field lists sign alike; the purpose is signed too, so a token made for one use is refused by
//! another; the MAC is checked, in constant time, before any field is read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The most fields a token carries; more is a forged or broken token.
const MAX_FIELDS: usize = 8;
/// The longest token accepted (a few ids and a time take well under 200 characters).
const MAX_TOKEN: usize = 512;
const MAC_LEN: usize = 32;

/// A secret that signs links for one purpose.
#[derive(Clone)]
pub struct LinkKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(redacted)")
    }
}

/// Why a token was refused. Pages show one message for every case, so a visitor learns nothing
/// from trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token of this shape at all.
    #[error("not a link token")]
    Malformed,
    /// The MAC does not match: made with another key, for another purpose, or changed.
    #[error("the link's signature does not match")]
    Forged,
}

impl LinkKey {
    /// A key from its secret bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self { secret: secret.into() }
    }

    fn mac(&self, purpose: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(&(purpose.len() as u32).to_be_bytes());
        mac.update(purpose.as_bytes());
        mac.update(payload);
        mac
    }

    /// A token carrying `fields` for `purpose`: URL-safe, no padding.
    pub fn sign(&self, purpose: &str, fields: &[&str]) -> String {
        assert!(fields.len() <= MAX_FIELDS, "a link carries at most {MAX_FIELDS} fields");
        let mut payload = Vec::new();
        for field in fields {
            payload.extend_from_slice(&(field.len() as u32).to_be_bytes());
            payload.extend_from_slice(field.as_bytes());
        }
        let tag = self.mac(purpose, &payload).finalize().into_bytes();
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The fields of a token made by `sign` with this key and purpose.
    pub fn verify(&self, purpose: &str, token: &str) -> Result<Vec<String>, LinkError> {
        if token.len() > MAX_TOKEN {
            return Err(LinkError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| LinkError::Malformed)?;
        if bytes.len() < MAC_LEN {
            return Err(LinkError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(purpose, payload)
            .verify_slice(tag)
            .map_err(|_| LinkError::Forged)?;
        // Signed by us: the layout is ours, but it is read without trusting it all the same.
        let mut fields = Vec::new();
        let mut rest = payload;
        while !rest.is_empty() {
            if rest.len() < 4 || fields.len() == MAX_FIELDS {
                return Err(LinkError::Malformed);
            }
            let (len, after) = rest.split_at(4);
            let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
            if after.len() < len {
                return Err(LinkError::Malformed);
            }
            let (field, after) = after.split_at(len);
            fields.push(String::from_utf8(field.to_vec()).map_err(|_| LinkError::Malformed)?);
            rest = after;
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_gives_back_its_fields() {
        let key = LinkKey::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let token = key.sign("unsubscribe", &["42", "7"]);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(key.verify("unsubscribe", &token).unwrap(), ["42", "7"]);
    }

    #[test]
    fn another_key_purpose_or_a_changed_byte_is_refused() {
        let key = LinkKey::new(b"first secret".to_vec());
        let token = key.sign("unsubscribe", &["42", "7"]);
        assert_eq!(
            LinkKey::new(b"other secret".to_vec()).verify("unsubscribe", &token),
            Err(LinkError::Forged)
        );
        assert_eq!(key.verify("survey", &token), Err(LinkError::Forged));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[5] ^= 1;
        assert_eq!(
            key.verify("unsubscribe", &URL_SAFE_NO_PAD.encode(&bytes)),
            Err(LinkError::Forged)
        );
        assert_eq!(key.verify("unsubscribe", "not a token!"), Err(LinkError::Malformed));
        assert_eq!(key.verify("unsubscribe", "AAAA"), Err(LinkError::Malformed));
    }

    #[test]
    fn fields_are_length_prefixed_so_boundaries_cannot_move() {
        let key = LinkKey::new(b"k".to_vec());
        assert_ne!(key.sign("p", &["ab", "c"]), key.sign("p", &["a", "bc"]));
        assert_ne!(key.sign("p", &["abc"]), key.sign("p", &["ab", "c"]));
    }
}
