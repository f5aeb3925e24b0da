//! API keys as text: generating them, reading them back, hashing and checking their secret.
//!
//! A key reads `dsk_<id>_<secret>`: `dsk_` so that secret scanners recognise a leaked one,
//! `<id>` (16 hex digits) names its row in `ApiKeys`, `<secret>` is 32 bytes from the
//! operating system's CSPRNG (64 hex digits). Only `SHA-256(salt || secret)` is stored, with
//! a random 16-byte salt per key. A slow password hash (argon2) exists to make guessing a
//! low-entropy password expensive; a 256-bit secret cannot be guessed either way, and a slow
//! hash would cost every request milliseconds of CPU (docs/DECISIONS.md).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every generated key.
pub const PREFIX: &str = "dsk_";

/// Characters of a key id and of a secret (hex).
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// A `DATASTORE_ADMIN_KEY` that is not a generated key must be at least this long: its
/// stored hash is fast, so the key itself must be hard to guess.
pub const MIN_FOREIGN_KEY_LEN: usize = 32;

/// What a caller may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}` (read, write or admin)")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as a client sends it, split into the id to look up and the secret to check.
#[derive(PartialEq, Eq)]
pub struct Presented {
    pub id: String,
    pub secret: String,
    /// True for the `dsk_` form (its id may be logged); false for a foreign admin key.
    pub generated: bool,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

/// Reads a presented key. A generated key gives its own id; any other text long enough to
/// be a `DATASTORE_ADMIN_KEY` gives an id derived from it; anything else is malformed.
pub fn parse(text: &str) -> Option<Presented> {
    if let Some(rest) = text.strip_prefix(PREFIX) {
        let (id, secret) = rest.split_once('_')?;
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if hex(id, ID_HEX) && hex(secret, SECRET_HEX) {
            return Some(Presented {
                id: id.to_ascii_lowercase(),
                secret: secret.to_ascii_lowercase(),
                generated: true,
            });
        }
        return None;
    }
    let printable = text.bytes().all(|b| b.is_ascii_graphic());
    (text.len() >= MIN_FOREIGN_KEY_LEN && printable).then(|| Presented {
        id: foreign_id(text),
        secret: text.to_owned(),
        generated: false,
    })
}

/// The deterministic id of a foreign admin key: every instance given the same
/// `DATASTORE_ADMIN_KEY` installs the same row (`env` + 13 hex digits of a hash).
fn foreign_id(text: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"datastore admin key id\0")
        .chain_update(text.as_bytes())
        .finalize();
    format!("env{}", &hex(&digest)[..ID_HEX - 3])
}

/// A freshly generated key: the text to show once, and what to store.
pub struct Generated {
    /// `dsk_<id>_<secret>`: shown once, never stored.
    pub text: String,
    pub stored: StoredSecret,
}

/// What the database keeps of a key's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub id: String,
    /// 16 random bytes, hex.
    pub salt: String,
    /// SHA-256 of the salt's bytes then the secret's text, hex.
    pub hash: String,
    /// The secret's last four characters, to tell keys apart in a listing.
    pub last4: String,
}

/// `bytes` random bytes, as hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key from the operating system's random source.
pub fn generate() -> Result<Generated, getrandom::Error> {
    let id = random_hex(ID_HEX / 2)?;
    let secret = random_hex(SECRET_HEX / 2)?;
    let text = format!("{PREFIX}{id}_{secret}");
    let presented = Presented {
        id,
        secret,
        generated: true,
    };
    Ok(Generated {
        stored: protect(&presented)?,
        text,
    })
}

/// The stored form of a presented key, with a new random salt.
pub fn protect(key: &Presented) -> Result<StoredSecret, getrandom::Error> {
    let salt = random_hex(16)?;
    Ok(StoredSecret {
        id: key.id.clone(),
        hash: hash(&salt, &key.secret),
        last4: key.secret[key.secret.len().saturating_sub(4)..].to_owned(),
        salt,
    })
}

fn hash(salt: &str, secret: &str) -> String {
    hex(&Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize())
}

/// True when `secret` hashes, with `salt`, to `stored_hash`. The hashes are compared in
/// constant time.
pub fn verify(secret: &str, salt: &str, stored_hash: &str) -> bool {
    let computed = hash(salt, secret);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_and_verifies() {
        let key = generate().unwrap();
        assert!(key.text.starts_with("dsk_"));
        assert_eq!(key.text.len(), 4 + 16 + 1 + 64);
        let presented = parse(&key.text).unwrap();
        assert!(presented.generated);
        assert_eq!(presented.id, key.stored.id);
        assert!(verify(
            &presented.secret,
            &key.stored.salt,
            &key.stored.hash
        ));
        assert!(!key.stored.hash.contains(&presented.secret));
        let mut wrong = presented.secret.clone();
        wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
        assert!(!verify(&wrong, &key.stored.salt, &key.stored.hash));
    }

    #[test]
    fn two_keys_differ_and_salts_differ() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a.text, b.text);
        assert_ne!(a.stored.salt, b.stored.salt);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for text in [
            "",
            "dsk_",
            "dsk_abc_def",
            "dsk_0123456789abcdef",
            "short",
            "dsk_0123456789abcdeg_0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn a_foreign_admin_key_has_a_stable_id_and_never_shows_in_debug() {
        let text = "a-long-enough-admin-key-for-containers-0001";
        let (a, b) = (parse(text).unwrap(), parse(text).unwrap());
        assert_eq!(a.id, b.id);
        assert!(!a.generated);
        assert!(!format!("{a:?}").contains("containers"));
    }
}
