//! On-disk formats: the framed log entry, the metadata file and the
//! mirrored openraft types archived with rkyv.
//!
//! # Segment file
//! A 16-byte file header (magic `RKVRSEG1`, format version `u32`, reserved
//! `u32`), then frames at 8-byte-aligned offsets:
//!
//! ```text
//! len: u32 LE | crc32c: u32 LE | header: 64 B (rkyv FrameHeader) | body (rkyv EntryBody) | zero pad to 8
//! ```
//! `len` counts header, body and pad; the CRC-32C (Castagnoli) covers the
//! same bytes. The header holds index, term, the chain hash and the body
//! length, and is read through validated zero-copy access (`rkyv::access`).
//!
//! # Hash chain
//! `hash(i) = blake3(hash(i-1) || index_le || term_le || body)` with an
//! all-zero genesis, as in Aspen's log store (design note 000).

use openraft::{Entry, EntryPayload, LogId, Membership, RaftTypeConfig};
use rkyv::rancor;
use rkyv::util::AlignedVec;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};

/// A chain hash (blake3, 32 bytes).
pub type Hash = [u8; 32];

/// The hash before the first entry ever written.
pub const GENESIS: Hash = [0u8; 32];

/// Segment file magic.
pub(crate) const SEG_MAGIC: &[u8; 8] = b"RKVRSEG1";
/// Segment and metadata format version.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes of the segment file header.
pub(crate) const SEG_HEADER: u64 = 16;
/// Bytes of a frame's length + CRC prefix.
pub(crate) const FRAME_PREFIX: usize = 8;
/// Bytes of the archived frame header.
pub(crate) const HEADER_LEN: usize = 64;
/// Largest body accepted from disk (64 MiB); larger length fields are damage.
pub(crate) const MAX_BODY: usize = 64 << 20;

/// Encoding of application payloads (commands, node descriptions) stored
/// inside log entries and snapshots.
///
/// The encoding must be deterministic: the hash chain covers its bytes.
pub trait PayloadCodec: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes a value encoded by [`PayloadCodec::encode`].
    ///
    /// # Errors
    /// [`Error::Decode`] if `bytes` is not a valid encoding.
    fn decode(bytes: &[u8]) -> Result<Self>;
}

impl PayloadCodec for () {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_bytes: &[u8]) -> Result<Self> {
        Ok(())
    }
}

impl PayloadCodec for openraft::EmptyNode {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_bytes: &[u8]) -> Result<Self> {
        Ok(openraft::EmptyNode {})
    }
}

impl PayloadCodec for openraft::BasicNode {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.addr.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self> {
        let addr =
            std::str::from_utf8(bytes).map_err(|e| Error::Decode(format!("node address: {e}")))?;
        Ok(openraft::BasicNode {
            addr: addr.to_string(),
        })
    }
}

/// The fixed-size header of a log frame (64 bytes archived).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub index: u64,
    pub term: u64,
    /// The leader node of the log id (also inside the body, which the hash covers).
    pub node: u64,
    pub hash: Hash,
    pub body_len: u32,
    pub reserved: [u8; 4],
}

const _: () = assert!(std::mem::size_of::<ArchivedFrameHeader>() == HEADER_LEN);

/// A log id without openraft's types: (term, leader node, index).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogIdRec {
    /// Term of the leader that proposed the entry.
    pub term: u64,
    /// Node id of that leader.
    pub node: u64,
    /// Log index.
    pub index: u64,
}

impl LogIdRec {
    /// From openraft's log id.
    pub fn from_log_id(id: &LogId<u64>) -> Self {
        LogIdRec {
            term: id.leader_id.term,
            node: id.leader_id.node_id,
            index: id.index,
        }
    }
    /// To openraft's log id.
    pub fn to_log_id(self) -> LogId<u64> {
        LogId::new(
            openraft::CommittedLeaderId::new(self.term, self.node),
            self.index,
        )
    }
}

/// Mirror of openraft's `Membership`: joint configs and node descriptions.
#[derive(
    rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, Default, PartialEq, Eq,
)]
pub(crate) struct MembershipRec {
    pub configs: Vec<Vec<u64>>,
    pub nodes: Vec<NodeRec>,
}

/// One node of a membership: id and the encoded node description.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRec {
    pub id: u64,
    pub data: Vec<u8>,
}

/// Mirror of openraft's `EntryPayload`.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug)]
pub(crate) enum PayloadRec {
    Blank,
    Normal(Vec<u8>),
    Membership(MembershipRec),
}

/// The archived body of a log entry (the bytes the chain hash covers, after
/// index and term).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug)]
pub(crate) struct EntryBody {
    pub leader_node: u64,
    pub payload: PayloadRec,
}

impl MembershipRec {
    pub(crate) fn from_membership<N: PayloadCodec + openraft::Node>(
        m: &Membership<u64, N>,
    ) -> Self {
        let configs = m
            .get_joint_config()
            .iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let nodes = m
            .nodes()
            .map(|(id, n)| {
                let mut data = Vec::new();
                n.encode(&mut data);
                NodeRec { id: *id, data }
            })
            .collect();
        MembershipRec { configs, nodes }
    }
}

/// Rebuilds a membership from its archived mirror.
pub(crate) fn membership_from_archived<N>(m: &ArchivedMembershipRec) -> Result<Membership<u64, N>>
where
    N: PayloadCodec + openraft::Node,
{
    let configs: Vec<BTreeSet<u64>> = m
        .configs
        .iter()
        .map(|c| c.iter().map(|x| x.to_native()).collect())
        .collect();
    let mut nodes = BTreeMap::new();
    for n in m.nodes.iter() {
        nodes.insert(n.id.to_native(), N::decode(n.data.as_slice())?);
    }
    Ok(Membership::new(configs, nodes))
}

/// Reusable buffers that archive entry bodies without allocating per entry
/// (the payload buffer and the archive buffer keep their capacity).
#[derive(Debug, Default)]
pub(crate) struct BodyEncoder {
    payload: Vec<u8>,
    out: Option<AlignedVec>,
}

impl BodyEncoder {
    /// Archives `entry`'s body (the bytes the chain hash covers after index
    /// and term) and returns them; valid until the next call.
    pub(crate) fn encode<C>(&mut self, entry: &Entry<C>) -> Result<&[u8]>
    where
        C: RaftTypeConfig<NodeId = u64>,
        C::D: PayloadCodec,
        C::Node: PayloadCodec,
    {
        let payload = match &entry.payload {
            EntryPayload::Blank => PayloadRec::Blank,
            EntryPayload::Normal(d) => {
                let mut v = std::mem::take(&mut self.payload);
                v.clear();
                d.encode(&mut v);
                PayloadRec::Normal(v)
            }
            EntryPayload::Membership(m) => {
                PayloadRec::Membership(MembershipRec::from_membership(m))
            }
        };
        let body = EntryBody {
            leader_node: entry.log_id.leader_id.node_id,
            payload,
        };
        let mut out = self.out.take().unwrap_or_default();
        out.clear();
        let res = rkyv::api::high::to_bytes_in::<_, rancor::Error>(&body, out);
        if let PayloadRec::Normal(v) = body.payload {
            self.payload = v;
        }
        let out = res.map_err(|e| Error::Decode(format!("archive entry: {e}")))?;
        Ok(self.out.insert(out).as_slice())
    }
}

/// Decodes an entry from its header fields and validated body bytes.
pub(crate) fn decode_entry<C>(index: u64, term: u64, body: &[u8]) -> Result<Entry<C>>
where
    C: RaftTypeConfig<NodeId = u64, Entry = Entry<C>>,
    C::D: PayloadCodec,
    C::Node: PayloadCodec,
{
    let b = rkyv::access::<ArchivedEntryBody, rancor::Error>(body)
        .map_err(|e| Error::Decode(format!("entry {index}: {e}")))?;
    let payload = match &b.payload {
        ArchivedPayloadRec::Blank => EntryPayload::Blank,
        ArchivedPayloadRec::Normal(v) => EntryPayload::Normal(C::D::decode(v.as_slice())?),
        ArchivedPayloadRec::Membership(m) => EntryPayload::Membership(membership_from_archived(m)?),
    };
    let log_id = LogIdRec {
        term,
        node: b.leader_node.to_native(),
        index,
    }
    .to_log_id();
    Ok(Entry { log_id, payload })
}

/// `blake3(prev || index_le || term_le || body)`.
pub fn chain_hash(prev: &Hash, index: u64, term: u64, body: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&index.to_le_bytes());
    h.update(&term.to_le_bytes());
    h.update(body);
    *h.finalize().as_bytes()
}

/// Padding that brings `n` to a multiple of 8.
pub(crate) fn pad8(n: usize) -> usize {
    (8 - n % 8) % 8
}

/// Appends one frame (prefix, header, body, pad) to `out`, whose length must
/// be a multiple of 8 (so the header lands 8-aligned in the file).
pub(crate) fn push_frame(out: &mut Vec<u8>, id: LogIdRec, hash: Hash, body: &[u8]) -> Result<()> {
    let LogIdRec { term, node, index } = id;
    debug_assert_eq!(out.len() % 8, 0);
    let body_len = u32::try_from(body.len())
        .ok()
        .filter(|&l| (l as usize) <= MAX_BODY)
        .ok_or_else(|| {
            Error::InvalidRequest(format!("entry {index} is larger than {MAX_BODY} bytes"))
        })?;
    let header = FrameHeader {
        index,
        term,
        node,
        hash,
        body_len,
        reserved: [0; 4],
    };
    let pad = pad8(body.len());
    let len = (HEADER_LEN + body.len() + pad) as u32;
    let start = out.len();
    out.reserve(FRAME_PREFIX + len as usize);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    // Archived in place: `out` is at an 8-aligned position, so the header
    // needs no padding and is the same 64 bytes as a standalone archive.
    let buf = std::mem::take(out);
    *out = rkyv::api::high::to_bytes_in::<_, rancor::Error>(&header, buf)
        .map_err(|e| Error::Decode(format!("archive header: {e}")))?;
    if out.len() != start + FRAME_PREFIX + HEADER_LEN {
        return Err(Error::Decode(format!(
            "archived frame header of {} bytes",
            out.len() - start - FRAME_PREFIX
        )));
    }
    out.extend_from_slice(body);
    out.extend_from_slice(&[0u8; 8][..pad]);
    let crc = crc32c::crc32c(&out[start + FRAME_PREFIX..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The result of parsing one frame from a buffer.
pub(crate) enum Frame<'a> {
    /// A whole frame whose checksum holds.
    Ok {
        header: &'a ArchivedFrameHeader,
        body: &'a [u8],
        /// Offset just past the frame.
        next: usize,
    },
    /// The buffer ends inside the frame (or the length field is zero): a
    /// torn tail if this is the end of the log.
    Incomplete(String),
    /// A whole frame is there but damaged.
    Bad(String),
}

/// Parses the frame at `off` of `buf` (`buf` 8-aligned in memory, `off` a
/// multiple of 8). Never panics; never allocates from the length field.
pub(crate) fn parse_frame(buf: &[u8], off: usize) -> Frame<'_> {
    let rest = buf.len().saturating_sub(off);
    if rest < FRAME_PREFIX {
        return Frame::Incomplete(format!(
            "{rest} bytes left, a frame prefix needs {FRAME_PREFIX}"
        ));
    }
    let len = u32::from_le_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
    let crc = u32::from_le_bytes([buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7]]);
    if len == 0 {
        return Frame::Incomplete("zero frame length".into());
    }
    if !(HEADER_LEN..=HEADER_LEN + MAX_BODY + 8).contains(&len) || !len.is_multiple_of(8) {
        return Frame::Bad(format!("frame length {len} out of range"));
    }
    if len > rest - FRAME_PREFIX {
        return Frame::Incomplete(format!(
            "frame of {len} bytes, {} left",
            rest - FRAME_PREFIX
        ));
    }
    let start = off + FRAME_PREFIX;
    let payload = &buf[start..start + len];
    let actual = crc32c::crc32c(payload);
    if actual != crc {
        return Frame::Bad(format!(
            "checksum mismatch: stored {crc:#010x}, computed {actual:#010x}"
        ));
    }
    let header = match rkyv::access::<ArchivedFrameHeader, rancor::Error>(&payload[..HEADER_LEN]) {
        Ok(h) => h,
        Err(e) => return Frame::Bad(format!("frame header: {e}")),
    };
    let body_len = header.body_len.to_native() as usize;
    if HEADER_LEN + body_len + pad8(body_len) != len {
        return Frame::Bad(format!(
            "body length {body_len} does not match frame length {len}"
        ));
    }
    Frame::Ok {
        header,
        body: &payload[HEADER_LEN..HEADER_LEN + body_len],
        next: start + len,
    }
}

/// Writes the 16-byte segment file header.
pub(crate) fn segment_header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(SEG_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// The vote as stored: term, node, committed flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteRec {
    /// Term voted in.
    pub term: u64,
    /// Node voted for.
    pub node: u64,
    /// Whether a quorum granted it.
    pub committed: bool,
}

/// Contents of the metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Last saved vote.
    pub vote: Option<VoteRec>,
    /// Last saved committed log id.
    pub committed: Option<LogIdRec>,
    /// Last purged log id (inclusive).
    pub purged: Option<LogIdRec>,
    /// Chain hash of the entry just before the first one kept (the purged
    /// entry's hash, or [`GENESIS`]).
    pub base_hash: Hash,
    /// A truncation that was decided but may not be applied to the segments
    /// yet: entries at and after this index are gone.
    pub pending_truncate: Option<u64>,
}

/// Metadata file magic.
pub(crate) const META_MAGIC: &[u8; 8] = b"RKVRMETA";
/// Bytes of the metadata file.
pub(crate) const META_LEN: usize = 160;

fn put_logid(b: &mut [u8], at: usize, id: Option<LogIdRec>) {
    if let Some(id) = id {
        b[at] = 1;
        b[at + 8..at + 16].copy_from_slice(&id.term.to_le_bytes());
        b[at + 16..at + 24].copy_from_slice(&id.node.to_le_bytes());
        b[at + 24..at + 32].copy_from_slice(&id.index.to_le_bytes());
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn get_logid(b: &[u8], at: usize) -> std::result::Result<Option<LogIdRec>, String> {
    match b[at] {
        0 => Ok(None),
        1 => Ok(Some(LogIdRec {
            term: u64_at(b, at + 8),
            node: u64_at(b, at + 16),
            index: u64_at(b, at + 24),
        })),
        x => Err(format!("bad presence byte {x} at offset {at}")),
    }
}

impl Meta {
    /// Encodes the metadata file: magic, version, fields, CRC-32C.
    pub(crate) fn encode(&self) -> [u8; META_LEN] {
        let mut b = [0u8; META_LEN];
        b[..8].copy_from_slice(META_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        if let Some(v) = self.vote {
            b[16] = 1;
            b[17] = v.committed as u8;
            b[24..32].copy_from_slice(&v.term.to_le_bytes());
            b[32..40].copy_from_slice(&v.node.to_le_bytes());
        }
        put_logid(&mut b, 40, self.committed);
        put_logid(&mut b, 72, self.purged);
        b[104..136].copy_from_slice(&self.base_hash);
        if let Some(t) = self.pending_truncate {
            b[136] = 1;
            b[144..152].copy_from_slice(&t.to_le_bytes());
        }
        let crc = crc32c::crc32c(&b[..152]);
        b[152..156].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the metadata file; `Err` names what is wrong and where.
    pub(crate) fn decode(b: &[u8]) -> std::result::Result<Self, (u64, String)> {
        if b.len() != META_LEN {
            return Err((0, format!("length {} (want {META_LEN})", b.len())));
        }
        if &b[..8] != META_MAGIC {
            return Err((0, "bad magic".into()));
        }
        let crc = u32::from_le_bytes([b[152], b[153], b[154], b[155]]);
        if crc32c::crc32c(&b[..152]) != crc {
            return Err((152, "checksum mismatch".into()));
        }
        if b[156..] != [0u8; 4] {
            return Err((156, "reserved bytes not zero".into()));
        }
        let ver = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if ver != FORMAT_VERSION {
            return Err((8, format!("unknown format version {ver}")));
        }
        let vote = match (b[16], b[17]) {
            (0, _) => None,
            (1, c @ (0 | 1)) => Some(VoteRec {
                term: u64_at(b, 24),
                node: u64_at(b, 32),
                committed: c == 1,
            }),
            _ => return Err((16, "bad vote flags".into())),
        };
        let committed = get_logid(b, 40).map_err(|e| (40, e))?;
        let purged = get_logid(b, 72).map_err(|e| (72, e))?;
        let mut base_hash = [0u8; 32];
        base_hash.copy_from_slice(&b[104..136]);
        let pending_truncate = match b[136] {
            0 => None,
            1 => Some(u64_at(b, 144)),
            _ => return Err((136, "bad truncate flag".into())),
        };
        Ok(Meta {
            vote,
            committed,
            purged,
            base_hash,
            pending_truncate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_roundtrip_and_checksum() {
        let m = Meta {
            vote: Some(VoteRec {
                term: 3,
                node: 2,
                committed: true,
            }),
            committed: Some(LogIdRec {
                term: 3,
                node: 2,
                index: 10,
            }),
            purged: Some(LogIdRec {
                term: 1,
                node: 1,
                index: 4,
            }),
            base_hash: [7; 32],
            pending_truncate: Some(9),
        };
        let mut b = m.encode();
        assert_eq!(Meta::decode(&b).unwrap(), m);
        b[30] ^= 1;
        assert!(Meta::decode(&b).is_err());
    }

    #[test]
    fn frame_roundtrip_and_damage() {
        let mut buf = AlignedVec::<16>::new();
        let mut v = Vec::new();
        push_frame(
            &mut v,
            LogIdRec {
                term: 2,
                node: 1,
                index: 5,
            },
            [1; 32],
            b"hello",
        )
        .unwrap();
        buf.extend_from_slice(&v);
        match parse_frame(&buf, 0) {
            Frame::Ok { header, body, next } => {
                assert_eq!(header.index.to_native(), 5);
                assert_eq!(header.term.to_native(), 2);
                assert_eq!(body, b"hello");
                assert_eq!(next, v.len());
            }
            _ => panic!("frame should parse"),
        }
        for i in 0..v.len() {
            let mut b2 = AlignedVec::<16>::new();
            b2.extend_from_slice(&v);
            b2[i] ^= 0x10;
            assert!(
                !matches!(parse_frame(&b2, 0), Frame::Ok { .. }),
                "flip at {i} undetected"
            );
        }
        // Truncated frames are incomplete, never a panic.
        for cut in 0..v.len() {
            let mut b2 = AlignedVec::<16>::new();
            b2.extend_from_slice(&v[..cut]);
            assert!(!matches!(parse_frame(&b2, 0), Frame::Ok { .. }));
        }
    }

    /// The reusing encoder writes exactly the bytes the one-allocation-per-
    /// entry path wrote, so segments written before it keep their chain.
    #[test]
    fn body_encoder_matches_standalone_archives() {
        use crate::kv::{KvCommand, KvConfig};
        let mut enc = BodyEncoder::default();
        for i in 0..50u64 {
            let cmd = if i % 3 == 0 {
                KvCommand::Delete {
                    key: format!("k{i}"),
                }
            } else {
                KvCommand::Set {
                    key: format!("key{i}"),
                    value: "v".repeat(i as usize),
                }
            };
            let e = Entry::<KvConfig> {
                log_id: LogId::new(openraft::CommittedLeaderId::new(2, 3), i),
                payload: EntryPayload::Normal(cmd.clone()),
            };
            let old = EntryBody {
                leader_node: 3,
                payload: PayloadRec::Normal(
                    rkyv::to_bytes::<rancor::Error>(&cmd).unwrap().to_vec(),
                ),
            };
            let want = rkyv::to_bytes::<rancor::Error>(&old).unwrap();
            assert_eq!(enc.encode(&e).unwrap(), want.as_slice(), "entry {i}");
            let got = decode_entry::<KvConfig>(i, 2, enc.encode(&e).unwrap()).unwrap();
            assert_eq!(got.payload, EntryPayload::Normal(cmd));
        }
        let blank = Entry::<KvConfig> {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), 1),
            payload: EntryPayload::Blank,
        };
        let want = rkyv::to_bytes::<rancor::Error>(&EntryBody {
            leader_node: 1,
            payload: PayloadRec::Blank,
        })
        .unwrap();
        assert_eq!(enc.encode(&blank).unwrap(), want.as_slice());
    }

    /// A frame header archived in place is the standalone 64-byte archive.
    #[test]
    fn frame_header_in_place_matches_standalone() {
        let id = LogIdRec {
            term: 9,
            node: 4,
            index: 77,
        };
        let mut v = vec![0u8; 8];
        push_frame(&mut v, id, [5; 32], b"abc").unwrap();
        let want = rkyv::to_bytes::<rancor::Error>(&FrameHeader {
            index: 77,
            term: 9,
            node: 4,
            hash: [5; 32],
            body_len: 3,
            reserved: [0; 4],
        })
        .unwrap();
        assert_eq!(&v[16..16 + HEADER_LEN], want.as_slice());
    }
}
