//! EVTX records read from their BinXML straight into [`Fields`].
//!
//! Why a reader of our own beside the `evtx` crate: evtx renders each record
//! as JSON text, which the hunt then parsed back into fields; the two were
//! about 45% of the instructions of a hunt with every Windows rule loaded
//! (callgrind, docs/sigma.md). Nearly every record is a template instance: a
//! template, written once per chunk, holds the element names and where each
//! substitution value goes, and the record holds only the typed values. This
//! reader parses each template once per chunk and fills the fields from each
//! record's values, without text in between.
//!
//! It covers the shapes Windows writes for the great majority of records:
//! `System`, `EventData` of named `Data`, `UserData` of one flat element,
//! instances embedded in values (as `EventData` usually is), and the scalar
//! value types those use. Anything else (an array, ANSI text, a `Data`
//! without a name, a name that repeats, text beside elements, a record that
//! does not parse cleanly) hands the whole chunk back to the evtx crate,
//! which reads it exactly as before. The fields are built by the same
//! `system_field`/`data_field` steps the JSON path uses, and a test checks
//! that both paths give the same fields for every record of the test corpora.

use std::borrow::Cow;

use evtx::{EvtxChunkHeader, EvtxRecordHeader};
use serde_json::Value;

use super::{Element, Fields, data_field, system_field};

/// Bytes before the first record of a chunk.
const CHUNK_HEADER_BYTES: usize = 512;
/// Bytes of a record's header before its BinXML.
const RECORD_HEADER_BYTES: usize = 24;

/// The events of one chunk in record order, or `None` when the chunk holds
/// anything this reader leaves to the evtx crate.
pub(super) fn read_chunk(data: &[u8], header: &EvtxChunkHeader) -> Option<Vec<Fields>> {
    let mut reader = ChunkReader {
        data,
        names: Vec::new(),
        templates: Vec::new(),
        template_at: Vec::new(),
    };
    // The walk evtx makes over a healthy chunk: record after record from the
    // header to the free space, stopping after the chunk's last record id.
    let live_end = (header.free_space_offset as usize).min(data.len());
    let mut offset = CHUNK_HEADER_BYTES;
    let mut events = Vec::new();
    while offset < live_end {
        let record = EvtxRecordHeader::from_bytes_at(data, offset).ok()?;
        let size = record.record_data_size().ok()? as usize;
        let start = offset + RECORD_HEADER_BYTES;
        let binxml = data.get(start..start.checked_add(size)?)?;
        events.push(reader.record(start, binxml)?);
        if record.event_record_id == header.last_event_record_id {
            break;
        }
        offset = offset.checked_add(record.data_size as usize)?;
    }
    Some(events)
}

struct ChunkReader<'d> {
    data: &'d [u8],
    /// Element and attribute names by their offset in the chunk.
    names: Vec<(u32, String)>,
    /// Parsed template definitions by their offset in the chunk.
    templates: Vec<Elem>,
    /// Where each of `templates` is defined. A chunk defines a few dozen at
    /// most, so a scan beats hashing.
    template_at: Vec<u32>,
}

/// An element of a template definition.
struct Elem {
    name: String,
    /// The value whose being NULL leaves this element out (MS-EVEN6 2.2.12).
    dependency: Option<u16>,
    attrs: Vec<(String, Vec<Piece>)>,
    kids: Vec<Kid>,
}

enum Kid {
    Elem(Elem),
    Piece(Piece),
}

/// Text in a template: literal, or a substitution of the record's values.
enum Piece {
    Text(String),
    Sub { id: u16, optional: bool },
}

/// One substitution value of a record: its type byte and its bytes.
#[derive(Clone, Copy)]
struct Raw<'d> {
    ty: u8,
    bytes: &'d [u8],
}

/// Value types (MS-EVEN6 2.2.18), those this reader renders.
mod ty {
    pub const NULL: u8 = 0x00;
    pub const STRING: u8 = 0x01;
    pub const INT8: u8 = 0x03;
    pub const UINT8: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const BOOL: u8 = 0x0d;
    pub const BINARY: u8 = 0x0e;
    pub const GUID: u8 = 0x0f;
    pub const FILETIME: u8 = 0x11;
    pub const SID: u8 = 0x13;
    pub const HEX32: u8 = 0x14;
    pub const HEX64: u8 = 0x15;
    pub const BINXML: u8 = 0x21;
}

/// Cursor over the chunk's bytes; every read is checked.
struct Cursor<'d> {
    data: &'d [u8],
    pos: usize,
}

impl<'d> Cursor<'d> {
    fn bytes(&mut self, n: usize) -> Option<&'d [u8]> {
        let out = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
}

/// A template instance: its template and its values, with the instance
/// each embedded BinXML value holds.
struct Instance<'d> {
    /// Index in `ChunkReader::templates`.
    template: usize,
    values: Vec<Raw<'d>>,
    nested: Vec<Option<Instance<'d>>>,
}

/// How deep embedded BinXML may nest before the chunk is left to evtx.
const MAX_NESTING: usize = 8;
/// How deep elements of a template may nest (Windows writes four levels).
const MAX_DEPTH: usize = 32;

impl<'d> ChunkReader<'d> {
    /// One record's fields; `start` is the offset of its BinXML in the chunk.
    fn record(&mut self, start: usize, binxml: &'d [u8]) -> Option<Fields> {
        let instance = self.instance(start, binxml.len(), 0)?;
        let root = &self.templates[instance.template];
        event(&self.templates, root, &instance)
    }

    /// The template instance in `data[start..start + len]`: an optional
    /// fragment header, the instance, and nothing after it but the end.
    fn instance(&mut self, start: usize, len: usize, depth: usize) -> Option<Instance<'d>> {
        if depth > MAX_NESTING {
            return None;
        }
        let bytes = self.data.get(start..start.checked_add(len)?)?;
        let body = match bytes {
            [0x0f, _, _, _, 0x0c, ..] => 5,
            [0x0c, ..] => 1,
            _ => return None,
        };
        let mut cur = Cursor {
            data: self.data,
            pos: start + body,
        };
        cur.u8()?;
        let _template_id = cur.u32()?;
        let def_offset = cur.u32()?;
        if cur.pos == def_offset as usize {
            // The definition is written here, on its first use in the chunk.
            cur.bytes(4 + 16)?;
            let size = cur.u32()? as usize;
            cur.bytes(size)?;
        }
        let count = cur.u32()? as usize;
        let descriptors = cur.bytes(count.checked_mul(4)?)?;
        let mut values = Vec::with_capacity(count);
        let mut nested = Vec::with_capacity(count);
        for d in descriptors.chunks_exact(4) {
            let size = usize::from(u16::from_le_bytes([d[0], d[1]]));
            let at = cur.pos;
            let raw = Raw {
                ty: d[2],
                bytes: cur.bytes(size)?,
            };
            if raw.ty == ty::BINXML && size > 0 {
                nested.push(Some(self.instance(at, size, depth + 1)?));
            } else if supported(raw) {
                nested.push(None);
            } else {
                return None;
            }
            values.push(raw);
        }
        // Nothing but the end may follow the instance.
        let end = start + len;
        if cur.pos > end || (cur.pos < end && self.data[cur.pos] != 0x00) {
            return None;
        }
        let template = match self.template_at.iter().position(|&at| at == def_offset) {
            Some(i) => i,
            None => {
                let template = self.template(def_offset)?;
                self.templates.push(template);
                self.template_at.push(def_offset);
                self.templates.len() - 1
            }
        };
        Some(Instance {
            template,
            values,
            nested,
        })
    }

    /// Parse the template definition at `offset`: its header (next offset,
    /// GUID, size), a fragment header, and one element.
    fn template(&mut self, offset: u32) -> Option<Elem> {
        let mut cur = Cursor {
            data: self.data,
            pos: offset as usize,
        };
        cur.bytes(4 + 16)?;
        let size = cur.u32()? as usize;
        let end = cur.pos.checked_add(size)?;
        if cur.peek()? == 0x0f {
            cur.bytes(4)?;
        }
        let token = cur.u8()?;
        if token & 0xbf != 0x01 {
            return None;
        }
        let root = self.element(&mut cur, token, 0)?;
        (cur.peek()? == 0x00 && cur.pos < end).then_some(root)
    }

    /// An element whose start token has been read.
    fn element(&mut self, cur: &mut Cursor<'d>, token: u8, depth: usize) -> Option<Elem> {
        if depth > MAX_DEPTH {
            return None;
        }
        let dependency = cur.u16()?;
        let _size = cur.u32()?;
        let name = self.name_ref(cur)?;
        let mut elem = Elem {
            name,
            dependency: (dependency != 0xffff).then_some(dependency),
            attrs: Vec::new(),
            kids: Vec::new(),
        };
        if token & 0x40 != 0 {
            let _attrs_size = cur.u32()?;
            while cur.peek()? & 0xbf == 0x06 {
                cur.u8()?;
                let name = self.name_ref(cur)?;
                let mut value = Vec::new();
                while let Some(piece) = piece(cur)? {
                    value.push(piece);
                }
                elem.attrs.push((name, value));
            }
        }
        match cur.u8()? {
            // Close empty element.
            0x03 => return Some(elem),
            // Close start element: content follows.
            0x02 => {}
            _ => return None,
        }
        loop {
            match cur.peek()? {
                0x04 => {
                    cur.u8()?;
                    return Some(elem);
                }
                t if t & 0xbf == 0x01 => {
                    cur.u8()?;
                    let kid = self.element(cur, t, depth + 1)?;
                    elem.kids.push(Kid::Elem(kid));
                }
                _ => elem.kids.push(Kid::Piece(piece(cur)??)),
            }
        }
    }

    /// A name reference: an offset in the chunk, where the name is written
    /// out (next-name link, hash, length, UTF-16, NUL); written right here
    /// on its first use.
    fn name_ref(&mut self, cur: &mut Cursor<'d>) -> Option<String> {
        let offset = cur.u32()?;
        if cur.pos == offset as usize {
            cur.bytes(6)?;
            let len = usize::from(cur.u16()?);
            cur.bytes(len * 2 + 2)?;
        }
        if let Some((_, name)) = self.names.iter().find(|(at, _)| *at == offset) {
            return Some(name.clone());
        }
        let mut at = Cursor {
            data: self.data,
            pos: offset as usize + 6,
        };
        let len = usize::from(at.u16()?);
        let name = utf16(at.bytes(len * 2)?)?;
        self.names.push((offset, name.clone()));
        Some(name)
    }
}

/// Text or a substitution at the cursor, `Ok(None)` when the next token is
/// neither; `None` (the outer one) on a token this reader does not handle.
fn piece(cur: &mut Cursor<'_>) -> Option<Option<Piece>> {
    match cur.peek()? {
        // A value: only UTF-16 text appears in templates Windows writes.
        0x05 | 0x45 => {
            cur.u8()?;
            if cur.u8()? != ty::STRING {
                return None;
            }
            let len = usize::from(cur.u16()?);
            Some(Some(Piece::Text(utf16(cur.bytes(len * 2)?)?)))
        }
        // Normal (0x0d) and optional (0x0e) substitutions.
        t @ (0x0d | 0x0e) => {
            cur.u8()?;
            let id = cur.u16()?;
            let _ty = cur.u8()?;
            Some(Some(Piece::Sub {
                id,
                optional: t == 0x0e,
            }))
        }
        0x02..=0x04 | 0x06 | 0x46 => Some(None),
        _ => None,
    }
}

/// UTF-16LE code units up to the first NUL; `None` when not valid UTF-16.
/// Most text in a log is ASCII, checked and copied four units at a time;
/// the rest goes through the standard decoder.
fn utf16(bytes: &[u8]) -> Option<String> {
    // Four units at a time while they are ASCII and not NUL.
    const HIGH: u64 = 0xff80_ff80_ff80_ff80;
    let mut ascii = Vec::with_capacity(bytes.len() / 2);
    let mut words = bytes.chunks_exact(8);
    for w in words.by_ref() {
        let x = u64::from_le_bytes(w.try_into().unwrap());
        let zero_unit = x.wrapping_sub(0x0001_0001_0001_0001) & !x & 0x8000_8000_8000_8000;
        if x & HIGH != 0 || zero_unit != 0 {
            let done = ascii.len() * 2;
            return finish_utf16(ascii, &bytes[done..]);
        }
        ascii.extend_from_slice(&[w[0], w[2], w[4], w[6]]);
    }
    finish_utf16(ascii, words.remainder())
}

/// The rest of [`utf16`]'s text from `rest`, after the ASCII in `ascii`.
fn finish_utf16(ascii: Vec<u8>, rest: &[u8]) -> Option<String> {
    let mut out = String::from_utf8(ascii).ok()?;
    let units = rest
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .take_while(|&u| u != 0);
    for c in char::decode_utf16(units) {
        out.push(c.ok()?);
    }
    Some(out)
}

/// Whether this reader renders a value of this type and size the way evtx
/// does.
fn supported(v: Raw<'_>) -> bool {
    let n = v.bytes.len();
    match v.ty {
        ty::NULL => true,
        ty::STRING => n.is_multiple_of(2),
        ty::BINARY => true,
        ty::INT8 | ty::UINT8 => n == 1,
        ty::INT16 | ty::UINT16 => n == 2,
        ty::INT32 | ty::UINT32 | ty::HEX32 => n == 4,
        ty::INT64 | ty::UINT64 | ty::HEX64 => n == 8,
        // Values other than 0 and 1 render as integers.
        ty::BOOL => n == 4 && v.bytes[1..] == [0, 0, 0] && v.bytes[0] <= 1,
        ty::GUID => n == 16,
        ty::FILETIME => {
            n == 8 && u64::from_le_bytes(v.bytes.try_into().unwrap()) <= i64::MAX as u64
        }
        ty::SID => n >= 8 && n == 8 + 4 * usize::from(v.bytes[1]),
        _ => false,
    }
}

/// Empty for an optional substitution: left out.
fn is_empty(v: Raw<'_>) -> bool {
    match v.ty {
        ty::NULL => true,
        ty::STRING => v.bytes.len() < 2 || v.bytes[..2] == [0, 0],
        ty::BINARY => v.bytes.is_empty(),
        _ => false,
    }
}

/// A value as evtx's JSON gives it: integers and booleans bare, the rest as
/// text.
fn json(v: Raw<'_>) -> Option<Value> {
    let b = v.bytes;
    let le8 = || u64::from_le_bytes(b.try_into().unwrap());
    let le4 = || u32::from_le_bytes(b.try_into().unwrap());
    let le2 = || u16::from_le_bytes(b.try_into().unwrap());
    Some(match v.ty {
        ty::STRING => Value::String(utf16(b)?),
        ty::INT8 => Value::from(b[0] as i8),
        ty::UINT8 => Value::from(b[0]),
        ty::INT16 => Value::from(le2() as i16),
        ty::UINT16 => Value::from(le2()),
        ty::INT32 => Value::from(le4() as i32),
        ty::UINT32 => Value::from(le4()),
        ty::INT64 => Value::from(le8() as i64),
        ty::UINT64 => Value::from(le8()),
        ty::BOOL => Value::Bool(b[0] == 1),
        ty::BINARY => {
            let mut s = String::with_capacity(b.len() * 2);
            for byte in b {
                s.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
                s.push(char::from(HEX_UPPER[usize::from(byte & 0xf)]));
            }
            Value::String(s)
        }
        ty::GUID => Value::String(guid(b)),
        ty::FILETIME => Value::String(filetime(le8())),
        ty::SID => Value::String(sid(b)),
        ty::HEX32 => Value::String(hex(u64::from(le4()))),
        ty::HEX64 => Value::String(hex(le8())),
        _ => return None,
    })
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `{d1-d2-d3-d4[0..2]-d4[2..8]}`, lowercase, data1-3 little-endian.
fn guid(b: &[u8]) -> String {
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut s = String::with_capacity(38);
    s.push('{');
    for (i, &at) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX_LOWER[usize::from(b[at] >> 4)]));
        s.push(char::from(HEX_LOWER[usize::from(b[at] & 0xf)]));
    }
    s.push('}');
    s
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `S-R-A-S1-…-Sn`: revision, 48-bit big-endian authority, little-endian
/// sub-authorities.
fn sid(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let authority = u64::from_be_bytes([0, 0, b[2], b[3], b[4], b[5], b[6], b[7]]);
    let mut s = format!("S-{}-{}", b[0], authority);
    for sub in b[8..].chunks_exact(4) {
        let _ = write!(s, "-{}", u32::from_le_bytes(sub.try_into().unwrap()));
    }
    s
}

/// `0x` and lowercase hex digits, no padding.
fn hex(v: u64) -> String {
    let digits = (64 - v.leading_zeros() as usize).div_ceil(4).max(1);
    let mut s = String::with_capacity(2 + digits);
    s.push_str("0x");
    for i in (0..digits).rev() {
        s.push(char::from(HEX_LOWER[((v >> (4 * i)) & 0xf) as usize]));
    }
    s
}

/// A FILETIME (100 ns since 1601-01-01 UTC) as `YYYY-MM-DDTHH:MM:SS.fffffffZ`.
fn filetime(ticks: u64) -> String {
    const TICKS_PER_SEC: u64 = 10_000_000;
    const TICKS_PER_DAY: u64 = TICKS_PER_SEC * 86_400;
    let (days, rest) = (ticks / TICKS_PER_DAY, ticks % TICKS_PER_DAY);
    // Days from 0000-03-01 in eras of 400 years (H. Hinnant's civil_from_days).
    let z = days + 584_694;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (era * 400 + yoe + u64::from(month <= 2)) % 10_000;
    let secs = rest / TICKS_PER_SEC;
    let mut out = *b"0000-00-00T00:00:00.0000000Z";
    let mut put = |range: std::ops::Range<usize>, mut v: u64| {
        for at in range.rev() {
            out[at] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0..4, year);
    put(5..7, month);
    put(8..10, day);
    put(11..13, secs / 3_600);
    put(14..16, secs / 60 % 60);
    put(17..19, secs % 60);
    put(20..27, rest % TICKS_PER_SEC);
    out.iter().map(|&b| char::from(b)).collect()
}

type Templates = [Elem];

/// Whether `elem` is left out of this instance: its dependency is NULL.
fn left_out(elem: &Elem, inst: &Instance<'_>) -> bool {
    elem.dependency
        .and_then(|d| inst.values.get(usize::from(d)))
        .is_some_and(|v| v.ty == ty::NULL)
}

/// The value of a piece, `Ok(None)` when it is left out, `Err` when this
/// reader does not render it.
fn piece_value(piece: &Piece, inst: &Instance<'_>) -> Result<Option<Value>, ()> {
    match piece {
        Piece::Text(t) if t.is_empty() => Ok(None),
        Piece::Text(t) => Ok(Some(Value::String(t.clone()))),
        Piece::Sub { id, .. } => {
            let Some(&v) = inst.values.get(usize::from(*id)) else {
                return Ok(None);
            };
            // Left out when optional, and nothing to write when not: either
            // way the empty form (`null`, or `""` for a `Data`) is the
            // caller's (checked against evtx on the corpora).
            if is_empty(v) {
                return Ok(None);
            }
            json(v).map(Some).ok_or(())
        }
    }
}

/// A child of an element once the instance's values are in.
enum Resolved<'t, 'd> {
    /// Left out: a dependency or optional value that is NULL or empty.
    Nothing,
    /// An element of the template, or the root of an embedded instance.
    Elem(&'t Elem, &'t Instance<'d>),
    Value(Value),
}

/// What `kid` of an element is in this instance, or `None` where this
/// reader leaves the chunk to evtx.
// Inlined into its two callers: as a call it cost 2% of a hunt's
// instructions (callgrind).
#[inline(always)]
fn resolve<'t, 'd>(
    templates: &'t Templates,
    kid: &'t Kid,
    inst: &'t Instance<'d>,
) -> Option<Resolved<'t, 'd>> {
    Some(match kid {
        Kid::Elem(e) if left_out(e, inst) => Resolved::Nothing,
        Kid::Elem(e) => Resolved::Elem(e, inst),
        Kid::Piece(p @ Piece::Sub { id, optional }) => {
            let id = usize::from(*id);
            match inst.nested.get(id) {
                Some(Some(n)) => Resolved::Elem(&templates[n.template], n),
                // An empty embedded instance: left out when optional.
                _ if inst.values.get(id).is_some_and(|v| v.ty == ty::BINXML) => {
                    if !optional {
                        return None;
                    }
                    Resolved::Nothing
                }
                _ => piece_value(p, inst)
                    .ok()?
                    .map_or(Resolved::Nothing, Resolved::Value),
            }
        }
        Kid::Piece(p) => piece_value(p, inst)
            .ok()?
            .map_or(Resolved::Nothing, Resolved::Value),
    })
}

/// The one value among `values`: `Some(None)` when there is none, `None`
/// when there are several (evtx would join them) or one is not rendered.
#[inline]
fn single(values: impl Iterator<Item = Option<Option<Value>>>) -> Option<Option<Value>> {
    let mut found = None;
    for value in values {
        if let Some(v) = value? {
            if found.is_some() {
                return None;
            }
            found = Some(v);
        }
    }
    Some(found)
}

/// The child elements of `elem` in this instance (its own, and the root of
/// each embedded instance among its values), or `None` if it also holds
/// text or (with `unique`) a name repeats.
fn elements<'t, 'd>(
    templates: &'t Templates,
    elem: &'t Elem,
    inst: &'t Instance<'d>,
    unique: bool,
) -> Option<Vec<(&'t Elem, &'t Instance<'d>)>> {
    let mut out: Vec<(&Elem, &Instance)> = Vec::with_capacity(elem.kids.len());
    for kid in &elem.kids {
        let (e, i) = match resolve(templates, kid, inst)? {
            Resolved::Nothing => continue,
            Resolved::Elem(e, i) => (e, i),
            Resolved::Value(_) => return None,
        };
        if unique && out.iter().any(|(o, _)| o.name == e.name) {
            return None;
        }
        out.push((e, i));
    }
    Some(out)
}

/// The text of a leaf element: `Some(None)` when empty, `None` if it holds
/// elements or more than one value.
fn leaf(templates: &Templates, elem: &Elem, inst: &Instance<'_>) -> Option<Option<Value>> {
    single(
        elem.kids
            .iter()
            .map(|kid| match resolve(templates, kid, inst)? {
                Resolved::Nothing => Some(None),
                Resolved::Value(v) => Some(Some(v)),
                Resolved::Elem(..) => None,
            }),
    )
}

/// The attributes that have a value in this instance.
fn attributes<'t>(elem: &'t Elem, inst: &Instance<'_>) -> Option<Vec<(Cow<'t, str>, Value)>> {
    let mut out = Vec::new();
    for (name, pieces) in &elem.attrs {
        if let Some(v) = single(pieces.iter().map(|p| piece_value(p, inst).ok()))? {
            out.push((Cow::Borrowed(name.as_str()), v));
        }
    }
    Some(out)
}

/// The fields of one record.
fn event(templates: &Templates, root: &Elem, inst: &Instance<'_>) -> Option<Fields> {
    if root.name != "Event" {
        return None;
    }
    let mut out = Fields::with_capacity(32);
    for (part, inst) in elements(templates, root, inst, true)? {
        match part.name.as_str() {
            "System" => system(templates, part, inst, &mut out)?,
            "EventData" => event_data(templates, part, inst, &mut out)?,
            "UserData" => user_data(templates, part, inst, &mut out)?,
            _ => {}
        }
    }
    Some(out)
}

fn system(templates: &Templates, elem: &Elem, inst: &Instance<'_>, out: &mut Fields) -> Option<()> {
    for (child, inst) in elements(templates, elem, inst, true)? {
        let text = leaf(templates, child, inst)?;
        let attrs = attributes(child, inst)?;
        let element = if attrs.is_empty() {
            Element::Plain(text.unwrap_or(Value::Null))
        } else {
            Element::Object {
                own: text
                    .map(|v| vec![(Cow::Borrowed("#text"), v)])
                    .unwrap_or_default(),
                attributes: Some(attrs),
            }
        };
        system_field(Cow::Borrowed(child.name.as_str()), element, out);
    }
    Some(())
}

fn event_data(
    templates: &Templates,
    elem: &Elem,
    inst: &Instance<'_>,
    out: &mut Fields,
) -> Option<()> {
    // Names are checked below, on the Name of each Data.
    let kids = elements(templates, elem, inst, false)?;
    // Named Data only: each name once, written in the template.
    let mut names: Vec<&str> = Vec::with_capacity(kids.len());
    for (child, _) in &kids {
        let name = if child.name == "Data" {
            match child.attrs.as_slice() {
                [(attr, pieces)] if attr == "Name" => match pieces.as_slice() {
                    [Piece::Text(n)] if !n.is_empty() => n.as_str(),
                    _ => return None,
                },
                _ => return None,
            }
        } else {
            if !child.attrs.is_empty() {
                return None;
            }
            child.name.as_str()
        };
        if names.contains(&name) {
            return None;
        }
        names.push(name);
    }
    for ((child, inst), name) in kids.iter().zip(names) {
        let value = match leaf(templates, child, inst)? {
            Some(v) => v,
            // An empty Data is "", an empty other element null.
            None if child.name == "Data" => Value::String(String::new()),
            None => Value::Null,
        };
        data_field(name.to_string(), value, out);
    }
    Some(())
}

fn user_data(
    templates: &Templates,
    elem: &Elem,
    inst: &Instance<'_>,
    out: &mut Fields,
) -> Option<()> {
    for (wrapper, inst) in elements(templates, elem, inst, true)? {
        if wrapper.name == "Data" {
            return None;
        }
        for (child, inst) in elements(templates, wrapper, inst, true)? {
            if !child.attrs.is_empty() {
                return None;
            }
            let value = leaf(templates, child, inst)?.unwrap_or(Value::Null);
            data_field(child.name.clone(), value, out);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use super::*;
    use crate::events::flatten_windows_str;

    /// The EVTX files of the shared corpora, if they are beside this checkout.
    fn corpus_files() -> Vec<PathBuf> {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
        let mut files: Vec<PathBuf> = ["evtx", "sigma/regression_data"]
            .iter()
            .flat_map(|d| walkdir::WalkDir::new(shared.join(d)))
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
            })
            .collect();
        files.sort();
        files
    }

    /// For every chunk of every corpus file this reader takes, the fields of
    /// each record are those of the evtx crate's JSON, and it takes nearly
    /// every chunk.
    #[test]
    fn same_fields_as_evtx_json_on_the_corpora() {
        let files = corpus_files();
        if files.is_empty() {
            eprintln!("skipped: shared/corpora is not beside this checkout");
            return;
        }
        let settings = Arc::new(evtx::ParserSettings::default().separate_json_attributes(false));
        let (mut chunks, mut taken, mut records) = (0, 0, 0);
        let mut left: Vec<String> = Vec::new();
        for path in &files {
            let Ok(mut parser) = evtx::EvtxParser::from_path(path) else {
                continue;
            };
            for (n, chunk) in parser.chunks().enumerate() {
                let Ok(mut chunk) = chunk else { continue };
                chunks += 1;
                let fast = read_chunk(&chunk.data, &chunk.header);
                let Ok(mut parsed) = chunk.parse(settings.clone()) else {
                    assert!(fast.is_none(), "{} chunk {n}", path.display());
                    continue;
                };
                let slow: Vec<Option<Fields>> = parsed
                    .iter()
                    .map(|r| {
                        r.ok()
                            .and_then(|r| r.into_json().ok())
                            .and_then(|r| flatten_windows_str(&r.data).ok())
                    })
                    .collect();
                let Some(fast) = fast else {
                    left.push(format!("{} chunk {n}", path.display()));
                    continue;
                };
                taken += 1;
                assert_eq!(fast.len(), slow.len(), "{} chunk {n}", path.display());
                for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
                    assert_eq!(
                        Some(f),
                        s.as_ref(),
                        "{} chunk {n} record {i}",
                        path.display()
                    );
                    records += 1;
                }
            }
        }
        eprintln!(
            "{taken} of {chunks} chunks ({records} records) read from BinXML; left to evtx:\n{}",
            left.join("\n")
        );
        assert!(taken * 10 >= chunks * 9, "{taken} of {chunks} chunks");
    }

    /// Damaged chunks never make the reader panic or loop: each byte of the
    /// records area of a real chunk (one in 61) is set to a few hostile values
    /// in turn.
    #[test]
    fn utf16_text_up_to_nul() {
        let enc = |s: &str| {
            s.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>()
        };
        for s in [
            "",
            "a",
            "abc",
            "abcd",
            "abcde",
            "C:\\Windows\\System32\\cmd.exe",
            "héllo wörld",
            "日本語テキスト",
            "emoji 😀 ok",
            "abcdefgh\u{100}",
        ] {
            assert_eq!(utf16(&enc(s)).as_deref(), Some(s), "{s}");
            for cut in ["\0", "\0tail", "\0\0"] {
                let with = format!("{s}{cut}");
                assert_eq!(utf16(&enc(&with)).as_deref(), Some(s), "{with:?}");
            }
        }
        // A lone surrogate is not text; an odd trailing byte is ignored.
        assert_eq!(utf16(&[0x00, 0xd8, 0x41, 0x00]), None);
        assert_eq!(utf16(&[0x41, 0x00, 0x42]).as_deref(), Some("A"));
    }

    #[test]
    fn damaged_chunks_are_read_or_left_without_panic() {
        let files = corpus_files();
        let Some(path) = files
            .iter()
            .find(|p| p.to_string_lossy().contains("Sysmon"))
        else {
            eprintln!("skipped: shared/corpora is not beside this checkout");
            return;
        };
        let mut parser = evtx::EvtxParser::from_path(path).unwrap();
        let chunk = parser.chunks().next().unwrap().unwrap();
        let clean = read_chunk(&chunk.data, &chunk.header).expect("a clean chunk is read");
        let end = (chunk.header.free_space_offset as usize).min(chunk.data.len());
        let (mut read, mut left) = (0, 0);
        for at in (CHUNK_HEADER_BYTES..end).step_by(61) {
            for bad in [0x00, 0x0c, 0x21, 0x41, 0xff] {
                let mut data = chunk.data.clone();
                data[at] = bad;
                match read_chunk(&data, &chunk.header) {
                    Some(events) => {
                        assert!(events.len() <= clean.len() + 1);
                        read += 1;
                    }
                    None => left += 1,
                }
            }
        }
        eprintln!("{read} damaged chunks read, {left} left to evtx");
        assert!(left > 0 && read > 0);
    }
}
