//! Named-pipe byte streams carried by SMB1 and SMB2 over TCP (ncacn_np).
//!
//! Framing: NetBIOS session service (RFC 1002 4.3.1) on port 139, the same 4-byte header with a 24-bit
//! length on port 445 ([MS-SMB2 2.1], [MS-CIFS 2.1]).
//! SMB2: header [MS-SMB2 2.2.1], CREATE 2.2.13/2.2.14, CLOSE 2.2.15, READ 2.2.19/2.2.20, WRITE 2.2.21,
//! IOCTL 2.2.31/2.2.32 (FSCTL_PIPE_TRANSCEIVE, [MS-FSCC 2.3.49]), TREE_CONNECT response 2.2.10.
//! SMB1: header [MS-CIFS 2.2.3.1], AndX 2.2.3.4, CLOSE 2.2.4.5, TRANSACTION 2.2.4.33 with
//! TRANS_TRANSACT_NMPIPE 2.2.5.6, READ_ANDX 2.2.4.42, WRITE_ANDX 2.2.4.43, TREE_CONNECT_ANDX 2.2.4.55,
//! NT_CREATE_ANDX 2.2.4.64.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use crate::Limits;
use crate::bytes::{arr, be32, le16, le32, sub, u8_at, us};
use crate::error::{Warning, WarningKind};
use crate::flow::{AppendFlow, Flow, FrameRef};
use crate::tcp::TcpStream;

/// SMB dialect family carrying a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SmbVersion {
    /// SMB1 / CIFS.
    Smb1,
    /// SMB 2.x / 3.x.
    Smb2,
}

/// An open file handle as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileId {
    /// SMB1 FID.
    Smb1(u16),
    /// SMB2 FileId: Persistent (first 8 bytes) and Volatile, as 16 wire bytes.
    Smb2([u8; 16]),
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smb1(fid) => write!(f, "0x{fid:04x}"),
            Self::Smb2(b) => {
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// One named pipe (one open of it) inside an SMB connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeStream {
    /// `tcp.stream` index of the carrying connection.
    pub tcp_stream: u32,
    /// Client endpoint of the carrying connection (the side sending SMB requests).
    pub client: SocketAddr,
    /// Server endpoint of the carrying connection.
    pub server: SocketAddr,
    /// SMB1 or SMB2.
    pub version: SmbVersion,
    /// The handle.
    pub file_id: FileId,
    /// Pipe name from the CREATE / NT_CREATE_ANDX request, as sent (e.g. `lsarpc`, `\lsarpc`), when captured.
    pub name: Option<String>,
    /// Client writes: SMB2 WRITE and IOCTL input, SMB1 WRITE_ANDX and TransactNmPipe data.
    pub c2s: Flow,
    /// Server reads: SMB2 READ and IOCTL output, SMB1 READ_ANDX and TransactNmPipe response data.
    pub s2c: Flow,
    /// Frame of the first message that carried pipe data (orders the pipes).
    pub first_frame: u32,
}

const PORT_SMB_DIRECT: u16 = 445;
const PORT_NBSS: u16 = 139;
const SMB1_MAGIC: [u8; 4] = [0xff, b'S', b'M', b'B'];
const SMB2_MAGIC: [u8; 4] = [0xfe, b'S', b'M', b'B'];
const SMB2_TRANSFORM: [u8; 4] = [0xfd, b'S', b'M', b'B'];
const SMB2_COMPRESSED: [u8; 4] = [0xfc, b'S', b'M', b'B'];

const STATUS_SUCCESS: u32 = 0;
const STATUS_PENDING: u32 = 0x0000_0103;
const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
/// [MS-FSCC 2.3.49] FSCTL_PIPE_TRANSCEIVE.
const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;

fn is_smb_magic(b: &[u8]) -> bool {
    matches!(arr::<4>(b, 0), Some(m) if m == SMB1_MAGIC || m == SMB2_MAGIC || m == SMB2_TRANSFORM || m == SMB2_COMPRESSED)
}

/// An NBSS session message at `data[p..]` that starts with an SMB protocol id.
fn plausible_message(data: &[u8], p: usize) -> bool {
    u8_at(data, p) == Some(0) && sub(data, p + 4, 4).is_some_and(is_smb_magic)
}

fn looks_like_smb(s: &TcpStream) -> bool {
    let ports = [s.client.port(), s.server.port()];
    if ports.contains(&PORT_SMB_DIRECT) || ports.contains(&PORT_NBSS) {
        return true;
    }
    [&s.c2s, &s.s2c].iter().any(|f| f.segments.first().is_some_and(|seg| plausible_message(&seg.data, 0)))
}

/// One NBSS session message payload.
struct Msg<'a> {
    /// Index of the TCP direction (0 = c2s, 1 = s2c).
    dir: usize,
    frame: FrameRef,
    body: &'a [u8],
    loss_before: bool,
}

fn split_messages<'a>(flow: &'a Flow, dir: usize, stream: u32, out: &mut Vec<Msg<'a>>, warnings: &mut Vec<Warning>) {
    let mut loss = false;
    for (si, seg) in flow.segments.iter().enumerate() {
        if si > 0 {
            loss = true;
        }
        let data = seg.data.as_slice();
        let mut p = 0usize;
        while p < data.len() {
            // RFC 1002 4.3.1: type(1), flags/length-high(1), length(2); port 445 uses a 24-bit length.
            let Some(hdr) = be32(data, p) else {
                loss = true;
                break;
            };
            let ty = hdr >> 24;
            let len = us(hdr & 0x00ff_ffff);
            let msg_end = p.saturating_add(4).saturating_add(len);
            let valid = match ty {
                0x00 => len == 0 || plausible_message(data, p) || (len < 4 && msg_end <= data.len()),
                0x81..=0x85 => true,
                _ => false,
            };
            if !valid {
                // Not at a message boundary (e.g. after a gap): find the next SMB message in this segment.
                let next = (p + 1..data.len()).find(|&q| plausible_message(data, q));
                warnings.push(Warning::new(
                    WarningKind::SmbResync,
                    flow.frame_of(seg.start + crate::bytes::u64_of(p)).map(|f| f.number),
                    None,
                    format!("tcp stream {stream}: skipped {} bytes", next.unwrap_or(data.len()) - p),
                ));
                loss = true;
                match next {
                    Some(q) => {
                        p = q;
                        continue;
                    }
                    None => break,
                }
            }
            let Some(body) = data.get(p + 4..msg_end) else {
                // The message runs into a gap or past the end of the capture.
                loss = true;
                break;
            };
            if ty == 0x00 && !body.is_empty() {
                let start = seg.start + crate::bytes::u64_of(p);
                let end = seg.start + crate::bytes::u64_of(msg_end);
                if let Some(frame) = flow.frame_for_range(start, end) {
                    out.push(Msg { dir, frame, body, loss_before: loss });
                    loss = false;
                }
            }
            p = msg_end;
        }
    }
}

#[derive(Debug)]
struct PipeBuilder {
    tcp_stream: u32,
    client: SocketAddr,
    server: SocketAddr,
    version: SmbVersion,
    file_id: FileId,
    name: Option<String>,
    c2s: AppendFlow,
    s2c: AppendFlow,
    first_frame: u32,
    bytes: [u64; 2],
    limited: bool,
}

/// What a request was, remembered until its response (matched by MessageId / PID+MID).
#[derive(Debug, Clone)]
enum Pending {
    Create { name: Option<String> },
    Read { fid: FileId, tree: Option<u32> },
    PipeCall { fid: FileId, tree: Option<u32> },
    Close { fid: FileId },
    TreeConnect,
    Other,
}

#[derive(Debug, Default)]
struct Conn {
    pending2: HashMap<u64, Pending>,
    pending1: HashMap<(u16, u16), Vec<(u8, Pending)>>,
    names: HashMap<FileId, String>,
    file_tree: HashMap<FileId, u32>,
    tree_is_pipe: HashMap<u32, bool>,
    pipes: HashMap<FileId, usize>,
    last_pipe: Option<FileId>,
    last_create: Option<[u8; 16]>,
    /// Whether TCP direction 0 / 1 carries requests (decided by the first SMB message seen in it).
    dir_requests: [Option<bool>; 2],
    warned_encrypted: bool,
}

struct Ctx<'l> {
    stream: &'l TcpStream,
    limits: &'l Limits,
    pipes: Vec<PipeBuilder>,
    warnings: Vec<Warning>,
    refused: bool,
}

impl Ctx<'_> {
    fn warn(&mut self, kind: WarningKind, frame: u32, detail: impl Into<String>) {
        self.warnings.push(Warning::new(kind, Some(frame), None, detail));
    }

    /// Appends pipe data; `to_client` selects s2c.
    fn append(
        &mut self,
        conn: &mut Conn,
        fid: FileId,
        tree: Option<u32>,
        to_client: bool,
        data: &[u8],
        frame: FrameRef,
    ) {
        // A handle opened on a tree that is known not to be IPC$ is a file, not a pipe.
        let tree = conn.file_tree.get(&fid).copied().or(tree);
        if tree.and_then(|t| conn.tree_is_pipe.get(&t)) == Some(&false) {
            return;
        }
        conn.last_pipe = Some(fid);
        let idx = match conn.pipes.get(&fid) {
            Some(&i) => i,
            None => {
                if self.pipes.len() >= self.limits.max_pipes {
                    if !self.refused {
                        self.refused = true;
                        self.warn(WarningKind::FlowLimit, frame.number, "too many smb pipes");
                    }
                    return;
                }
                self.pipes.push(PipeBuilder {
                    tcp_stream: self.stream.index,
                    client: self.stream.client,
                    server: self.stream.server,
                    version: match fid {
                        FileId::Smb1(_) => SmbVersion::Smb1,
                        FileId::Smb2(_) => SmbVersion::Smb2,
                    },
                    file_id: fid,
                    name: conn.names.get(&fid).cloned(),
                    c2s: AppendFlow::default(),
                    s2c: AppendFlow::default(),
                    first_frame: frame.number,
                    bytes: [0, 0],
                    limited: false,
                });
                let i = self.pipes.len() - 1;
                conn.pipes.insert(fid, i);
                i
            }
        };
        let Some(p) = self.pipes.get_mut(idx) else { return };
        let d = usize::from(to_client);
        let total = p.bytes.get(d).copied().unwrap_or(0).saturating_add(crate::bytes::u64_of(data.len()));
        if total > self.limits.max_flow_bytes {
            if !p.limited {
                p.limited = true;
                self.warnings.push(Warning::new(
                    WarningKind::FlowLimit,
                    Some(frame.number),
                    None,
                    format!("pipe {fid}: further data dropped"),
                ));
            }
            return;
        }
        if let Some(b) = p.bytes.get_mut(d) {
            *b = total;
        }
        if to_client { p.s2c.append(data, frame) } else { p.c2s.append(data, frame) }
    }

    fn mark_loss(&mut self, conn: &Conn, to_client: bool) {
        for &i in conn.pipes.values() {
            if let Some(p) = self.pipes.get_mut(i) {
                if to_client { p.s2c.mark_loss() } else { p.c2s.mark_loss() }
            }
        }
    }

    /// Forget the handle -> pipe binding so that a reused handle starts a new pipe stream.
    fn close(conn: &mut Conn, fid: FileId) {
        conn.pipes.remove(&fid);
    }
}

/// Decodes a UTF-16LE name, stopping at a NUL.
fn utf16_name(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// `len` bytes at `off` of `m`, or a warning.
fn field<'a>(ctx: &mut Ctx<'_>, m: &'a [u8], off: usize, len: usize, frame: u32, what: &str) -> Option<&'a [u8]> {
    let r = sub(m, off, len);
    if r.is_none() {
        ctx.warn(
            WarningKind::MalformedSmb,
            frame,
            format!("{what}: {len} bytes at {off} outside the {}-byte message", m.len()),
        );
    }
    r
}

fn smb2_fid(b: &[u8], off: usize, conn: &Conn) -> Option<FileId> {
    let raw = arr::<16>(b, off)?;
    // [MS-SMB2 3.2.4.1.4] related compounded requests use 0xFF.. to mean "the FileId of the previous CREATE".
    if raw == [0xff; 16] {
        return conn.last_create.map(FileId::Smb2);
    }
    Some(FileId::Smb2(raw))
}

fn smb2_message(ctx: &mut Ctx<'_>, conn: &mut Conn, m: &[u8], frame: FrameRef) {
    let f = frame.number;
    // [MS-SMB2 2.2.1]: StructureSize(2)=64 at 4, Status at 8, Command at 12, Flags at 16, MessageId at 24,
    // TreeId at 36 unless SMB2_FLAGS_ASYNC_COMMAND.
    let (Some(status), Some(cmd), Some(flags), Some(msg_id)) = (le32(m, 8), le16(m, 12), le32(m, 16), arr::<8>(m, 24))
    else {
        ctx.warn(WarningKind::MalformedSmb, f, "short smb2 header");
        return;
    };
    let msg_id = u64::from_le_bytes(msg_id);
    let response = flags & 0x1 != 0;
    let tree = if flags & 0x2 == 0 { le32(m, 36) } else { None };
    let Some(b) = m.get(64..) else {
        ctx.warn(WarningKind::MalformedSmb, f, "short smb2 header");
        return;
    };
    if !response {
        let pending = match cmd {
            // CREATE request 2.2.13: NameOffset(2) at 44, NameLength(2) at 46, offsets from the header.
            0x05 => {
                let name = match (le16(b, 44), le16(b, 46)) {
                    (Some(o), Some(l)) => sub(m, usize::from(o), usize::from(l)).map(utf16_name),
                    _ => None,
                };
                Pending::Create { name }
            }
            0x03 => Pending::TreeConnect,
            0x06 => match smb2_fid(b, 8, conn) {
                Some(fid) => Pending::Close { fid },
                None => Pending::Other,
            },
            // READ request 2.2.19: FileId at 16.
            0x08 => match smb2_fid(b, 16, conn) {
                Some(fid) => Pending::Read { fid, tree },
                None => Pending::Other,
            },
            // WRITE request 2.2.21: DataOffset(2) at 2, Length(4) at 4, FileId at 16.
            0x09 => {
                let (Some(off), Some(len), Some(fid)) = (le16(b, 2), le32(b, 4), smb2_fid(b, 16, conn)) else {
                    ctx.warn(WarningKind::MalformedSmb, f, "short smb2 write request");
                    return;
                };
                if let Some(data) = field(ctx, m, usize::from(off), us(len), f, "smb2 write data") {
                    ctx.append(conn, fid, tree, false, data, frame);
                }
                Pending::Other
            }
            // IOCTL request 2.2.31: CtlCode at 4, FileId at 8, InputOffset at 24, InputCount at 28.
            0x0b => {
                let (Some(code), Some(fid)) = (le32(b, 4), smb2_fid(b, 8, conn)) else {
                    ctx.warn(WarningKind::MalformedSmb, f, "short smb2 ioctl request");
                    return;
                };
                if code != FSCTL_PIPE_TRANSCEIVE {
                    return;
                }
                let (Some(off), Some(len)) = (le32(b, 24), le32(b, 28)) else {
                    ctx.warn(WarningKind::MalformedSmb, f, "short smb2 ioctl request");
                    return;
                };
                if let Some(data) = field(ctx, m, us(off), us(len), f, "smb2 ioctl input") {
                    ctx.append(conn, fid, tree, false, data, frame);
                }
                Pending::PipeCall { fid, tree }
            }
            _ => return,
        };
        if conn.pending2.len() < 65_536 {
            conn.pending2.insert(msg_id, pending);
        }
        return;
    }
    // Interim response (3.3.4.2): the final response follows with the same MessageId.
    if status == STATUS_PENDING && flags & 0x2 != 0 {
        return;
    }
    let pending = conn.pending2.remove(&msg_id);
    let data_ok = status == STATUS_SUCCESS || status == STATUS_BUFFER_OVERFLOW;
    let size = le16(b, 0);
    match cmd {
        // TREE_CONNECT response 2.2.10: ShareType at 2, 0x02 = SMB2_SHARE_TYPE_PIPE.
        0x03 if status == STATUS_SUCCESS && size == Some(16) => {
            if let (Some(t), Some(ty)) = (tree, u8_at(b, 2)) {
                conn.tree_is_pipe.insert(t, ty == 0x02);
            }
        }
        // CREATE response 2.2.14: FileId at 64.
        0x05 if status == STATUS_SUCCESS && size == Some(89) => {
            let Some(raw) = arr::<16>(b, 64) else {
                ctx.warn(WarningKind::MalformedSmb, f, "short smb2 create response");
                return;
            };
            let fid = FileId::Smb2(raw);
            conn.last_create = Some(raw);
            Ctx::close(conn, fid);
            if let Some(Pending::Create { name: Some(n) }) = pending {
                conn.names.insert(fid, n);
            }
            if let Some(t) = tree {
                conn.file_tree.insert(fid, t);
            }
        }
        0x06 if status == STATUS_SUCCESS => {
            if let Some(Pending::Close { fid }) = pending {
                Ctx::close(conn, fid);
            }
        }
        // READ response 2.2.20: StructureSize 17, DataOffset(1) at 2, DataLength(4) at 4.
        0x08 if data_ok && size == Some(17) => {
            let (Some(off), Some(len)) = (u8_at(b, 2), le32(b, 4)) else { return };
            let (fid, rtree) = match pending {
                Some(Pending::Read { fid, tree }) => (Some(fid), tree),
                // Request not captured: attribute to the pipe used last on this connection.
                _ => (conn.last_pipe, tree),
            };
            let Some(fid) = fid else {
                ctx.warn(WarningKind::MalformedSmb, f, "smb2 read response for an unknown file");
                return;
            };
            if let Some(data) = field(ctx, m, usize::from(off), us(len), f, "smb2 read data") {
                ctx.append(conn, fid, rtree, true, data, frame);
            }
        }
        // IOCTL response 2.2.32: StructureSize 49, CtlCode at 4, FileId at 8, OutputOffset at 32,
        // OutputCount at 36. STATUS_BUFFER_OVERFLOW still carries output (the rest follows in READs).
        0x0b if data_ok && size == Some(49) => {
            let (Some(code), Some(fid), Some(off), Some(len)) =
                (le32(b, 4), smb2_fid(b, 8, conn), le32(b, 32), le32(b, 36))
            else {
                ctx.warn(WarningKind::MalformedSmb, f, "short smb2 ioctl response");
                return;
            };
            if code != FSCTL_PIPE_TRANSCEIVE {
                return;
            }
            if let Some(data) = field(ctx, m, us(off), us(len), f, "smb2 ioctl output") {
                ctx.append(conn, fid, tree, true, data, frame);
            }
        }
        _ => {}
    }
}

fn smb2_packet(ctx: &mut Ctx<'_>, conn: &mut Conn, body: &[u8], frame: FrameRef) {
    let mut off = 0usize;
    // [MS-SMB2 3.2.4.1.4]: compounded messages are chained by NextCommand (offset from this header).
    for _ in 0..256 {
        let Some(m) = body.get(off..) else { return };
        match arr::<4>(m, 0) {
            Some(SMB2_MAGIC) => {}
            Some(SMB2_TRANSFORM | SMB2_COMPRESSED) => {
                if !conn.warned_encrypted {
                    conn.warned_encrypted = true;
                    ctx.warn(WarningKind::EncryptedSmb, frame.number, format!("tcp stream {}", ctx.stream.index));
                }
                return;
            }
            _ => {
                ctx.warn(WarningKind::MalformedSmb, frame.number, "bad smb2 protocol id");
                return;
            }
        }
        let next = le32(m, 20).map_or(0, us);
        let this = if next == 0 {
            m
        } else if next >= 64 && next <= m.len() {
            m.get(..next).unwrap_or(m)
        } else {
            ctx.warn(WarningKind::MalformedSmb, frame.number, format!("bad smb2 next command offset {next}"));
            return;
        };
        smb2_message(ctx, conn, this, frame);
        if next == 0 {
            return;
        }
        off += next;
    }
}

fn andx_command(cmd: u8) -> bool {
    // [MS-CIFS 2.2.3.4] commands whose parameter block starts with AndXCommand/AndXOffset.
    matches!(cmd, 0x24 | 0x2d | 0x2e | 0x2f | 0x73 | 0x74 | 0x75 | 0xa2)
}

/// Word (u16 LE) `i` of an SMB1 parameter block.
fn word(words: &[u8], byte_off: usize) -> Option<u16> {
    le16(words, byte_off)
}

#[expect(clippy::too_many_lines, reason = "one match over the SMB1 commands carrying pipe data")]
fn smb1_packet(ctx: &mut Ctx<'_>, conn: &mut Conn, m: &[u8], frame: FrameRef) {
    let f = frame.number;
    // [MS-CIFS 2.2.3.1]: Command at 4, Status at 5, Flags at 9, Flags2 at 10, TID at 24, PIDLow at 26, MID at 30.
    let (Some(first_cmd), Some(status), Some(flags), Some(flags2), Some(tid), Some(pid), Some(mid)) =
        (u8_at(m, 4), le32(m, 5), u8_at(m, 9), le16(m, 10), le16(m, 24), le16(m, 26), le16(m, 30))
    else {
        ctx.warn(WarningKind::MalformedSmb, f, "short smb1 header");
        return;
    };
    let response = flags & 0x80 != 0;
    let unicode = flags2 & 0x8000 != 0;
    let tree = Some(u32::from(tid));
    // STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW, or the DOS error ERRDOS/ERRmoredata (class 1, code 234).
    let data_ok =
        status == STATUS_SUCCESS || status == STATUS_BUFFER_OVERFLOW || (flags2 & 0x4000 == 0 && status == 0x00ea_0001);
    let key = (pid, mid);
    let mut requests = if response { conn.pending1.remove(&key).unwrap_or_default() } else { Vec::new() };
    let mut cmd = first_cmd;
    let mut block = 32usize;
    for _ in 0..16 {
        // 2.2.3.2-3: WordCount(1), Words, ByteCount(2), Bytes.
        let Some(wc) = u8_at(m, block) else {
            ctx.warn(WarningKind::MalformedSmb, f, "smb1 parameter block outside the message");
            break;
        };
        let wlen = usize::from(wc) * 2;
        let Some(words) = sub(m, block + 1, wlen) else {
            ctx.warn(WarningKind::MalformedSmb, f, "smb1 parameter words outside the message");
            break;
        };
        let bytes_start = block + 1 + wlen + 2;
        let bytes = le16(m, block + 1 + wlen).and_then(|bc| sub(m, bytes_start, usize::from(bc))).unwrap_or_default();
        if response {
            let req = requests.iter().position(|(c, _)| *c == cmd).map(|i| requests.remove(i).1);
            match cmd {
                // NT_CREATE_ANDX response 2.2.4.64.2: OplockLevel at 4, FID at 5.
                0xa2 if status == STATUS_SUCCESS && wc >= 34 => {
                    if let Some(fid) = word(words, 5).map(FileId::Smb1) {
                        Ctx::close(conn, fid);
                        if let Some(Pending::Create { name: Some(n) }) = req {
                            conn.names.insert(fid, n);
                        }
                        conn.file_tree.insert(fid, u32::from(tid));
                    }
                }
                // TREE_CONNECT_ANDX response 2.2.4.55.2: Bytes start with the Service string ("IPC" for IPC$).
                0x75 if status == STATUS_SUCCESS && wc >= 3 => {
                    let service: Vec<u8> = bytes.iter().copied().take_while(|&c| c != 0).collect();
                    conn.tree_is_pipe.insert(u32::from(tid), service == b"IPC");
                }
                0x04 if status == STATUS_SUCCESS => {
                    if let Some(Pending::Close { fid }) = req {
                        Ctx::close(conn, fid);
                    }
                }
                // READ_ANDX response 2.2.4.42.2: DataLength at 10, DataOffset at 12, DataLengthHigh at 14.
                0x2e if data_ok && wc >= 12 => {
                    let (Some(len), Some(off)) = (word(words, 10), word(words, 12)) else { break };
                    let high = word(words, 14).map_or(0, u32::from);
                    let mut len = us(u32::from(len));
                    let with_high = us((high << 16) | u32::from(word(words, 10).unwrap_or(0)));
                    if high != 0 && sub(m, usize::from(off), with_high).is_some() {
                        len = with_high;
                    }
                    let (fid, rtree) = match req {
                        Some(Pending::Read { fid, tree }) => (Some(fid), tree),
                        _ => (conn.last_pipe, tree),
                    };
                    if let (Some(fid), Some(data)) =
                        (fid, field(ctx, m, usize::from(off), len, f, "smb1 read_andx data"))
                    {
                        ctx.append(conn, fid, rtree, true, data, frame);
                    }
                }
                // TRANSACTION response 2.2.4.33.2: DataCount at 12, DataOffset at 14.
                0x25 if data_ok && wc >= 10 => {
                    if let Some(Pending::PipeCall { fid, tree: rtree }) = req
                        && let (Some(len), Some(off)) = (word(words, 12), word(words, 14))
                        && let Some(data) =
                            field(ctx, m, usize::from(off), usize::from(len), f, "smb1 transaction data")
                    {
                        ctx.append(conn, fid, rtree, true, data, frame);
                    }
                }
                _ => {}
            }
        } else {
            let pending = match cmd {
                // NT_CREATE_ANDX request 2.2.4.64.1: NameLength at 5; FileName in Bytes, Unicode names are
                // 2-byte aligned from the start of the header.
                0xa2 => {
                    let nlen = word(words, 5).map_or(0, usize::from);
                    let name = if unicode {
                        let pad = bytes_start % 2;
                        bytes.get(pad..).map(|b| utf16_name(b.get(..nlen.min(b.len())).unwrap_or(b)))
                    } else {
                        let raw: Vec<u8> = bytes.iter().copied().take(nlen).take_while(|&c| c != 0).collect();
                        Some(String::from_utf8_lossy(&raw).into_owned())
                    };
                    Some(Pending::Create { name })
                }
                0x75 => Some(Pending::TreeConnect),
                0x04 => word(words, 0).map(|fid| Pending::Close { fid: FileId::Smb1(fid) }),
                // READ_ANDX request 2.2.4.42.1: FID at 4.
                0x2e => word(words, 4).map(|fid| Pending::Read { fid: FileId::Smb1(fid), tree }),
                // WRITE_ANDX request 2.2.4.43.1: FID at 4, WriteMode at 14, DataLengthHigh at 18,
                // DataLength at 20, DataOffset at 22.
                0x2f if wc >= 12 => {
                    let (Some(fid), Some(mode), Some(len), Some(off)) =
                        (word(words, 4), word(words, 14), word(words, 20), word(words, 22))
                    else {
                        break;
                    };
                    let high = word(words, 18).map_or(0, u32::from);
                    let mut len = usize::from(len);
                    let with_high = us((high << 16) | u32::from(word(words, 20).unwrap_or(0)));
                    if high != 0 && sub(m, usize::from(off), with_high).is_some() {
                        len = with_high;
                    }
                    let mut off = usize::from(off);
                    // WritetMode_RAW | WritetMode_MsgStart: the data starts with a 2-byte message length.
                    if mode & 0x000c == 0x000c && len >= 2 {
                        off += 2;
                        len -= 2;
                    }
                    let fid = FileId::Smb1(fid);
                    if let Some(data) = field(ctx, m, off, len, f, "smb1 write_andx data") {
                        ctx.append(conn, fid, tree, false, data, frame);
                    }
                    Some(Pending::Other)
                }
                // TRANSACTION request 2.2.4.33.1: DataCount at 22, DataOffset at 24, SetupCount at 26, Setup at 28;
                // TransactNmPipe (2.2.5.6.1): Setup[0] = 0x0026, Setup[1] = FID.
                0x25 if wc >= 16 => {
                    let count = u8_at(words, 26).unwrap_or(0);
                    if count >= 2
                        && word(words, 28) == Some(0x0026)
                        && let (Some(fid), Some(len), Some(off)) = (word(words, 30), word(words, 22), word(words, 24))
                    {
                        let fid = FileId::Smb1(fid);
                        if let Some(data) =
                            field(ctx, m, usize::from(off), usize::from(len), f, "smb1 transaction data")
                        {
                            ctx.append(conn, fid, tree, false, data, frame);
                        }
                        Some(Pending::PipeCall { fid, tree })
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(p) = pending
                && requests.len() < 16
            {
                requests.push((cmd, p));
            }
        }
        if !andx_command(cmd) || wc < 2 {
            break;
        }
        // AndXCommand at 0 (0xFF = none), AndXOffset at 2, from the start of the SMB header.
        let (Some(next_cmd), Some(next_off)) = (u8_at(words, 0), word(words, 2)) else { break };
        let next_off = usize::from(next_off);
        if next_cmd == 0xff {
            break;
        }
        if next_off <= block {
            ctx.warn(WarningKind::MalformedSmb, f, "smb1 andx offset does not advance");
            break;
        }
        cmd = next_cmd;
        block = next_off;
    }
    if !response && !requests.is_empty() && conn.pending1.len() < 65_536 {
        conn.pending1.insert(key, requests);
    }
}

fn is_request(body: &[u8]) -> Option<bool> {
    match arr::<4>(body, 0)? {
        SMB1_MAGIC => Some(u8_at(body, 9)? & 0x80 == 0),
        SMB2_MAGIC => Some(le32(body, 16)? & 1 == 0),
        _ => None,
    }
}

pub(crate) fn extract(streams: &[TcpStream], limits: &Limits) -> crate::PipeExtraction {
    let mut all_pipes: Vec<PipeBuilder> = Vec::new();
    let mut warnings = Vec::new();
    for stream in streams.iter().filter(|s| looks_like_smb(s)) {
        let mut msgs: Vec<Msg<'_>> = Vec::new();
        split_messages(&stream.c2s, 0, stream.index, &mut msgs, &mut warnings);
        split_messages(&stream.s2c, 1, stream.index, &mut msgs, &mut warnings);
        // Process both directions in frame order so that requests precede their responses.
        msgs.sort_by_key(|m| m.frame.number);
        let mut ctx = Ctx { stream, limits, pipes: Vec::new(), warnings: Vec::new(), refused: false };
        let mut conn = Conn::default();
        for msg in &msgs {
            let slot = conn.dir_requests.get_mut(msg.dir);
            let requests = match slot {
                Some(Some(r)) => *r,
                Some(s) => {
                    let r = is_request(msg.body).unwrap_or(msg.dir == 0);
                    *s = Some(r);
                    r
                }
                None => msg.dir == 0,
            };
            if msg.loss_before {
                ctx.mark_loss(&conn, !requests);
            }
            match arr::<4>(msg.body, 0) {
                Some(SMB1_MAGIC) => smb1_packet(&mut ctx, &mut conn, msg.body, msg.frame),
                Some(_) => smb2_packet(&mut ctx, &mut conn, msg.body, msg.frame),
                None => {}
            }
        }
        if all_pipes.len().saturating_add(ctx.pipes.len()) > limits.max_pipes {
            warnings.push(Warning::new(WarningKind::FlowLimit, None, None, "too many smb pipes"));
            break;
        }
        all_pipes.append(&mut ctx.pipes);
        warnings.append(&mut ctx.warnings);
    }
    all_pipes.sort_by_key(|p| (p.first_frame, p.tcp_stream));
    let pipes = all_pipes
        .into_iter()
        .map(|p| PipeStream {
            tcp_stream: p.tcp_stream,
            client: p.client,
            server: p.server,
            version: p.version,
            file_id: p.file_id,
            name: p.name,
            c2s: p.c2s.flow,
            s2c: p.s2c.flow,
            first_frame: p.first_frame,
        })
        .collect();
    crate::PipeExtraction { pipes, warnings }
}
