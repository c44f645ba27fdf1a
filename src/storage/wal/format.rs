//! PostgreSQL 15's WAL envelope, byte by byte: page headers and record framing.
//!
//! All integers are little-endian (tusk, like PostgreSQL on x86-64 and arm64, writes
//! native little-endian WAL).
//!
//! ```text
//! short page header (24 bytes, every page but a segment's first)
//!   0  u16 xlp_magic      0xD110 (PostgreSQL 15)
//!   2  u16 xlp_info       XLP_FIRST_IS_CONTRECORD | XLP_LONG_HEADER | XLP_BKP_REMOVABLE
//!   4  u32 xlp_tli        timeline of the page
//!   8  u64 xlp_pageaddr   LSN of the page's first byte
//!  16  u32 xlp_rem_len    bytes of a record continued from the previous page
//!  20  4 bytes padding (MAXALIGN)
//! long page header (40 bytes, a segment's first page)
//!   0  the short header
//!  24  u64 xlp_sysid      system identifier (pg_control)
//!  32  u32 xlp_seg_size   segment size
//!  36  u32 xlp_xlog_blcksz 8192
//! record header (24 bytes, at a MAXALIGN(8) position; may span pages)
//!   0  u32 xl_tot_len     header + data
//!   4  u32 xl_xid
//!   8  u64 xl_prev        start LSN of the previous record
//!  16  u8  xl_info        high nibble: resource manager's; low nibble: XLR_* flags
//!  17  u8  xl_rmid        0 = XLOG, 128..=255 custom (tusk)
//!  18  2 bytes padding (zero)
//!  20  u32 xl_crc         CRC-32C of the data bytes, then of header bytes 0..20
//! record data (tusk writes main data only)
//!   255 u8 len   payload   (XLR_BLOCK_ID_DATA_SHORT, len < 256)
//!   254 u32 len  payload   (XLR_BLOCK_ID_DATA_LONG)
//!   nothing at all for an empty payload
//! ```

use crate::error::{sqlstate, Result};

/// The WAL page size (PostgreSQL's `XLOG_BLCKSZ`).
pub const PAGE_SIZE: u64 = 8192;
/// The magic number of PostgreSQL 15 WAL pages.
pub const PAGE_MAGIC: u16 = 0xD110;
/// Page flag: the page starts with the continuation of a record.
pub const XLP_FIRST_IS_CONTRECORD: u16 = 0x0001;
/// Page flag: the page has the long header (first page of a segment).
pub const XLP_LONG_HEADER: u16 = 0x0002;
/// Page flag: full-page images on this page may be removed (set when no backup runs).
pub const XLP_BKP_REMOVABLE: u16 = 0x0004;
/// Every page flag PostgreSQL 15 knows.
pub const XLP_ALL_FLAGS: u16 = 0x0007;
/// Size of the short page header (`SizeOfXLogShortPHD`).
pub const SHORT_PAGE_HEADER: u64 = 24;
/// Size of the long page header (`SizeOfXLogLongPHD`).
pub const LONG_PAGE_HEADER: u64 = 40;
/// Size of the record header (`SizeOfXLogRecord`).
pub const RECORD_HEADER: usize = 24;
/// Offset of `xl_crc` in the record header.
pub const CRC_OFFSET: usize = 20;
/// Block id introducing short main data (length in one byte).
pub const XLR_BLOCK_ID_DATA_SHORT: u8 = 255;
/// Block id introducing long main data (length in four bytes).
pub const XLR_BLOCK_ID_DATA_LONG: u8 = 254;
/// The XLOG resource manager (PostgreSQL's `RM_XLOG_ID`).
pub const RM_XLOG_ID: u8 = 0;
/// The highest built-in PostgreSQL 15 resource manager id (`RM_LOGICALMSG_ID`).
pub const RM_MAX_BUILTIN_ID: u8 = 21;
/// The lowest custom resource manager id (`RM_MIN_CUSTOM_ID`).
pub const RM_MIN_CUSTOM_ID: u8 = 128;
/// The XLOG record kind that ends a segment early (`XLOG_SWITCH`).
pub const XLOG_SWITCH: u8 = 0x40;
/// The low bits of `xl_info` reserved for the WAL machinery (`XLR_INFO_MASK`).
pub const XLR_INFO_MASK: u8 = 0x0F;
/// The largest payload tusk writes in one record (PostgreSQL caps records near 1 GB).
pub const MAX_PAYLOAD: usize = 1020 * 1024 * 1024;

/// Rounds up to the 8-byte alignment of record starts (`MAXALIGN`).
pub fn maxalign(v: u64) -> u64 {
    (v + 7) & !7
}

/// Returns true when PostgreSQL 15 accepts `rmid` in a record header.
pub fn rmid_is_valid(rmid: u8) -> bool {
    rmid <= RM_MAX_BUILTIN_ID || rmid >= RM_MIN_CUSTOM_ID
}

/// Returns true when the record is XLOG's segment switch.
pub fn is_switch(rmid: u8, info: u8) -> bool {
    rmid == RM_XLOG_ID && info & !XLR_INFO_MASK == XLOG_SWITCH
}

/// A decoded page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// The page's flags.
    pub info: u16,
    /// The page's timeline.
    pub tli: u32,
    /// The LSN of the page's first byte.
    pub pageaddr: u64,
    /// Bytes of a record continued from the previous page.
    pub rem_len: u32,
    /// For long headers: (system identifier, segment size, WAL block size).
    pub long: Option<(u64, u32, u32)>,
}

impl PageHeader {
    /// The size of this header on the page.
    pub fn size(&self) -> u64 {
        if self.info & XLP_LONG_HEADER != 0 {
            LONG_PAGE_HEADER
        } else {
            SHORT_PAGE_HEADER
        }
    }
}

/// Encodes the page header for the page starting at `pageaddr`: long when `pageaddr` is
/// a segment start. `rem_len` > 0 sets XLP_FIRST_IS_CONTRECORD.
pub fn encode_page_header(
    out: &mut Vec<u8>,
    pageaddr: u64,
    tli: u32,
    rem_len: u32,
    segment_size: u64,
    system_id: u64,
) {
    let long = pageaddr.is_multiple_of(segment_size);
    let mut info = XLP_BKP_REMOVABLE;
    if long {
        info |= XLP_LONG_HEADER;
    }
    if rem_len > 0 {
        info |= XLP_FIRST_IS_CONTRECORD;
    }
    out.extend_from_slice(&PAGE_MAGIC.to_le_bytes());
    out.extend_from_slice(&info.to_le_bytes());
    out.extend_from_slice(&tli.to_le_bytes());
    out.extend_from_slice(&pageaddr.to_le_bytes());
    out.extend_from_slice(&rem_len.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    if long {
        out.extend_from_slice(&system_id.to_le_bytes());
        out.extend_from_slice(&(segment_size as u32).to_le_bytes());
        out.extend_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
    }
}

/// Decodes the page header at the start of `page`; `None` when the magic is wrong, the
/// flags are unknown or `page` is too short.
pub fn decode_page_header(page: &[u8]) -> Option<PageHeader> {
    if page.len() < SHORT_PAGE_HEADER as usize {
        return None;
    }
    let magic = u16::from_le_bytes([page[0], page[1]]);
    let info = u16::from_le_bytes([page[2], page[3]]);
    if magic != PAGE_MAGIC || info & !XLP_ALL_FLAGS != 0 {
        return None;
    }
    let tli = u32_at(page, 4);
    let pageaddr = u64_at(page, 8);
    let rem_len = u32_at(page, 16);
    let long = if info & XLP_LONG_HEADER != 0 {
        if page.len() < LONG_PAGE_HEADER as usize {
            return None;
        }
        Some((u64_at(page, 24), u32_at(page, 32), u32_at(page, 36)))
    } else {
        None
    };
    Some(PageHeader {
        info,
        tli,
        pageaddr,
        rem_len,
        long,
    })
}

/// A decoded record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Total record length, header included.
    pub tot_len: u32,
    /// Transaction id.
    pub xid: u32,
    /// Start LSN of the previous record.
    pub prev: u64,
    /// Info byte.
    pub info: u8,
    /// Resource manager id.
    pub rmid: u8,
    /// Stored CRC.
    pub crc: u32,
}

/// Decodes the 24 record-header bytes.
pub fn decode_record_header(h: &[u8]) -> RecordHeader {
    RecordHeader {
        tot_len: u32_at(h, 0),
        xid: u32_at(h, 4),
        prev: u64_at(h, 8),
        info: h[16],
        rmid: h[17],
        crc: u32_at(h, 20),
    }
}

/// Builds a whole record (header with CRC, then the main-data block) for `payload`.
pub fn encode_record(rmid: u8, info: u8, xid: u32, prev: u64, payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() > MAX_PAYLOAD {
        crate::bail!(
            sqlstate::PROGRAM_LIMIT_EXCEEDED,
            "WAL record would be {} bytes (of maximum {})",
            payload.len(),
            MAX_PAYLOAD
        );
    }
    let data_hdr = match payload.len() {
        0 => 0,
        1..=255 => 2,
        _ => 5,
    };
    let tot = RECORD_HEADER + data_hdr + payload.len();
    let mut rec = Vec::with_capacity(tot);
    rec.extend_from_slice(&(tot as u32).to_le_bytes());
    rec.extend_from_slice(&xid.to_le_bytes());
    rec.extend_from_slice(&prev.to_le_bytes());
    rec.push(info);
    rec.push(rmid);
    rec.extend_from_slice(&[0, 0]);
    rec.extend_from_slice(&[0; 4]);
    match data_hdr {
        2 => {
            rec.push(XLR_BLOCK_ID_DATA_SHORT);
            rec.push(payload.len() as u8);
        }
        5 => {
            rec.push(XLR_BLOCK_ID_DATA_LONG);
            rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        }
        _ => {}
    }
    rec.extend_from_slice(payload);
    let crc = record_crc(&rec);
    rec[CRC_OFFSET..RECORD_HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(rec)
}

/// The CRC of a whole record as PostgreSQL computes it: CRC-32C over the bytes after
/// the header, continued over the header bytes before `xl_crc`.
pub fn record_crc(rec: &[u8]) -> u32 {
    let c = crc32c::crc32c(&rec[RECORD_HEADER..]);
    crc32c::crc32c_append(c, &rec[..CRC_OFFSET])
}

/// Extracts the main data of a complete record; `None` when the record carries anything
/// but main data (block references, origins) or its lengths do not add up.
pub fn decode_main_data(rec: &[u8]) -> Option<Vec<u8>> {
    let body = &rec[RECORD_HEADER..];
    if body.is_empty() {
        return Some(Vec::new());
    }
    let (len, off) = match body[0] {
        XLR_BLOCK_ID_DATA_SHORT if body.len() >= 2 => (body[1] as usize, 2),
        XLR_BLOCK_ID_DATA_LONG if body.len() >= 5 => (u32_at(body, 1) as usize, 5),
        _ => return None,
    };
    if body.len() - off != len {
        return None;
    }
    Some(body[off..].to_vec())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_header_round_trip() {
        let mut v = Vec::new();
        encode_page_header(&mut v, 0x100_0000, 1, 0, 16 << 20, 42);
        assert_eq!(v.len() as u64, LONG_PAGE_HEADER);
        let h = decode_page_header(&v).unwrap();
        assert_eq!(h.info, XLP_LONG_HEADER | XLP_BKP_REMOVABLE);
        assert_eq!(h.long, Some((42, 16 << 20, 8192)));
        assert_eq!(h.size(), LONG_PAGE_HEADER);
        let mut v = Vec::new();
        encode_page_header(&mut v, 0x100_2000, 3, 35, 16 << 20, 42);
        assert_eq!(v.len() as u64, SHORT_PAGE_HEADER);
        // The bytes PostgreSQL 15 wrote for a continuation page.
        assert_eq!(&v[..8], &[0x10, 0xd1, 0x05, 0x00, 0x03, 0, 0, 0]);
        let h = decode_page_header(&v).unwrap();
        assert_eq!((h.tli, h.pageaddr, h.rem_len), (3, 0x100_2000, 35));
        assert!(decode_page_header(&[0u8; 24]).is_none());
    }

    #[test]
    fn record_framing() {
        for len in [0usize, 1, 255, 256, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let rec = encode_record(130, 0x10, 7, 0x1000028, &payload).unwrap();
            let h = decode_record_header(&rec);
            assert_eq!(h.tot_len as usize, rec.len());
            assert_eq!((h.xid, h.prev, h.info, h.rmid), (7, 0x1000028, 0x10, 130));
            assert_eq!(h.crc, record_crc(&rec));
            assert_eq!(decode_main_data(&rec).unwrap(), payload);
        }
        let sw = encode_record(RM_XLOG_ID, XLOG_SWITCH, 0, 8, &[]).unwrap();
        assert_eq!(sw.len(), RECORD_HEADER);
        assert!(is_switch(sw[17], sw[16]));
    }
}
