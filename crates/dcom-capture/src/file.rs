//! pcap and pcapng readers (optionally gzip-compressed) producing numbered frames.
//!
//! pcap: "PCAP Capture File Format" (draft-ietf-opsawg-pcap) section 4 (file header) and 5 (packet record).
//! pcapng: draft-ietf-opsawg-pcapng section 4.1 (SHB), 4.2 (IDB), 4.3 (EPB), 4.4 (SPB), 4.5-4.6 (skipped
//! blocks), appendix A (obsolete Packet Block, type 2).

use std::io::Read;

use crate::bytes::{e16, e32, e64i, sub, u8_at, u64_of, us};
use crate::error::{CaptureError, CaptureErrorKind, Warning, WarningKind};
use crate::{Frame, Limits, Timestamp};

/// Container format of the parsed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// Classic libpcap file.
    Pcap {
        /// Byte order of the file is big-endian.
        big_endian: bool,
        /// Timestamps are in nanoseconds (magic `a1b23c4d`).
        nanosecond: bool,
    },
    /// pcapng file.
    Pcapng,
}

pub(crate) struct Parsed {
    pub(crate) format: FileFormat,
    pub(crate) gzip: bool,
    pub(crate) frames: Vec<Frame>,
    pub(crate) warnings: Vec<Warning>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Inflates a gzip file (all members), refusing to produce more than `cap` bytes.
fn gunzip(bytes: &[u8], cap: u64) -> Result<Vec<u8>, CaptureError> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    decoder
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| CaptureError::new(CaptureErrorKind::Gzip, 0, "gzip stream"))?;
    if u64_of(out.len()) > cap {
        return Err(CaptureError::new(CaptureErrorKind::DecompressedTooLarge, cap, "gzip stream"));
    }
    Ok(out)
}

pub(crate) fn parse_file(bytes: &[u8], limits: &Limits) -> Result<Parsed, CaptureError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let inflated = gunzip(bytes, limits.max_decompressed)?;
        let mut p = parse_plain(&inflated, limits)?;
        p.gzip = true;
        return Ok(p);
    }
    parse_plain(bytes, limits)
}

fn parse_plain(bytes: &[u8], limits: &Limits) -> Result<Parsed, CaptureError> {
    let magic = sub(bytes, 0, 4).ok_or(CaptureError::new(CaptureErrorKind::TooShort, 0, "file magic"))?;
    match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] => parse_pcap(bytes, true, false, limits),
        [0xd4, 0xc3, 0xb2, 0xa1] => parse_pcap(bytes, false, false, limits),
        [0xa1, 0xb2, 0x3c, 0x4d] => parse_pcap(bytes, true, true, limits),
        [0x4d, 0x3c, 0xb2, 0xa1] => parse_pcap(bytes, false, true, limits),
        [0x0a, 0x0d, 0x0d, 0x0a] => parse_pcapng(bytes, limits),
        _ => Err(CaptureError::new(CaptureErrorKind::UnknownFormat, 0, "file magic")),
    }
}

struct Sink<'l> {
    frames: Vec<Frame>,
    warnings: Vec<Warning>,
    limits: &'l Limits,
}

impl Sink<'_> {
    fn next_number(&self, offset: u64) -> Result<u32, CaptureError> {
        let n = u32::try_from(self.frames.len()).ok().and_then(|n| n.checked_add(1)).ok_or(CaptureError::new(
            CaptureErrorKind::TooManyFrames,
            offset,
            "packet record",
        ))?;
        if us(n) > self.limits.max_frames {
            return Err(CaptureError::new(CaptureErrorKind::TooManyFrames, offset, "packet record"));
        }
        Ok(n)
    }

    /// Records one packet; every packet record gets a number, like tshark, even when its data is dropped.
    fn push(
        &mut self,
        offset: u64,
        timestamp: Timestamp,
        link_type: u32,
        interface: u32,
        orig_len: u32,
        data: &[u8],
    ) -> Result<(), CaptureError> {
        let number = self.next_number(offset)?;
        let data = if data.len() > us(self.limits.max_packet_len) {
            self.warnings.push(Warning::new(
                WarningKind::PacketTooLarge,
                Some(number),
                Some(offset),
                format!("{} captured bytes", data.len()),
            ));
            Vec::new()
        } else {
            data.to_vec()
        };
        self.frames.push(Frame { number, timestamp, link_type, interface, orig_len, file_offset: offset, data });
        Ok(())
    }
}

fn parse_pcap(bytes: &[u8], big: bool, nanosecond: bool, limits: &Limits) -> Result<Parsed, CaptureError> {
    // pcap section 4: magic, major, minor, reserved1, reserved2, snaplen, linktype+fcs = 24 bytes.
    let header_err = CaptureError::new(CaptureErrorKind::TooShort, 0, "pcap file header");
    let link_field = e32(bytes, 20, big).ok_or(header_err)?;
    // pcap section 4: LinkType is the low 16 bits; the top bits carry FCS information.
    let link_type = link_field & 0xffff;
    let mut sink = Sink { frames: Vec::new(), warnings: Vec::new(), limits };
    let mut pos: usize = 24;
    while pos < bytes.len() {
        let off = u64_of(pos);
        // pcap section 5: ts seconds, ts micro/nanoseconds, captured length, original length.
        let (Some(secs), Some(frac), Some(caplen), Some(orig)) =
            (e32(bytes, pos, big), e32(bytes, pos + 4, big), e32(bytes, pos + 8, big), e32(bytes, pos + 12, big))
        else {
            sink.warnings.push(Warning::new(WarningKind::TruncatedRecord, None, Some(off), "short record header"));
            break;
        };
        let data_start = pos + 16;
        let Some(data) = sub(bytes, data_start, us(caplen)) else {
            sink.warnings.push(Warning::new(
                WarningKind::TruncatedRecord,
                None,
                Some(off),
                format!("record claims {caplen} bytes, {} remain", bytes.len().saturating_sub(data_start)),
            ));
            break;
        };
        let nanos = if nanosecond { frac } else { frac.saturating_mul(1000) };
        let ts = Timestamp::new(i64::from(secs), nanos);
        sink.push(off, ts, link_type, 0, orig, data)?;
        pos = data_start + data.len();
    }
    Ok(Parsed {
        format: FileFormat::Pcap { big_endian: big, nanosecond },
        gzip: false,
        frames: sink.frames,
        warnings: sink.warnings,
    })
}

/// One interface described by an IDB.
#[derive(Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units: TsUnits,
    /// if_tsoffset, seconds.
    offset_secs: i64,
}

#[derive(Clone, Copy)]
enum TsUnits {
    Pow10(u32),
    Pow2(u32),
}

impl TsUnits {
    fn per_second(self) -> u128 {
        match self {
            Self::Pow10(e) => 10u128.pow(e),
            Self::Pow2(e) => 1u128 << e,
        }
    }
}

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

fn parse_pcapng(bytes: &[u8], limits: &Limits) -> Result<Parsed, CaptureError> {
    let mut sink = Sink { frames: Vec::new(), warnings: Vec::new(), limits };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut big = false;
    let mut pos: usize = 0;
    while pos < bytes.len() {
        let off = u64_of(pos);
        let Some(raw_type) = e32(bytes, pos, false) else {
            sink.warnings.push(Warning::new(WarningKind::TruncatedRecord, None, Some(off), "short block header"));
            break;
        };
        if raw_type == SHB {
            // pcapng 4.1: the byte-order magic decides the endianness of this whole section.
            let Some(bom) = e32(bytes, pos + 8, false) else {
                if pos == 0 {
                    return Err(CaptureError::new(CaptureErrorKind::TooShort, off, "section header block"));
                }
                sink.warnings.push(Warning::new(WarningKind::TruncatedRecord, None, Some(off), "short section header"));
                break;
            };
            big = match bom {
                BYTE_ORDER_MAGIC => false,
                0x4d3c_2b1a => true,
                _ => {
                    return Err(CaptureError::new(
                        CaptureErrorKind::BadByteOrderMagic,
                        off + 8,
                        "section header block",
                    ));
                }
            };
            interfaces.clear();
        }
        let (Some(block_type), Some(total_len)) = (e32(bytes, pos, big), e32(bytes, pos + 4, big)) else {
            sink.warnings.push(Warning::new(WarningKind::TruncatedRecord, None, Some(off), "short block header"));
            break;
        };
        // pcapng 3.1: Block Total Length is a multiple of 4 and covers the 12 bytes of framing.
        let total = us(total_len);
        if total < 12 || !total.is_multiple_of(4) {
            if pos == 0 {
                return Err(CaptureError::new(CaptureErrorKind::BadBlock, off, "block total length"));
            }
            sink.warnings.push(Warning::new(
                WarningKind::MalformedRecord,
                None,
                Some(off),
                format!("block total length {total_len}; rest of file skipped"),
            ));
            break;
        }
        let Some(block) = sub(bytes, pos, total) else {
            sink.warnings.push(Warning::new(
                WarningKind::TruncatedRecord,
                None,
                Some(off),
                format!("block claims {total_len} bytes, {} remain", bytes.len() - pos),
            ));
            break;
        };
        if e32(block, total - 4, big) != Some(total_len) {
            sink.warnings.push(Warning::new(
                WarningKind::MalformedRecord,
                None,
                Some(off),
                "trailing block total length differs",
            ));
        }
        let body = block.get(8..total - 4).unwrap_or_default();
        match block_type {
            SHB => {}
            IDB => match parse_idb(body, big) {
                Some(i) => interfaces.push(i),
                None => {
                    sink.warnings.push(Warning::new(
                        WarningKind::MalformedRecord,
                        None,
                        Some(off),
                        "bad interface block",
                    ));
                    // Keep interface ids aligned with the file's numbering.
                    interfaces.push(Interface {
                        link_type: u32::MAX,
                        snaplen: 0,
                        units: TsUnits::Pow10(6),
                        offset_secs: 0,
                    });
                }
            },
            EPB | OPB => {
                // pcapng 4.3 EPB: interface id(4), ts high(4), ts low(4), captured len(4), original len(4).
                // Appendix A (obsolete PB): interface id(2), drops(2), then the same fields.
                let iface = if block_type == EPB { e32(body, 0, big) } else { e16(body, 0, big).map(u32::from) };
                let fields = (iface, e32(body, 4, big), e32(body, 8, big), e32(body, 12, big), e32(body, 16, big));
                let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(orig)) = fields else {
                    let number = sink.next_number(off)?;
                    sink.warnings.push(Warning::new(
                        WarningKind::MalformedRecord,
                        Some(number),
                        Some(off),
                        "short packet block",
                    ));
                    sink.push(off, Timestamp::default(), u32::MAX, 0, 0, &[])?;
                    continue_after(&mut pos, total);
                    continue;
                };
                let data = sub(body, 20, us(caplen));
                let ifc = interfaces.get(us(iface)).copied();
                let ts = ifc.map_or_else(Timestamp::default, |i| ts_of(i, hi, lo));
                let link = ifc.map_or(u32::MAX, |i| i.link_type);
                if ifc.is_none() {
                    let number = sink.next_number(off)?;
                    sink.warnings.push(Warning::new(
                        WarningKind::UnknownInterface,
                        Some(number),
                        Some(off),
                        format!("interface {iface}"),
                    ));
                }
                match data {
                    Some(d) => sink.push(off, ts, link, iface, orig, d)?,
                    None => {
                        let number = sink.next_number(off)?;
                        sink.warnings.push(Warning::new(
                            WarningKind::MalformedRecord,
                            Some(number),
                            Some(off),
                            format!("captured length {caplen} exceeds block"),
                        ));
                        sink.push(off, ts, link, iface, orig, &[])?;
                    }
                }
            }
            SPB => {
                // pcapng 4.4: original length, then data; captured length is min(original, snaplen, block).
                let orig = e32(body, 0, big).unwrap_or(0);
                let ifc = interfaces.first().copied();
                let avail = body.len().saturating_sub(4);
                let mut caplen = us(orig).min(avail);
                if let Some(i) = ifc
                    && i.snaplen != 0
                {
                    caplen = caplen.min(us(i.snaplen));
                }
                let data = body.get(4..4 + caplen).unwrap_or_default();
                let link = ifc.map_or(u32::MAX, |i| i.link_type);
                if ifc.is_none() {
                    let number = sink.next_number(off)?;
                    sink.warnings.push(Warning::new(
                        WarningKind::UnknownInterface,
                        Some(number),
                        Some(off),
                        "interface 0",
                    ));
                }
                // pcapng 4.4: an SPB carries no timestamp.
                sink.push(off, Timestamp::default(), link, 0, orig, data)?;
            }
            _ => {}
        }
        continue_after(&mut pos, total);
    }
    Ok(Parsed { format: FileFormat::Pcapng, gzip: false, frames: sink.frames, warnings: sink.warnings })
}

fn continue_after(pos: &mut usize, total: usize) {
    *pos = pos.saturating_add(total);
}

fn parse_idb(body: &[u8], big: bool) -> Option<Interface> {
    // pcapng 4.2: LinkType(2), Reserved(2), SnapLen(4), options.
    let link_type = u32::from(e16(body, 0, big)?);
    let snaplen = e32(body, 4, big)?;
    let mut units = TsUnits::Pow10(6);
    let mut offset_secs = 0i64;
    let mut p = 8usize;
    // pcapng 3.5: options are code(2) length(2) value padded to 32 bits; opt_endofopt = 0.
    while let (Some(code), Some(len)) = (e16(body, p, big), e16(body, p + 2, big)) {
        if code == 0 {
            break;
        }
        let len = usize::from(len);
        let Some(val) = sub(body, p + 4, len) else { break };
        match code {
            // 4.2 if_tsresol: MSB clear = negative power of 10, set = negative power of 2.
            9 => {
                if let Some(v) = u8_at(val, 0) {
                    let e = u32::from(v & 0x7f);
                    units = if v & 0x80 == 0 {
                        if e <= 18 { TsUnits::Pow10(e) } else { units }
                    } else if e <= 63 {
                        TsUnits::Pow2(e)
                    } else {
                        units
                    };
                }
            }
            // 4.2 if_tsoffset: seconds added to every timestamp.
            14 => {
                if let Some(v) = e64i(val, 0, big) {
                    offset_secs = v;
                }
            }
            _ => {}
        }
        p = p + 4 + len.div_ceil(4) * 4;
    }
    Some(Interface { link_type, snaplen, units, offset_secs })
}

fn ts_of(i: Interface, hi: u32, lo: u32) -> Timestamp {
    let raw = (u64::from(hi) << 32) | u64::from(lo);
    let per = i.units.per_second().max(1);
    let secs = u128::from(raw) / per;
    let frac = u128::from(raw) % per;
    let nanos = u32::try_from(frac * 1_000_000_000 / per).unwrap_or(0);
    let secs = i64::try_from(secs).unwrap_or(i64::MAX).saturating_add(i.offset_secs);
    Timestamp::new(secs, nanos)
}
