//! Key material and what is derived from it: pseudonyms for audit entries, keyed hashes for
//! lookups over encrypted columns, and AES-256-GCM encryption of PII fields.
//!
//! One 256-bit master key (from a file or an environment variable; loading is the binary's job)
//! yields independent sub-keys by HMAC-SHA256 over a purpose label, so a leaked pseudonym key
//! says nothing about the encryption key. Key material never implements `Debug` or `Display`
//! with its bytes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a master key is 64 hexadecimal characters (32 bytes); got {0} characters")]
    KeyLength(usize),
    #[error("the master key is not hexadecimal")]
    KeyHex,
    #[error("value is not Sextant ciphertext")]
    NotCiphertext,
    #[error("value was encrypted under key {found}, which is not loaded (loaded: {loaded})")]
    UnknownKey { found: String, loaded: String },
    #[error("decryption failed: the value was altered or the key is wrong")]
    Decrypt,
}

/// The 256-bit master key. Its bytes are never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint())
    }
}

impl MasterKey {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// Parse 64 hex characters (surrounding whitespace ignored).
    pub fn parse_hex(s: &str) -> Result<Self, SecretError> {
        let t = s.trim();
        if t.len() != 64 {
            return Err(SecretError::KeyLength(t.len()));
        }
        let bytes = hex::decode(t).map_err(|_| SecretError::KeyHex)?;
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        Ok(Self(k))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A short public identifier of the key (not secret): 8 hex characters.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.derive("sextant/fingerprint/v1")[..4])
    }

    pub fn pseudonymizer(&self) -> Pseudonymizer {
        Pseudonymizer(self.derive("sextant/pseudonym/v1"))
    }

    pub fn cipher(&self) -> PiiCipher {
        PiiCipher {
            keys: vec![(self.fingerprint(), self.derive("sextant/pii-aes256gcm/v1"))],
        }
    }
}

/// Keyed one-way identifiers: the same input always gives the same output under one key, and
/// without the key an output cannot be linked back.
#[derive(Clone)]
pub struct Pseudonymizer([u8; 32]);

impl Pseudonymizer {
    fn mac(&self, domain: &str, value: &str) -> String {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    /// How a customer appears in the audit log: `cust_` + 24 hex characters.
    pub fn customer(&self, id: &crate::CustomerId) -> String {
        format!("cust_{}", self.mac("customer", id.as_str()))
    }

    /// A lookup hash for an encrypted column (e-mail, phone), normalised to lower case.
    pub fn lookup(&self, column: &str, value: &str) -> String {
        self.mac(column, &value.trim().to_lowercase())
    }
}

/// AES-256-GCM for PII fields. Output: `enc:v1:<key fingerprint>:<base64(nonce ‖ ciphertext)>`.
/// Holds the current key first, then any older keys still accepted for decryption (rotation).
#[derive(Clone)]
pub struct PiiCipher {
    keys: Vec<(String, [u8; 32])>,
}

const PREFIX: &str = "enc:v1:";

impl PiiCipher {
    /// Also accept values encrypted under `older` (during a key rotation).
    pub fn with_previous(mut self, older: &MasterKey) -> Self {
        let c = older.cipher();
        self.keys.extend(c.keys);
        self
    }

    pub fn fingerprint(&self) -> &str {
        &self.keys[0].0
    }

    pub fn is_ciphertext(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let (fp, key) = &self.keys[0];
        let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS random number generator works");
        // The fingerprint is authenticated as associated data: a value cannot be moved to
        // another key's slot.
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                aes_gcm::aead::Payload {
                    msg: plaintext.as_bytes(),
                    aad: fp.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for short inputs");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}{fp}:{}", B64.encode(blob))
    }

    pub fn decrypt(&self, value: &str) -> Result<String, SecretError> {
        let rest = value
            .strip_prefix(PREFIX)
            .ok_or(SecretError::NotCiphertext)?;
        let (fp, b64) = rest.split_once(':').ok_or(SecretError::NotCiphertext)?;
        let key = self
            .keys
            .iter()
            .find(|(f, _)| f == fp)
            .map(|(_, k)| k)
            .ok_or_else(|| SecretError::UnknownKey {
                found: fp.to_string(),
                loaded: self
                    .keys
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let blob = B64.decode(b64).map_err(|_| SecretError::NotCiphertext)?;
        if blob.len() < 12 + 16 {
            return Err(SecretError::NotCiphertext);
        }
        let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
        let pt = cipher
            .decrypt(
                &Nonce::try_from(&blob[..12]).map_err(|_| SecretError::NotCiphertext)?,
                aes_gcm::aead::Payload {
                    msg: &blob[12..],
                    aad: fp.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| SecretError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_bytes([b; 32])
    }

    #[test]
    fn encrypts_round_trip_with_fresh_nonces_and_detects_tampering() {
        let c = key(1).cipher();
        let a = c.encrypt("Jane Doe");
        let b = c.encrypt("Jane Doe");
        assert_ne!(a, b, "random nonces");
        assert!(!a.contains("Jane"));
        assert_eq!(c.decrypt(&a).unwrap(), "Jane Doe");
        let mut bad = a.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(
            c.decrypt(&bad),
            Err(SecretError::Decrypt | SecretError::NotCiphertext)
        ));
        assert!(matches!(
            key(2).cipher().decrypt(&a),
            Err(SecretError::UnknownKey { .. })
        ));
        assert_eq!(
            key(2).cipher().with_previous(&key(1)).decrypt(&a).unwrap(),
            "Jane Doe"
        );
    }

    #[test]
    fn pseudonyms_and_lookups_are_keyed_and_stable() {
        let id = crate::CustomerId::parse("42").unwrap();
        let p = key(1).pseudonymizer();
        assert_eq!(p.customer(&id), p.customer(&id));
        assert_ne!(p.customer(&id), key(2).pseudonymizer().customer(&id));
        assert!(p.customer(&id).starts_with("cust_") && !p.customer(&id).contains("42"));
        assert_eq!(p.lookup("email", " A@B.co "), p.lookup("email", "a@b.co"));
        assert!(format!("{:?}", key(1)).starts_with("MasterKey("));
        assert_eq!(
            MasterKey::parse_hex("ab").unwrap_err(),
            SecretError::KeyLength(2)
        );
        assert_eq!(
            MasterKey::parse_hex(&key(7).to_hex())
                .unwrap()
                .fingerprint(),
            key(7).fingerprint()
        );
    }
}
