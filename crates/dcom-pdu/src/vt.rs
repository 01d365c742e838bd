//! The verification trailer at the end of a request stub (MS-RPCE 2.2.2.13).

use bytes::Bytes;

use crate::error::{PduError, PduErrorKind};
use crate::header::{ByteOrder, DataRep, PacketType};
use crate::syntax::SyntaxId;
use crate::wire::{Reader, Writer, pad_to};

/// `rpc_sec_verification_trailer.signature` (MS-RPCE 2.2.2.13.1).
pub const VT_SIGNATURE: [u8; 8] = [0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71];

/// SEC_VT_COMMAND_BITMASK_1 (MS-RPCE 2.2.2.13.2).
pub const SEC_VT_COMMAND_BITMASK_1: u16 = 0x0001;
/// SEC_VT_COMMAND_PCONTEXT (MS-RPCE 2.2.2.13.4).
pub const SEC_VT_COMMAND_PCONTEXT: u16 = 0x0002;
/// SEC_VT_COMMAND_HEADER2 (MS-RPCE 2.2.2.13.3).
pub const SEC_VT_COMMAND_HEADER2: u16 = 0x0003;
/// SEC_VT_COMMAND_END: set on the last command (MS-RPCE 2.2.2.13).
pub const SEC_VT_COMMAND_END: u16 = 0x4000;
/// SEC_VT_MUST_PROCESS_COMMAND: a receiver that does not understand the command must reject the PDU.
pub const SEC_VT_MUST_PROCESS_COMMAND: u16 = 0x8000;
/// Mask of the command number (bits 0..13).
pub const SEC_VT_COMMAND_MASK: u16 = 0x3fff;

/// `rpc_sec_vt_bitmask.bits`: CLIENT_SUPPORT_HEADER_SIGNING (MS-RPCE 2.2.2.13.2).
pub const CLIENT_SUPPORT_HEADER_SIGNING: u32 = 0x0000_0001;

/// How far from the end of a stub [`VerificationTrailer::find`] looks for the signature.
pub const VT_SEARCH_WINDOW: usize = 1024;

/// `rpc_sec_vt_header2` contents (MS-RPCE 2.2.2.13.3): a copy of the request header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VtHeader2 {
    /// `PTYPE` of the request.
    pub ptype: PacketType,
    /// `Reserved1`: 0 when sent, kept as received.
    pub reserved1: u8,
    /// `Reserved2`: 0 when sent, kept as received.
    pub reserved2: u16,
    /// `drep` of the request.
    pub drep: DataRep,
    /// `call_id` of the request.
    pub call_id: u32,
    /// `p_cont_id` of the request.
    pub p_cont_id: u16,
    /// `opnum` of the request.
    pub opnum: u16,
}

/// One verification trailer command. The SEC_VT_COMMAND_END flag is not stored: it is implied on the last
/// command of a [`VerificationTrailer`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VtCommand {
    /// `rpc_sec_vt_bitmask` (MS-RPCE 2.2.2.13.2).
    Bitmask1 {
        /// SEC_VT_MUST_PROCESS_COMMAND.
        must_process: bool,
        /// `bits`.
        bits: u32,
    },
    /// `rpc_sec_vt_pcontext` (MS-RPCE 2.2.2.13.4).
    Pcontext {
        /// SEC_VT_MUST_PROCESS_COMMAND.
        must_process: bool,
        /// `InterfaceId`.
        interface_id: SyntaxId,
        /// `TransferSyntax`.
        transfer_syntax: SyntaxId,
    },
    /// `rpc_sec_vt_header2` (MS-RPCE 2.2.2.13.3).
    Header2 {
        /// SEC_VT_MUST_PROCESS_COMMAND.
        must_process: bool,
        /// The copied header fields.
        header: VtHeader2,
    },
    /// A command this codec does not know, preserved as is.
    Unknown {
        /// The command number (bits 0..13).
        command: u16,
        /// SEC_VT_MUST_PROCESS_COMMAND: if set, the receiver must reject the request.
        must_process: bool,
        /// The command data (`length` bytes).
        data: Bytes,
    },
}

impl VtCommand {
    fn must_process(&self) -> bool {
        match self {
            Self::Bitmask1 { must_process, .. }
            | Self::Pcontext { must_process, .. }
            | Self::Header2 { must_process, .. }
            | Self::Unknown { must_process, .. } => *must_process,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Self::Bitmask1 { .. } => 4,
            Self::Pcontext { .. } => 2 * SyntaxId::SIZE,
            Self::Header2 { .. } => 16,
            Self::Unknown { data, .. } => data.len(),
        }
    }
}

/// A verification trailer: the commands after the signature (MS-RPCE 2.2.2.13).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VerificationTrailer {
    /// The commands in wire order; SEC_VT_COMMAND_END is written on the last one.
    pub commands: Vec<VtCommand>,
}

fn invalid(reason: &'static str, offset: usize) -> PduError {
    PduError::new(PduErrorKind::InvalidVerificationTrailer { reason }, offset, "verification trailer")
}

impl VerificationTrailer {
    /// A trailer with `commands`.
    #[must_use]
    pub const fn new(commands: Vec<VtCommand>) -> Self {
        Self { commands }
    }

    /// Encoded size: signature plus each command's 4-byte header and data.
    #[must_use]
    pub fn size(&self) -> usize {
        self.commands.iter().fold(VT_SIGNATURE.len(), |acc, c| acc.saturating_add(4).saturating_add(c.data_len()))
    }

    /// Whether a command that must be processed is one this codec does not know (the server then rejects the
    /// request, MS-RPCE 3.3.1.5.2.2).
    #[must_use]
    pub fn has_unknown_must_process(&self) -> bool {
        self.commands.iter().any(|c| matches!(c, VtCommand::Unknown { .. }) && c.must_process())
    }

    /// The PCONTEXT command, if any.
    #[must_use]
    pub fn pcontext(&self) -> Option<(SyntaxId, SyntaxId)> {
        self.commands.iter().find_map(|c| match c {
            VtCommand::Pcontext { interface_id, transfer_syntax, .. } => Some((*interface_id, *transfer_syntax)),
            _ => None,
        })
    }

    /// The HEADER2 command, if any.
    #[must_use]
    pub fn header2(&self) -> Option<VtHeader2> {
        self.commands.iter().find_map(|c| match c {
            VtCommand::Header2 { header, .. } => Some(*header),
            _ => None,
        })
    }

    /// The BITMASK_1 bits, if any.
    #[must_use]
    pub fn bitmask1(&self) -> Option<u32> {
        self.commands.iter().find_map(|c| match c {
            VtCommand::Bitmask1 { bits, .. } => Some(*bits),
            _ => None,
        })
    }

    /// Decodes a trailer whose signature starts at `offset` in `stub` and which must end exactly at the end of
    /// `stub`, with SEC_VT_COMMAND_END on its last command and only there (MS-RPCE 2.2.2.13).
    pub fn decode_at(stub: &Bytes, offset: usize, order: ByteOrder) -> Result<Self, PduError> {
        let region = stub.get(offset..).ok_or_else(|| invalid("offset beyond the stub", offset))?;
        let mut r = Reader::new(region, offset, order);
        if r.take(VT_SIGNATURE.len(), "verification trailer signature")? != VT_SIGNATURE {
            return Err(invalid("signature mismatch", offset));
        }
        let mut commands = Vec::new();
        loop {
            if r.remaining() == 0 {
                return Err(invalid("no command carries SEC_VT_COMMAND_END", r.pos()));
            }
            let at = r.pos();
            let raw = r.u16("verification trailer command")?;
            let length = r.u16("verification trailer length")?;
            let data_start = r.pos();
            r.take(usize::from(length), "verification trailer command data")?;
            let data = stub.slice(data_start..r.pos());
            let must_process = raw & SEC_VT_MUST_PROCESS_COMMAND != 0;
            let command = raw & SEC_VT_COMMAND_MASK;
            let mut d = Reader::new(&data, data_start, order);
            let cmd = match command {
                SEC_VT_COMMAND_BITMASK_1 => {
                    // MS-RPCE 2.2.2.13.2: length MUST be 4.
                    if length != 4 {
                        return Err(invalid("bitmask_1 length is not 4", at));
                    }
                    VtCommand::Bitmask1 { must_process, bits: d.u32("rpc_sec_vt_bitmask.bits")? }
                }
                SEC_VT_COMMAND_PCONTEXT => {
                    // MS-RPCE 2.2.2.13.4: length MUST be 0x28.
                    if length != 0x28 {
                        return Err(invalid("pcontext length is not 0x28", at));
                    }
                    let interface_id = SyntaxId::read(&mut d)?;
                    let transfer_syntax = SyntaxId::read(&mut d)?;
                    VtCommand::Pcontext { must_process, interface_id, transfer_syntax }
                }
                SEC_VT_COMMAND_HEADER2 => {
                    // MS-RPCE 2.2.2.13.3: length MUST be 0x10.
                    if length != 0x10 {
                        return Err(invalid("header2 length is not 0x10", at));
                    }
                    let header = VtHeader2 {
                        ptype: PacketType(d.u8("rpc_sec_vt_header2.PTYPE")?),
                        reserved1: d.u8("rpc_sec_vt_header2.Reserved1")?,
                        reserved2: d.u16("rpc_sec_vt_header2.Reserved2")?,
                        drep: DataRep(d.array::<4>("rpc_sec_vt_header2.drep")?),
                        call_id: d.u32("rpc_sec_vt_header2.call_id")?,
                        p_cont_id: d.u16("rpc_sec_vt_header2.p_cont_id")?,
                        opnum: d.u16("rpc_sec_vt_header2.opnum")?,
                    };
                    VtCommand::Header2 { must_process, header }
                }
                _ => VtCommand::Unknown { command, must_process, data },
            };
            commands.push(cmd);
            if raw & SEC_VT_COMMAND_END != 0 {
                if r.remaining() != 0 {
                    return Err(invalid("bytes after the SEC_VT_COMMAND_END command", r.pos()));
                }
                return Ok(Self { commands });
            }
        }
    }

    /// Searches the end of a request stub for a verification trailer (MS-RPCE 2.2.2.13: the trailer follows the
    /// stub data at a 4-byte aligned offset from the stub start and ends the stub).
    ///
    /// Candidates are 4-aligned offsets holding the signature within the last [`VT_SEARCH_WINDOW`] bytes, tried
    /// from the end backwards; the first that decodes to the end of the stub wins. Returns the offset of the
    /// signature and the trailer; `Ok(None)` if no candidate holds the signature; an error if candidates exist but
    /// none decodes (the error of the last candidate tried).
    pub fn find(stub: &Bytes, order: ByteOrder) -> Result<Option<(usize, Self)>, PduError> {
        let min_start = stub.len().saturating_sub(VT_SEARCH_WINDOW);
        let Some(last) = stub.len().checked_sub(VT_SIGNATURE.len() + 4) else {
            return Ok(None);
        };
        let mut candidate = last - last % 4;
        let mut error = None;
        loop {
            if candidate < min_start {
                break;
            }
            if stub.get(candidate..candidate.saturating_add(VT_SIGNATURE.len())) == Some(&VT_SIGNATURE[..]) {
                match Self::decode_at(stub, candidate, order) {
                    Ok(vt) => return Ok(Some((candidate, vt))),
                    Err(e) => error = Some(e),
                }
            }
            let Some(next) = candidate.checked_sub(4) else { break };
            candidate = next;
        }
        error.map_or(Ok(None), Err)
    }

    /// Appends zero padding to align `stub.len() - stub_start` to 4, then the trailer, with SEC_VT_COMMAND_END on
    /// the last command (MS-RPCE 2.2.2.13). `stub_start` is where the stub begins in `stub`.
    pub fn append_to(&self, stub: &mut Vec<u8>, stub_start: usize, order: ByteOrder) -> Result<(), PduError> {
        let pad = pad_to(stub.len().saturating_sub(stub_start), 4);
        let start = stub.len();
        let mut w = Writer::new(stub, order);
        w.zeros(pad);
        if let Err(e) = self.write(&mut w) {
            stub.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    /// Appends the trailer (signature and commands) without any alignment padding.
    pub fn encode(&self, out: &mut Vec<u8>, order: ByteOrder) -> Result<(), PduError> {
        let start = out.len();
        let mut w = Writer::new(out, order);
        if let Err(e) = self.write(&mut w) {
            out.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), PduError> {
        if self.commands.is_empty() {
            return Err(invalid("a trailer needs at least one command", 0));
        }
        w.bytes(&VT_SIGNATURE);
        let last = self.commands.len() - 1;
        for (i, c) in self.commands.iter().enumerate() {
            let number = match c {
                VtCommand::Bitmask1 { .. } => SEC_VT_COMMAND_BITMASK_1,
                VtCommand::Pcontext { .. } => SEC_VT_COMMAND_PCONTEXT,
                VtCommand::Header2 { .. } => SEC_VT_COMMAND_HEADER2,
                VtCommand::Unknown { command, .. } => *command & SEC_VT_COMMAND_MASK,
            };
            let mut raw = number;
            if c.must_process() {
                raw |= SEC_VT_MUST_PROCESS_COMMAND;
            }
            if i == last {
                raw |= SEC_VT_COMMAND_END;
            }
            let len = c.data_len();
            let len16 = u16::try_from(len)
                .map_err(|_| PduError::new(PduErrorKind::LengthOverflow { len }, 0, "verification trailer length"))?;
            w.u16(raw);
            w.u16(len16);
            match c {
                VtCommand::Bitmask1 { bits, .. } => w.u32(*bits),
                VtCommand::Pcontext { interface_id, transfer_syntax, .. } => {
                    interface_id.write(w);
                    transfer_syntax.write(w);
                }
                VtCommand::Header2 { header, .. } => {
                    w.u8(header.ptype.0);
                    w.u8(header.reserved1);
                    w.u16(header.reserved2);
                    w.bytes(&header.drep.0);
                    w.u32(header.call_id);
                    w.u16(header.p_cont_id);
                    w.u16(header.opnum);
                }
                VtCommand::Unknown { data, .. } => w.bytes(data),
            }
        }
        Ok(())
    }
}
