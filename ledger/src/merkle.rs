//! RFC 6962 / RFC 9162 §2.1 Merkle tree maths, with no IO.
//!
//! The tree over entries `D[0:n]` is the RFC's: `leaf = H(0x00 || entry)`,
//! `node = H(0x01 || left || right)`, split at the largest power of two smaller than
//! `n`, and the empty tree's root is `H("")`.
//!
//! Proof *building* reads stored hashes through [`HashReader`], which only ever has to
//! answer for complete, aligned subtrees ([`Node`]); how those are stored (files, tiles,
//! memory) is the caller's business. Proof *checking* needs no reader at all: it is a
//! pure function of the proof, the sizes and the roots. Any proof that does not check is
//! [`Error::ProofFailed`], whatever was wrong with it.

use serde::{Deserialize, Serialize};

use crate::{Error, Hash, HashAlg, Result};

/// A complete subtree aligned to its size: it covers the leaves
/// `[index << level, (index + 1) << level)`. Level 0 nodes are leaf hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u8,
    pub index: u64,
}

impl Node {
    pub fn new(level: u8, index: u64) -> Node {
        Node { level, index }
    }

    /// First leaf covered.
    pub fn start(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf covered.
    pub fn end(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// Read access to the hashes of complete subtrees of one tree.
///
/// Contract: `read_hashes(nodes)` returns exactly `nodes.len()` hashes, the `i`th being
/// the hash of `nodes[i]`. Every node asked for lies inside the tree size the caller was
/// given, so an implementation may reject (with an error) anything beyond what it holds.
pub trait HashReader {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>>;

    /// The hash of the leaf range `[start, end)`, a range of more than one [`Node`], if
    /// the reader kept it from [`HashReader::remember_range`]. The tree only grows, so
    /// a kept hash never goes stale. By default nothing is kept.
    fn remembered_range(&self, _start: u64, _end: u64) -> Option<Hash> {
        None
    }

    /// Offers the hash of a range that took more than one node to build: every proof at
    /// one tree size folds the same ranges along the tree's right edge.
    fn remember_range(&self, _start: u64, _end: u64, _hash: Hash) {}
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Decomposes the leaf range `[start, end)` into complete aligned subtrees, left to
/// right, largest first, appending them to `out`.
///
/// For the ranges that RFC 6962's recursion produces (a range whose start is a multiple
/// of the largest power of two not exceeding its length), the range's Merkle hash is the
/// right-to-left fold of these nodes.
pub fn range_nodes(start: u64, end: u64, out: &mut Vec<Node>) {
    let mut at = start;
    while at < end {
        // The largest aligned block starting at `at` that fits before `end`.
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let fit = 63 - (end - at).leading_zeros();
        let level = align.min(fit);
        out.push(Node::new(level as u8, at >> level));
        at += 1u64 << level;
    }
}

/// Hash of a range from the hashes of its [`range_nodes`], folded right to left.
fn fold_range(alg: HashAlg, hashes: &[Hash]) -> Hash {
    let (last, rest) = hashes.split_last().expect("a range has at least one node");
    rest.iter()
        .rev()
        .fold(*last, |right, left| alg.node_hash(left, &right))
}

/// Reads the hashes of several ranges with one call to `reader` and folds each; a
/// range of several nodes the reader remembers is not read again.
fn range_hashes(alg: HashAlg, ranges: &[(u64, u64)], reader: &dyn HashReader) -> Result<Vec<Hash>> {
    let mut nodes = Vec::new();
    // Per range: its remembered hash, or how many of `nodes` fold into it.
    let mut plan = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges {
        let before = nodes.len();
        range_nodes(start, end, &mut nodes);
        let count = nodes.len() - before;
        let remembered = (count > 1)
            .then(|| reader.remembered_range(start, end))
            .flatten();
        match remembered {
            Some(hash) => {
                nodes.truncate(before);
                plan.push(Ok(hash));
            }
            None => plan.push(Err(count)),
        }
    }
    let hashes = reader.read_hashes(&nodes)?;
    if hashes.len() != nodes.len() {
        return Err(Error::Corrupt(format!(
            "hash reader returned {} hashes for {} nodes",
            hashes.len(),
            nodes.len()
        )));
    }
    let mut at = 0;
    Ok(plan
        .into_iter()
        .zip(ranges)
        .map(|(step, &(start, end))| match step {
            Ok(hash) => hash,
            Err(count) => {
                let hash = fold_range(alg, &hashes[at..at + count]);
                at += count;
                if count > 1 {
                    reader.remember_range(start, end, hash);
                }
                hash
            }
        })
        .collect())
}

/// The root of the tree of size `size`. Reads at most 64 stored hashes.
pub fn tree_hash(alg: HashAlg, size: u64, reader: &dyn HashReader) -> Result<Hash> {
    if size == 0 {
        return Ok(alg.empty_root());
    }
    Ok(range_hashes(alg, &[(0, size)], reader)?[0])
}

/// An inclusion proof with everything it connects: the leaf hash at `index`, the
/// audit path, and the root of the tree of size `tree_size`. As JSON (any
/// human-readable format) the hashes are base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    pub leaf_hash: Hash,
    pub root: Hash,
    /// RFC 9162 §2.1.3 audit path, leaf upwards.
    pub proof: Vec<Hash>,
}

impl InclusionProof {
    /// Builds the RFC 9162 §2.1.3.1 proof of leaf `index` in the tree of size
    /// `tree_size` (`index < tree_size`, else [`Error::IndexOutOfRange`]) with one
    /// `read_hashes` call for the leaf, the path and (unless `root` is given) the root:
    /// at most about `3 * log2(tree_size)` nodes.
    pub fn build(
        alg: HashAlg,
        index: u64,
        tree_size: u64,
        root: Option<Hash>,
        reader: &dyn HashReader,
    ) -> Result<InclusionProof> {
        if index >= tree_size {
            return Err(Error::IndexOutOfRange {
                index,
                size: tree_size,
            });
        }
        let mut ranges = Vec::new();
        inclusion_ranges(index, 0, tree_size, &mut ranges);
        let path_len = ranges.len();
        ranges.push((index, index + 1));
        if root.is_none() {
            ranges.push((0, tree_size));
        }
        let mut hashes = range_hashes(alg, &ranges, reader)?;
        let root = match root {
            Some(root) => root,
            None => hashes.pop().expect("the root was asked for"),
        };
        let leaf_hash = hashes.pop().expect("the leaf was asked for");
        debug_assert_eq!(hashes.len(), path_len);
        Ok(InclusionProof {
            index,
            tree_size,
            leaf_hash,
            root,
            proof: hashes,
        })
    }

    /// The JSON its `Serialize` gives (`serde_json::to_vec`), byte for byte, written
    /// directly. Inclusion proofs are the API's most frequent computed answer, and
    /// serde_json would scan every base64 character for escapes: a third of the cost
    /// of an answer. A test holds the two equal.
    pub fn to_json(&self) -> Vec<u8> {
        use std::io::Write as _;
        let hash_len = Hash::BASE64_LEN + 3;
        let mut out = Vec::with_capacity(80 + hash_len * (self.proof.len() + 2));
        let push_hash = |out: &mut Vec<u8>, hash: &Hash| {
            out.push(b'"');
            out.extend_from_slice(hash.encode(&mut [0; Hash::BASE64_LEN]).as_bytes());
            out.push(b'"');
        };
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            r#"{{"index":{},"tree_size":{},"leaf_hash":"#,
            self.index, self.tree_size
        );
        push_hash(&mut out, &self.leaf_hash);
        out.extend_from_slice(br#","root":"#);
        push_hash(&mut out, &self.root);
        out.extend_from_slice(br#","proof":["#);
        for (at, hash) in self.proof.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            push_hash(&mut out, hash);
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// Checks that the path connects the leaf hash to the root it carries
    /// ([`verify_inclusion`]). That says nothing until the root is known to be the
    /// log's: compare it with a checkpoint whose signature you checked.
    pub fn verify(&self, alg: HashAlg) -> Result<()> {
        verify_inclusion(
            alg,
            self.index,
            self.tree_size,
            &self.leaf_hash,
            &self.proof,
            &self.root,
        )
    }
}

/// A consistency proof with the two roots it connects. As JSON the hashes are base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: Hash,
    pub to_root: Hash,
    /// RFC 9162 §2.1.4 proof; empty when `from == to`.
    pub proof: Vec<Hash>,
}

impl ConsistencyProof {
    /// Builds the RFC 9162 §2.1.4.1 proof between the trees of sizes `from` and `to`
    /// (`0 < from <= to`, else [`Error::BadRange`]: nothing can be proved about the empty
    /// tree, see [`verify_consistency`]) with one `read_hashes` call for both roots
    /// (unless `to_root` is given) and the proof: at most about `3 * log2(to)` nodes.
    pub fn build(
        alg: HashAlg,
        from: u64,
        to: u64,
        to_root: Option<Hash>,
        reader: &dyn HashReader,
    ) -> Result<ConsistencyProof> {
        if from == 0 || from > to {
            return Err(Error::BadRange { from, to });
        }
        let mut ranges = Vec::new();
        if from < to {
            consistency_ranges(from, 0, to, true, &mut ranges);
        }
        ranges.push((0, from));
        if to_root.is_none() {
            ranges.push((0, to));
        }
        let mut hashes = range_hashes(alg, &ranges, reader)?;
        let to_root = match to_root {
            Some(root) => root,
            None => hashes.pop().expect("the new root was asked for"),
        };
        let from_root = hashes.pop().expect("the old root was asked for");
        Ok(ConsistencyProof {
            from,
            to,
            from_root,
            to_root,
            proof: hashes,
        })
    }

    /// Checks that the proof connects the two roots it carries
    /// ([`verify_consistency`]). That says nothing until both roots are known to be the
    /// log's: compare them with checkpoints whose signatures you checked.
    pub fn verify(&self, alg: HashAlg) -> Result<()> {
        verify_consistency(
            alg,
            self.from,
            self.to,
            &self.from_root,
            &self.to_root,
            &self.proof,
        )
    }
}

/// The ranges whose hashes make up PATH(index, D[start:end]), leaf upwards.
fn inclusion_ranges(index: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    if end - start <= 1 {
        return;
    }
    let mid = start + split_point(end - start);
    if index < mid {
        inclusion_ranges(index, start, mid, out);
        out.push((mid, end));
    } else {
        inclusion_ranges(index, mid, end, out);
        out.push((start, mid));
    }
}

/// Checks an RFC 9162 §2.1.3.2 inclusion proof: that `leaf` is the leaf hash at
/// `index` of the tree of size `size` whose root is `root`.
///
/// Pure; costs `proof.len()` node hashes. Any failure is [`Error::ProofFailed`].
pub fn verify_inclusion(
    alg: HashAlg,
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    if index >= size {
        return Err(Error::ProofFailed);
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut hash = *leaf;
    for sibling in proof {
        if snode == 0 {
            return Err(Error::ProofFailed);
        }
        if fnode & 1 == 1 || fnode == snode {
            hash = alg.node_hash(sibling, &hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hash = alg.node_hash(&hash, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode == 0 && hash == *root {
        Ok(())
    } else {
        Err(Error::ProofFailed)
    }
}

/// The ranges whose hashes make up SUBPROOF(m, D[start:end], whole_old_tree).
fn consistency_ranges(
    m: u64,
    start: u64,
    end: u64,
    whole_old_tree: bool,
    out: &mut Vec<(u64, u64)>,
) {
    let n = end - start;
    if m == n {
        if !whole_old_tree {
            out.push((start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        consistency_ranges(m, start, start + k, whole_old_tree, out);
        out.push((start + k, end));
    } else {
        consistency_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// Checks an RFC 9162 §2.1.4.2 consistency proof: that the tree of size `from` with
/// root `from_root` is a prefix of the tree of size `to` with root `to_root`.
///
/// Conventions for the degenerate cases (those of transparency-dev/merkle): equal
/// non-zero sizes need an empty proof and equal roots; `from == 0` is always rejected,
/// since every tree extends the empty one and such a "proof" would prove nothing. Pure;
/// costs at most `2 * proof.len()` node hashes. Any failure is [`Error::ProofFailed`].
pub fn verify_consistency(
    alg: HashAlg,
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    let ok = match (from, to) {
        (0, _) => false,
        (from, to) if from > to => false,
        (from, to) if from == to => proof.is_empty() && from_root == to_root,
        _ => check_consistency_path(alg, from, to, from_root, to_root, proof),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::ProofFailed)
    }
}

fn check_consistency_path(
    alg: HashAlg,
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> bool {
    // When the old tree is a complete subtree of the new one, its root is the implicit
    // first element of the path.
    let mut path = proof.iter();
    let seed = if from.is_power_of_two() {
        from_root
    } else {
        match path.next() {
            Some(first) => first,
            None => return false,
        }
    };
    if proof.is_empty() {
        return false;
    }
    let mut fnode = from - 1;
    let mut snode = to - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut old = *seed;
    let mut new = *seed;
    for sibling in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            old = alg.node_hash(sibling, &old);
            new = alg.node_hash(sibling, &new);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            new = alg.node_hash(&new, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && old == *from_root && new == *to_root
}

/// The right edge of a growing tree: the roots of its complete subtrees, largest first.
///
/// Appending a leaf costs amortised one node hash; the root costs at most 63. The
/// writer keeps one of these so a new checkpoint never reads the stored tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Complete subtrees covering `[0, size)`, as (level, hash), levels decreasing.
    nodes: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The frontier of the tree of size `size`, read through `reader`.
    pub fn load(size: u64, reader: &dyn HashReader) -> Result<Frontier> {
        let mut nodes = Vec::new();
        range_nodes(0, size, &mut nodes);
        let hashes = reader.read_hashes(&nodes)?;
        Ok(Frontier {
            size,
            nodes: nodes.iter().map(|n| n.level).zip(hashes).collect(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the complete subtrees covering `[0, size)`, as (level, hash),
    /// largest first: what [`Frontier::from_edge`] takes back.
    pub fn edge(&self) -> &[(u8, Hash)] {
        &self.nodes
    }

    /// The frontier of a tree of size `size` whose complete subtrees are `edge` (as
    /// [`Frontier::edge`] gives them). Refused unless the levels are those of `size`:
    /// one subtree per set bit, largest first.
    pub fn from_edge(size: u64, edge: Vec<(u8, Hash)>) -> Result<Frontier> {
        let levels: Vec<u8> = (0..64u8).rev().filter(|&b| size >> b & 1 == 1).collect();
        if edge.iter().map(|(level, _)| *level).ne(levels) {
            return Err(Error::Corrupt(
                "a frontier's subtrees are not those of its size".into(),
            ));
        }
        Ok(Frontier { size, nodes: edge })
    }

    /// Appends one leaf hash and calls `completed(node, hash)` for every subtree this
    /// leaf completes (the leaf itself first, then each larger one).
    pub fn push(&mut self, alg: HashAlg, leaf: Hash, mut completed: impl FnMut(Node, &Hash)) {
        let index = self.size;
        let mut level = 0u8;
        let mut hash = leaf;
        completed(Node::new(0, index), &hash);
        while let Some(&(top_level, top_hash)) = self.nodes.last() {
            if top_level != level {
                break;
            }
            self.nodes.pop();
            hash = alg.node_hash(&top_hash, &hash);
            level += 1;
            completed(Node::new(level, index >> level), &hash);
        }
        self.nodes.push((level, hash));
        self.size += 1;
    }

    /// The root of the tree so far.
    pub fn root(&self, alg: HashAlg) -> Hash {
        match self.nodes.split_last() {
            None => alg.empty_root(),
            Some((&(_, last), rest)) => rest
                .iter()
                .rev()
                .fold(last, |right, (_, left)| alg.node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tree of leaf hashes that answers for any node with [`naive_root`] (also for
    /// the receipt tests).
    pub(crate) struct Leaves(pub Vec<Hash>, pub HashAlg);

    impl HashReader for Leaves {
        fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>> {
            Ok(nodes
                .iter()
                .map(|n| naive_root(self.1, &self.0[n.start() as usize..n.end() as usize]))
                .collect())
        }
    }

    fn naive_root(alg: HashAlg, leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => alg.empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                alg.node_hash(
                    &naive_root(alg, &leaves[..k]),
                    &naive_root(alg, &leaves[k..]),
                )
            }
        }
    }

    fn leaves(alg: HashAlg, n: u64) -> Leaves {
        Leaves(
            (0..n).map(|i| alg.leaf_hash(&i.to_le_bytes())).collect(),
            alg,
        )
    }

    #[test]
    fn range_nodes_cover_exactly() {
        for start in 0..40u64 {
            for end in start..80u64 {
                let mut nodes = Vec::new();
                range_nodes(start, end, &mut nodes);
                let mut at = start;
                for n in nodes {
                    assert_eq!(n.start(), at);
                    at = n.end();
                }
                assert_eq!(at, end);
            }
        }
    }

    #[test]
    fn frontier_matches_naive_root_and_reports_completed_nodes() {
        let alg = HashAlg::Blake3;
        let tree = leaves(alg, 70);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(alg), alg.empty_root());
        for (i, leaf) in tree.0.iter().enumerate() {
            frontier.push(alg, *leaf, |node, hash| {
                assert_eq!(*hash, tree.read_hashes(&[node]).unwrap()[0]);
            });
            let size = i as u64 + 1;
            assert_eq!(
                frontier.root(alg),
                naive_root(alg, &tree.0[..size as usize])
            );
            assert_eq!(frontier, Frontier::load(size, &tree).unwrap());
            assert_eq!(tree_hash(alg, size, &tree).unwrap(), frontier.root(alg));
        }
    }

    #[test]
    fn inclusion_proof_json_is_what_serde_writes() {
        let alg = HashAlg::Sha256;
        let tree = leaves(alg, 33);
        for (index, size) in [(0, 1), (0, 2), (5, 33), (32, 33), (u64::MAX - 1, u64::MAX)] {
            let proof = if size <= 33 {
                InclusionProof::build(alg, index, size, None, &tree).unwrap()
            } else {
                InclusionProof {
                    index,
                    tree_size: size,
                    leaf_hash: Hash([0xff; 32]),
                    root: Hash([0x3e; 32]),
                    proof: vec![Hash([0xfb; 32]); 63],
                }
            };
            assert_eq!(
                String::from_utf8(proof.to_json()).unwrap(),
                serde_json::to_string(&proof).unwrap()
            );
        }
    }

    #[test]
    fn proofs_round_trip_small_trees() {
        let alg = HashAlg::Sha256;
        let tree = leaves(alg, 33);
        for size in 1..=33u64 {
            let root = tree_hash(alg, size, &tree).unwrap();
            for index in 0..size {
                let proof = InclusionProof::build(alg, index, size, None, &tree)
                    .unwrap()
                    .proof;
                verify_inclusion(alg, index, size, &tree.0[index as usize], &proof, &root).unwrap();
            }
            for from in 1..=size {
                let old = tree_hash(alg, from, &tree).unwrap();
                let proof = ConsistencyProof::build(alg, from, size, None, &tree)
                    .unwrap()
                    .proof;
                verify_consistency(alg, from, size, &old, &root, &proof).unwrap();
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let alg = HashAlg::Blake3;
        let tree = leaves(alg, 4);
        assert!(matches!(
            InclusionProof::build(alg, 4, 4, None, &tree),
            Err(Error::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            ConsistencyProof::build(alg, 5, 4, None, &tree),
            Err(Error::BadRange { .. })
        ));
        let h = Hash([0u8; 32]);
        assert!(verify_inclusion(alg, 0, 0, &h, &[], &h).is_err());
        assert!(verify_inclusion(alg, u64::MAX, u64::MAX, &h, &[h; 70], &h).is_err());
        assert!(verify_consistency(alg, u64::MAX - 1, u64::MAX, &h, &h, &[h; 70]).is_err());
    }
}
