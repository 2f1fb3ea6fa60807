//! Receipts: C2SP tlog-proof@v1 (<https://c2sp.org/tlog-proof>) inclusion proofs that
//! can be checked offline.
//!
//! What it is: the text
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional, unauthenticated)
//! index <N>
//! <base64 proof hash>       (zero or more, leaf's sibling first)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! parsed strictly, and a check that the entry is in the tree the log key signed.
//!
//! What it is not: it does not check cosigner quorums or consistency with checkpoints
//! seen before (open `checkpoint_note` with `checkpoint::open_checkpoint_with_cosigners`
//! for that), and it never trusts `extra`. In BLAKE3 logs the proof hashes are BLAKE3,
//! so only SHA-256 logs' receipts verify with C2SP tools.
//!
//! Invariants:
//! - `Receipt::parse(&r.to_text()) == Ok(r)` for every receipt `parse` accepts, and
//!   every text `parse` accepts is the `to_text` of its result.
//! - `verify` succeeds only if the log key signed the checkpoint and the proof places
//!   the entry at `index` in that checkpoint's tree.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::{open_checkpoint, parse_decimal_u64, Checkpoint};
use crate::merkle::verify_inclusion;
use crate::note::{Note, NoteVerifier};
use crate::{Error, Hash, HashAlg, Result};

/// The first line of every receipt.
pub const RECEIPT_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most proof hashes a receipt may carry: a tree of u64 size is at most 64 deep.
pub const MAX_PROOF_HASHES: usize = 64;

/// An inclusion proof for one entry, with the signed checkpoint it proves against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Opaque, unauthenticated application data (`extra` line), if any.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// RFC 9162 inclusion proof, from the leaf's sibling up to the root's child.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim (cosignatures included).
    pub checkpoint_note: String,
}

impl Receipt {
    /// A receipt without extra data.
    pub fn new(index: u64, proof: Vec<Hash>, checkpoint_note: String) -> Receipt {
        Receipt {
            extra: None,
            index,
            proof,
            checkpoint_note,
        }
    }

    /// The receipt text. Writes whatever the fields hold: a receipt whose checkpoint
    /// note is malformed, or with more than [`MAX_PROOF_HASHES`] hashes, writes a text
    /// that [`Receipt::parse`] rejects.
    pub fn to_text(&self) -> String {
        let mut text =
            String::with_capacity(64 + 45 * self.proof.len() + self.checkpoint_note.len());
        text.push_str(RECEIPT_HEADER);
        text.push('\n');
        if let Some(extra) = &self.extra {
            text.push_str("extra ");
            text.push_str(&BASE64.encode(extra));
            text.push('\n');
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            text.push_str(&hash.to_string());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint_note);
        text
    }

    /// Parses a receipt strictly, without verifying signatures or the proof.
    ///
    /// Rejects with [`Error::MalformedReceipt`]: a first line other than
    /// `c2sp.org/tlog-proof@v1`; an `extra` line whose data is not canonical standard
    /// base64; an `index` line that is not `index ` and decimal without leading zeros;
    /// a proof line that is not 32 bytes of padded standard base64; more than
    /// [`MAX_PROOF_HASHES`] proof lines; no empty line after them; and a checkpoint that
    /// is not a well-formed signed note with a well-formed checkpoint body.
    pub fn parse(text: &str) -> Result<Receipt> {
        let rest = text
            .strip_prefix(RECEIPT_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(Error::MalformedReceipt(
                "first line must be c2sp.org/tlog-proof@v1",
            ))?;
        let (mut line, mut rest) = next_line(rest)?;
        let mut extra = None;
        if let Some(extra64) = line.strip_prefix("extra ") {
            extra = Some(BASE64.decode(extra64).map_err(|_| {
                Error::MalformedReceipt("extra data is not canonical standard base64")
            })?);
            (line, rest) = next_line(rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal_u64)
            .ok_or(Error::MalformedReceipt(
                "expected index and a decimal number without leading zeros",
            ))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = next_line(rest)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(Error::MalformedReceipt("proof has more than 64 hashes"));
            }
            proof.push(Hash::parse(line).ok().ok_or(Error::MalformedReceipt(
                "proof hash must be 32 bytes in padded standard base64",
            ))?);
        }
        let note = Note::parse(rest)
            .map_err(|_| Error::MalformedReceipt("checkpoint is not a well-formed signed note"))?;
        Checkpoint::parse_body(note.body())
            .map_err(|_| Error::MalformedReceipt("checkpoint body is malformed"))?;
        Ok(Receipt {
            extra,
            index,
            proof,
            checkpoint_note: rest.to_string(),
        })
    }

    /// Checks that `entry` (the stored entry bytes) is at `index` in the tree the log
    /// key signed, and returns that checkpoint.
    ///
    /// Errors: those of [`open_checkpoint`] for the note, [`Error::ProofFailed`] for the
    /// proof (including an index not below the tree size).
    pub fn verify(&self, alg: HashAlg, entry: &[u8], log_key: &NoteVerifier) -> Result<Checkpoint> {
        self.verify_leaf_hash(alg, &alg.leaf_hash(entry), log_key)
    }

    /// As [`Receipt::verify`], given the entry's leaf hash `H(0x00 || entry)`.
    pub fn verify_leaf_hash(
        &self,
        alg: HashAlg,
        leaf_hash: &Hash,
        log_key: &NoteVerifier,
    ) -> Result<Checkpoint> {
        let (checkpoint, _) = open_checkpoint(&self.checkpoint_note, log_key)?;
        verify_inclusion(
            alg,
            self.index,
            checkpoint.size,
            leaf_hash,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }
}

/// Splits off one newline-terminated line (without its newline).
fn next_line(text: &str) -> Result<(&str, &str)> {
    text.split_once('\n').ok_or(Error::MalformedReceipt(
        "receipt ends before its checkpoint",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::sign_checkpoint;
    use crate::merkle::tests::Leaves;
    use crate::merkle::InclusionProof;
    use crate::note::tests::sign_parsed;
    use crate::note::{CosignatureSigner, NoteSigner};

    const ORIGIN: &str = "example.org/receipts";

    fn log_key() -> NoteSigner {
        NoteSigner::from_seed(ORIGIN, &[11; 32]).unwrap()
    }

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    fn receipt_for(alg: HashAlg, n: usize, index: usize) -> (Receipt, Vec<Vec<u8>>) {
        let entries = entries(n);
        // merkle's proof, checked there against a naive RFC 6962 tree.
        let leaves = Leaves(entries.iter().map(|e| alg.leaf_hash(e)).collect(), alg);
        let proof = InclusionProof::build(alg, index as u64, n as u64, None, &leaves).unwrap();
        let checkpoint = Checkpoint::new(ORIGIN, n as u64, proof.root);
        let note = sign_checkpoint(&checkpoint, &log_key()).unwrap();
        (Receipt::new(index as u64, proof.proof, note), entries)
    }

    #[test]
    fn receipts_round_trip_and_verify() {
        for alg in [HashAlg::Blake3, HashAlg::Sha256] {
            for (n, index) in [(1, 0), (2, 1), (7, 3), (8, 7), (13, 12), (300, 257)] {
                let (receipt, entries) = receipt_for(alg, n, index);
                let text = receipt.to_text();
                let parsed = Receipt::parse(&text).unwrap();
                assert_eq!(parsed, receipt);
                assert_eq!(parsed.to_text(), text);
                let checkpoint = parsed
                    .verify(alg, &entries[index], &log_key().verifier())
                    .unwrap();
                assert_eq!(checkpoint.size, n as u64);
            }
        }
    }

    #[test]
    fn the_text_has_the_spec_layout() {
        let (mut receipt, _) = receipt_for(HashAlg::Sha256, 3, 2);
        receipt.extra = Some(b"hello".to_vec());
        let text = receipt.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
        assert_eq!(lines[1], "extra aGVsbG8=");
        assert_eq!(lines[2], "index 2");
        assert_eq!(lines[3].len(), 44);
        assert_eq!(lines[4], "");
        assert_eq!(lines[5], ORIGIN);
        assert_eq!(Receipt::parse(&text).unwrap(), receipt);
        // Empty extra data is allowed and kept.
        receipt.extra = Some(Vec::new());
        assert_eq!(Receipt::parse(&receipt.to_text()).unwrap(), receipt);
    }

    #[test]
    fn corrupted_receipts_are_rejected() {
        let alg = HashAlg::Blake3;
        let (receipt, entries) = receipt_for(alg, 13, 6);
        let key = log_key().verifier();
        assert!(receipt.verify(alg, &entries[6], &key).is_ok());

        // Wrong entry, wrong index, index beyond the tree.
        assert!(matches!(
            receipt.verify(alg, &entries[5], &key),
            Err(Error::ProofFailed)
        ));
        for index in [5, 7, 13, 1 << 40] {
            let mut wrong = receipt.clone();
            wrong.index = index;
            assert!(matches!(
                wrong.verify(alg, &entries[6], &key),
                Err(Error::ProofFailed)
            ));
        }
        // Every single-bit flip in the proof.
        for h in 0..receipt.proof.len() {
            for bit in 0..256 {
                let mut flipped = receipt.clone();
                flipped.proof[h].0[bit / 8] ^= 1 << (bit % 8);
                assert!(flipped.verify(alg, &entries[6], &key).is_err());
            }
        }
        // Proof too short or too long.
        let mut short = receipt.clone();
        short.proof.pop();
        assert!(short.verify(alg, &entries[6], &key).is_err());
        let mut long = receipt.clone();
        long.proof.push(Hash([0; 32]));
        assert!(long.verify(alg, &entries[6], &key).is_err());
        // Another checkpoint: a bigger tree, signed by the same key.
        let (other, _) = receipt_for(alg, 14, 6);
        let mut swapped = receipt.clone();
        swapped.checkpoint_note = other.checkpoint_note.clone();
        assert!(matches!(
            swapped.verify(alg, &entries[6], &key),
            Err(Error::ProofFailed)
        ));
        // The wrong hash function.
        assert!(receipt.verify(HashAlg::Sha256, &entries[6], &key).is_err());
        // Another log key.
        let stranger = NoteSigner::from_seed(ORIGIN, &[12; 32]).unwrap();
        assert!(matches!(
            receipt.verify(alg, &entries[6], &stranger.verifier()),
            Err(Error::UnverifiedNote)
        ));
    }

    #[test]
    fn cosigned_checkpoints_still_verify() {
        let alg = HashAlg::Sha256;
        let (mut receipt, entries) = receipt_for(alg, 5, 4);
        let witness = CosignatureSigner::from_seed("w.example", &[13; 32]).unwrap();
        receipt.checkpoint_note =
            sign_parsed(&receipt.checkpoint_note, &[&witness.at(99)]).unwrap();
        let parsed = Receipt::parse(&receipt.to_text()).unwrap();
        assert!(parsed
            .verify(alg, &entries[4], &log_key().verifier())
            .is_ok());
    }

    #[test]
    fn malformed_texts_are_rejected() {
        let (receipt, _) = receipt_for(HashAlg::Sha256, 5, 4);
        let text = receipt.to_text();
        let note = &receipt.checkpoint_note;
        let hash = BASE64.encode(receipt.proof[0]);
        let bad = vec![
            String::new(),
            text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            text.replacen("c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1 \n", 1),
            text.replacen("c2sp.org/tlog-proof@v1\n", "C2SP.org/tlog-proof@v1\n", 1),
            text.replacen("index 4", "index 04", 1),
            text.replacen("index 4", "index +4", 1),
            text.replacen("index 4", "index  4", 1),
            text.replacen("index 4", "Index 4", 1),
            text.replacen("index 4", "index 18446744073709551616", 1),
            text.replacen("index 4\n", "", 1),
            text.replacen("index 4\n", "index 4\nindex 4\n", 1),
            text.replacen("index 4\n", "index 4\r\n", 1),
            text.replacen("\nindex", "\nextra !!\nindex", 1),
            text.replacen("\nindex", "\nextra YQ\nindex", 1),
            text.replacen("index 4\n", "index 4\nextra YQ==\n", 1),
            text.replacen(&hash, &hash[..43], 1),
            text.replacen(&hash, &format!("{hash}A"), 1),
            text.replacen(&hash, &BASE64.encode([1u8; 31]), 1),
            text.replacen(&hash, &hash.replace('+', "-").replace('/', "_"), 1),
            text.replacen(&format!("\n\n{note}"), &format!("\n{note}"), 1),
            text.replacen(&format!("\n\n{note}"), &format!("\n\n\n{note}"), 1),
            text[..text.len() - 1].to_string(),
            text[..text.len() - note.len()].to_string(),
            text[..text.len() - note.len() - 1].to_string(),
            format!("{text}\n"),
            format!("{text}junk\n"),
            text.replacen(ORIGIN, "", 1),
        ];
        for (i, bad) in bad.iter().enumerate() {
            assert!(
                matches!(Receipt::parse(bad), Err(Error::MalformedReceipt(_))),
                "case {i} accepted: {bad:?}"
            );
        }
        // 64 proof hashes parse, 65 do not.
        let mut many = receipt.clone();
        many.proof = vec![Hash([0; 32]); 64];
        assert!(Receipt::parse(&many.to_text()).is_ok());
        many.proof.push(Hash([0; 32]));
        assert!(Receipt::parse(&many.to_text()).is_err());
        // Every truncation is rejected.
        for cut in 0..text.len() {
            if text.is_char_boundary(cut) {
                assert!(Receipt::parse(&text[..cut]).is_err(), "cut at {cut}");
            }
        }
    }
}
