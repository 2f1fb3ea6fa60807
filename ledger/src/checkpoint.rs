//! STUB, replaced by the real checkpoint module.
use crate::note::NoteVerifier;
use crate::{Error, Hash, Result};
use base64::Engine;
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}
impl Checkpoint {
    pub fn to_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64::engine::general_purpose::STANDARD.encode(self.root)
        )
    }
}
pub fn open_checkpoint(text: &str, v: &NoteVerifier) -> Result<(Checkpoint, ())> {
    let body = crate::note::open(text, v)?;
    let l: Vec<&str> = body.lines().collect();
    let root = base64::engine::general_purpose::STANDARD
        .decode(l[2])
        .map_err(|_| Error::MalformedCheckpoint("x"))?;
    Ok((
        Checkpoint {
            origin: l[0].into(),
            size: l[1].parse().map_err(|_| Error::MalformedCheckpoint("x"))?,
            root: root
                .try_into()
                .map_err(|_| Error::MalformedCheckpoint("x"))?,
            extensions: vec![],
        },
        (),
    ))
}
