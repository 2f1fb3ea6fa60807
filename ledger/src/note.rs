//! STUB, replaced by the real signed-note module.
use crate::{Error, Result};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}
impl NoteSigner {
    pub fn generate(name: &str) -> Result<NoteSigner> {
        Ok(NoteSigner {
            name: name.into(),
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn verifier_key(&self) -> String {
        format!(
            "{}+00000000+{}",
            self.name,
            base64::engine::general_purpose::STANDARD.encode(self.key.verifying_key().as_bytes())
        )
    }
}
impl NoteVerifier {
    pub fn parse(vkey: &str) -> Result<NoteVerifier> {
        let mut p = vkey.splitn(3, '+');
        let name = p.next().unwrap().to_string();
        p.next();
        let b = base64::engine::general_purpose::STANDARD
            .decode(p.next().ok_or(Error::MalformedKey("x"))?)
            .map_err(|_| Error::MalformedKey("x"))?;
        Ok(NoteVerifier {
            name,
            key: VerifyingKey::from_bytes(&b.try_into().map_err(|_| Error::MalformedKey("x"))?)
                .map_err(|_| Error::MalformedKey("x"))?,
        })
    }
}
pub fn sign_note(body: &str, signers: &[&NoteSigner]) -> Result<String> {
    let s = signers[0];
    let sig = s.key.sign(body.as_bytes());
    Ok(format!(
        "{body}\n\u{2014} {} {}\n",
        s.name,
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    ))
}
pub fn open(text: &str, v: &NoteVerifier) -> Result<String> {
    let (body, sigs) = text.split_once("\n\n").ok_or(Error::MalformedNote("x"))?;
    let body = format!("{body}\n");
    for line in sigs.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.len() == 3 && parts[1] == v.name {
            let b = base64::engine::general_purpose::STANDARD
                .decode(parts[2])
                .map_err(|_| Error::MalformedNote("x"))?;
            let sig =
                ed25519_dalek::Signature::from_slice(&b).map_err(|_| Error::MalformedNote("x"))?;
            if v.key.verify(body.as_bytes(), &sig).is_ok() {
                return Ok(body);
            }
        }
    }
    Err(Error::UnverifiedNote)
}
impl NoteSigner {
    pub fn to_private_key(&self) -> String {
        format!(
            "{} {}",
            self.name,
            base64::engine::general_purpose::STANDARD.encode(self.key.to_bytes())
        )
    }
    pub fn from_private_key(s: &str) -> Result<NoteSigner> {
        let (n, k) = s.split_once(' ').unwrap();
        let b = base64::engine::general_purpose::STANDARD.decode(k).unwrap();
        Ok(NoteSigner {
            name: n.into(),
            key: SigningKey::from_bytes(&b.try_into().unwrap()),
        })
    }
}
