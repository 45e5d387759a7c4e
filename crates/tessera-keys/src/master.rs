//! [`MasterKey`]: the key-encryption key that seals every private signing key at rest with
//! AES-256-GCM (NIST SP 800-38D), so a database dump alone yields no usable key.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};

use crate::KeyError;
use crate::b64;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// 32-byte AES-256-GCM key-encryption key. Its `Debug` shows only the [`kek_id`](Self::kek_id).
#[derive(Debug)]
pub struct MasterKey {
    key: SecretBox<[u8; KEY_LEN]>,
    kek_id: String,
}

impl MasterKey {
    fn with_key(key: SecretBox<[u8; KEY_LEN]>) -> Self {
        let digest = openssl::sha::sha256(key.expose_secret());
        let mut kek_id = String::with_capacity(16);
        for b in &digest[..8] {
            let _ = write!(kek_id, "{b:02x}");
        }
        Self { key, kek_id }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != KEY_LEN {
            return Err(KeyError::malformed(format!(
                "master key: expected {KEY_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Self::with_key(SecretBox::init_with_mut(
            |k: &mut [u8; KEY_LEN]| k.copy_from_slice(bytes),
        )))
    }

    /// Parses standard or URL-safe base64 (padding optional) of exactly 32 bytes.
    pub fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let bytes = b64::decode_any(b64.trim())
            .map(Zeroizing::new)
            .ok_or_else(|| KeyError::malformed("master key: not base64"))?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random key from the OS-seeded CSPRNG.
    pub fn generate() -> Self {
        Self::with_key(SecretBox::init_with_mut(|k: &mut [u8; KEY_LEN]| {
            rand::rng().fill_bytes(k)
        }))
    }

    /// The key as standard padded base64, for writing to a key file or secret store.
    pub fn to_base64(&self) -> String {
        b64::STANDARD.encode(self.key.expose_secret())
    }

    /// Reads the base64 key file at `path`, or creates it (mode 0600, parent dirs created) with a
    /// fresh key; the `bool` says whether the key was generated now.
    pub fn load_or_generate(path: &Path) -> Result<(Self, bool), KeyError> {
        match read_key_file(path) {
            Ok(key) => return Ok((key?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading master key file {}", path.display()))
                    .into());
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let key = read_key_file(path)
                    .with_context(|| format!("reading master key file {}", path.display()))??;
                return Ok((key, false));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("creating master key file {}", path.display()))
                    .into());
            }
        };
        let mut text = Zeroizing::new(key.to_base64());
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing master key file {}", path.display()))?;
        tracing::info!(path = %path.display(), kek_id = %key.kek_id, "generated a new master key");
        Ok((key, true))
    }

    /// Identifies this key without revealing it: the first 16 hex digits of its SHA-256. Stored
    /// with every sealed key so a key sealed under another master key is recognised as such.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// Encrypts with AES-256-GCM under a random 96-bit nonce (SP 800-38D §8.2.2), authenticating
    /// `aad` too. Output: nonce ‖ ciphertext ‖ 16-byte tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce).map_err(KeyError::openssl("drawing a nonce"))?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            self.key.expose_secret(),
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .map_err(KeyError::openssl("sealing a key"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same `aad`. A wrong key, a different
    /// `aad` or any tampering fails authentication: [`KeyError::WrongMasterKey`].
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::malformed("sealed key: too short"));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            self.key.expose_secret(),
            Some(nonce),
            aad,
            ciphertext,
            tag,
        )
        .map_err(|_| KeyError::WrongMasterKey)
    }
}

/// Reads and parses a key file; the outer error is I/O, the inner a bad key.
fn read_key_file(path: &Path) -> std::io::Result<Result<MasterKey, KeyError>> {
    let text = Zeroizing::new(std::fs::read_to_string(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "master key file is readable by others; chmod 600 it");
        }
    }
    Ok(MasterKey::from_base64(&text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn master_key_round_trips_through_standard_and_url_safe_base64() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        assert_eq!(
            MasterKey::from_base64(&text).unwrap().kek_id(),
            key.kek_id()
        );
        let raw = b64::STANDARD.decode(&text).unwrap();
        let url = b64::url(&raw);
        assert_eq!(MasterKey::from_base64(&url).unwrap().kek_id(), key.kek_id());
        assert_eq!(
            MasterKey::from_base64(&format!(" {text}\n"))
                .unwrap()
                .kek_id(),
            key.kek_id()
        );
        assert_eq!(key.kek_id().len(), 16);
        assert!(key.kek_id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(MasterKey::generate().kek_id(), key.kek_id());
    }

    #[test]
    fn master_key_of_the_wrong_length_or_not_base64_is_malformed() {
        let short = b64::STANDARD.encode([7u8; 31]);
        assert!(matches!(
            MasterKey::from_base64(&short),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn debug_output_does_not_reveal_the_key() {
        let key = MasterKey::generate();
        let debug = format!("{key:?}");
        assert!(!debug.contains(&key.to_base64()), "{debug}");
        assert!(!debug.contains(&b64::url(&b64::STANDARD.decode(key.to_base64()).unwrap())));
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn sealed_bytes_open_only_with_the_same_key_and_aad() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"private", b"row-1").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 7 + TAG_LEN);
        assert_eq!(key.open(&sealed, b"row-1").unwrap(), b"private");
        assert_ne!(
            key.seal(b"private", b"row-1").unwrap(),
            sealed,
            "nonces are random"
        );

        assert!(matches!(
            key.open(&sealed, b"row-2"),
            Err(KeyError::WrongMasterKey)
        ));
        assert!(matches!(
            MasterKey::generate().open(&sealed, b"row-1"),
            Err(KeyError::WrongMasterKey)
        ));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(key.open(&tampered, b"row-1").is_err(), "byte {i}");
        }
        assert!(matches!(
            key.open(&sealed[..20], b"row-1"),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn load_or_generate_creates_a_private_file_then_reads_the_same_key_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/master.key");
        let (created, generated) = MasterKey::load_or_generate(&path).unwrap();
        assert!(generated);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (loaded, generated) = MasterKey::load_or_generate(&path).unwrap();
        assert!(!generated);
        assert_eq!(loaded.kek_id(), created.kek_id());
        assert_eq!(loaded.to_base64(), created.to_base64());
        let sealed = created.seal(b"x", b"").unwrap();
        assert_eq!(loaded.open(&sealed, b"").unwrap(), b"x");
    }

    #[test]
    fn load_or_generate_refuses_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            MasterKey::load_or_generate(&path),
            Err(KeyError::Malformed(_))
        ));
    }
}
