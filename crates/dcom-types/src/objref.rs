//! Object references: STDOBJREF, OBJREF in its four forms, DUALSTRINGARRAY with STRINGBINDING and
//! SECURITYBINDING ([MS-DCOM 2.2.18], [MS-DCOM 2.2.19]).
//!
//! OBJREF and the packet version of DUALSTRINGARRAY are not NDR: they are the little-endian bytes inside an
//! `MInterfacePointer` ([MS-DCOM 2.2.14]). DUALSTRINGARRAY and STDOBJREF also travel as NDR (activation replies,
//! `ResolveOxid2`, `RemQueryInterface`), so they derive [`Ndr`] too.

use std::net::IpAddr;

use dcom_ndr::{ConfArray, MInterfacePointer, Ndr};
use uuid::Uuid;

use crate::cursor::{Cursor, len_u32, put_guid, put_u16, put_u32, put_u64};
use crate::error::{DcomError, DcomErrorKind, Result};

/// [MS-DCOM 2.2.18.2] STDOBJREF (40 bytes; aligned to 8 in NDR because of the `hyper` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "STDOBJREF")]
pub struct StdObjRef {
    /// `SORF_*` flags ([MS-DCOM 2.2.18.2]: 0x1000 `SORF_NOPING`).
    pub flags: u32,
    /// `cPublicRefs`.
    pub c_public_refs: u32,
    /// Object exporter id.
    pub oxid: u64,
    /// Object id.
    pub oid: u64,
    /// Interface pointer id.
    pub ipid: Uuid,
}

impl StdObjRef {
    /// `SORF_NOPING`: the object does not need to be pinged.
    pub const SORF_NOPING: u32 = 0x1000;
    /// Wire size in an OBJREF.
    pub const SIZE: usize = 40;

    fn decode_packet(c: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self { flags: c.u32()?, c_public_refs: c.u32()?, oxid: c.u64()?, oid: c.u64()?, ipid: c.guid()? })
    }

    fn encode_packet(&self, out: &mut Vec<u8>) {
        put_u32(out, self.flags, true);
        put_u32(out, self.c_public_refs, true);
        put_u64(out, self.oxid, true);
        put_u64(out, self.oid, true);
        put_guid(out, &self.ipid, true);
    }
}

/// Well-known `wTowerId` values of STRINGBINDING ([MS-DCOM 2.2.19.3], [C706 appendix I]).
pub mod tower_id {
    /// `ncacn_ip_tcp`.
    pub const NCACN_IP_TCP: u16 = 0x07;
    /// `ncadg_ip_udp`.
    pub const NCADG_IP_UDP: u16 = 0x08;
    /// `ncacn_spx`.
    pub const NCACN_SPX: u16 = 0x0C;
    /// `ncacn_nb_ipx`.
    pub const NCACN_NB_IPX: u16 = 0x0D;
    /// `ncadg_ipx`.
    pub const NCADG_IPX: u16 = 0x0E;
    /// `ncacn_np` (named pipes).
    pub const NCACN_NP: u16 = 0x0F;
    /// `ncalrpc`.
    pub const NCALRPC: u16 = 0x10;
    /// `ncacn_nb_nb`.
    pub const NCACN_NB_NB: u16 = 0x12;
    /// `ncacn_http`.
    pub const NCACN_HTTP: u16 = 0x1F;
}

/// [MS-DCOM 2.2.19.3] STRINGBINDING: a protocol tower id and a network address, optionally followed by
/// `[endpoint]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StringBinding {
    /// `wTowerId` (never 0: 0 terminates the list).
    pub tower_id: u16,
    /// `aNetworkAddr` as UTF-16 units, without the terminating 0.
    pub network_addr: Vec<u16>,
}

impl StringBinding {
    /// A binding from text.
    #[must_use]
    pub fn new(tower_id: u16, addr: &str) -> Self {
        Self { tower_id, network_addr: addr.encode_utf16().collect() }
    }

    /// The address text (`host` or `host[endpoint]`).
    #[must_use]
    pub fn addr(&self) -> String {
        String::from_utf16_lossy(&self.network_addr)
    }

    /// The host part (before `[`).
    #[must_use]
    pub fn host(&self) -> String {
        let a = self.addr();
        match a.find('[') {
            Some(i) => a.get(..i).unwrap_or_default().to_owned(),
            None => a,
        }
    }

    /// The endpoint between `[` and `]`, when present.
    #[must_use]
    pub fn endpoint(&self) -> Option<String> {
        let a = self.addr();
        let open = a.find('[')?;
        let close = a.rfind(']')?;
        a.get(open.checked_add(1)?..close).map(str::to_owned)
    }

    /// The port of an `ncacn_ip_tcp`, `ncadg_ip_udp` or `ncacn_http` binding that names one.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        if ![tower_id::NCACN_IP_TCP, tower_id::NCADG_IP_UDP, tower_id::NCACN_HTTP].contains(&self.tower_id) {
            return None;
        }
        self.endpoint()?.trim().parse().ok()
    }

    /// The host as an IP address, when it is a literal.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.host().trim().parse().ok()
    }
}

/// [MS-DCOM 2.2.19.4] SECURITYBINDING: an authentication service, an authorization service and a principal name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SecurityBinding {
    /// `wAuthnSvc` (an RPC authentication type, [MS-RPCE 2.2.1.1.7]; never 0).
    pub authn_svc: u16,
    /// `Reserved` / `wAuthzSvc` (0xFFFF on Windows).
    pub authz_svc: u16,
    /// `aPrincName` as UTF-16 units, without the terminating 0.
    pub princ_name: Vec<u16>,
}

impl SecurityBinding {
    /// A binding from text.
    #[must_use]
    pub fn new(authn_svc: u16, authz_svc: u16, princ_name: &str) -> Self {
        Self { authn_svc, authz_svc, princ_name: princ_name.encode_utf16().collect() }
    }

    /// The principal name as text.
    #[must_use]
    pub fn princ_name(&self) -> String {
        String::from_utf16_lossy(&self.princ_name)
    }
}

/// [MS-DCOM 2.2.19.2] DUALSTRINGARRAY (NDR form) and [MS-DCOM 2.2.19.1] packet version: `wNumEntries`,
/// `wSecurityOffset`, then `wNumEntries` unsigned shorts holding the STRINGBINDINGs (ended by 0) and the
/// SECURITYBINDINGs (ended by 0). The raw array is kept so that re-encoding gives the same bytes; the bindings are
/// parsed on demand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "DUALSTRINGARRAY")]
pub struct DualStringArray {
    /// `wNumEntries`: number of unsigned shorts in `string_array`.
    pub num_entries: u16,
    /// `wSecurityOffset`: index of the first SECURITYBINDING.
    pub security_offset: u16,
    /// `aStringArray`.
    #[ndr(size_is = "num_entries")]
    pub string_array: ConfArray<u16>,
}

const DSA: &str = "DUALSTRINGARRAY";

/// Reads a 0-terminated run of units starting at `*i`, leaving `*i` after the terminator.
fn take_string(a: &[u16], i: &mut usize, end: usize) -> Result<Vec<u16>> {
    let start = *i;
    let rel = a.get(start..end).and_then(|s| s.iter().position(|&u| u == 0));
    let Some(rel) = rel else {
        return Err(DcomError::new(DcomErrorKind::Unterminated, 4 + start * 2, DSA));
    };
    let s = a.get(start..start + rel).unwrap_or(&[]).to_vec();
    *i = start + rel + 1;
    Ok(s)
}

impl DualStringArray {
    /// Builds the canonical array: each list ends with a 0, an empty list is a single extra 0 ([MS-DCOM 2.2.19.1]:
    /// "The smallest possible DUALSTRINGARRAY structure consists of wNumEntries=0x0004 and wSecurityOffset=0x0002
    /// followed by an array of 4 unsigned shorts" that are all zero).
    pub fn new(strings: &[StringBinding], security: &[SecurityBinding]) -> Result<Self> {
        let mut a: Vec<u16> = Vec::new();
        for s in strings {
            a.push(s.tower_id);
            a.extend_from_slice(&s.network_addr);
            a.push(0);
        }
        if strings.is_empty() {
            a.push(0);
        }
        a.push(0);
        let security_offset = u16::try_from(a.len()).map_err(|_| DcomError::new(DcomErrorKind::TooLarge, 0, DSA))?;
        for s in security {
            a.push(s.authn_svc);
            a.push(s.authz_svc);
            a.extend_from_slice(&s.princ_name);
            a.push(0);
        }
        if security.is_empty() {
            a.push(0);
        }
        a.push(0);
        let num_entries = u16::try_from(a.len()).map_err(|_| DcomError::new(DcomErrorKind::TooLarge, 0, DSA))?;
        Ok(Self { num_entries, security_offset, string_array: ConfArray(a) })
    }

    /// The STRINGBINDINGs, from the start of the array up to the first 0 or `wSecurityOffset`.
    pub fn string_bindings(&self) -> Result<Vec<StringBinding>> {
        let a: &[u16] = &self.string_array;
        let end = usize::from(self.security_offset).min(a.len());
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&tower) = a.get(i).filter(|_| i < end) {
            if tower == 0 {
                break;
            }
            i += 1;
            let network_addr = take_string(a, &mut i, end)?;
            out.push(StringBinding { tower_id: tower, network_addr });
        }
        Ok(out)
    }

    /// The SECURITYBINDINGs, from `wSecurityOffset` up to the first 0.
    pub fn security_bindings(&self) -> Result<Vec<SecurityBinding>> {
        let a: &[u16] = &self.string_array;
        let mut i = usize::from(self.security_offset);
        if i > a.len() {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "wSecurityOffset", value: self.security_offset.into() },
                2,
                DSA,
            ));
        }
        let mut out = Vec::new();
        while let Some(&authn) = a.get(i) {
            if authn == 0 {
                break;
            }
            let authz = *a.get(i + 1).ok_or_else(|| DcomError::new(DcomErrorKind::Unterminated, 4 + i * 2, DSA))?;
            i += 2;
            let princ_name = take_string(a, &mut i, a.len())?;
            out.push(SecurityBinding { authn_svc: authn, authz_svc: authz, princ_name });
        }
        Ok(out)
    }

    /// Checks the counts: `wNumEntries` equals the array length and `wSecurityOffset <= wNumEntries`
    /// ([MS-DCOM 2.2.19.1]).
    pub fn validate(&self) -> Result<()> {
        if usize::from(self.num_entries) != self.string_array.len() {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "wNumEntries", value: self.num_entries.into() },
                0,
                DSA,
            ));
        }
        if self.security_offset > self.num_entries {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "wSecurityOffset", value: self.security_offset.into() },
                2,
                DSA,
            ));
        }
        Ok(())
    }

    /// Decodes the packet version from the front of `data`; returns the value and the bytes used.
    pub fn decode_packet_prefix(data: &[u8]) -> Result<(Self, usize)> {
        let mut c = Cursor::new(data, DSA);
        let v = Self::decode_cursor(&mut c)?;
        Ok((v, c.position()))
    }

    /// Decodes the packet version, which must fill `data`.
    pub fn decode_packet(data: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(data, DSA);
        let v = Self::decode_cursor(&mut c)?;
        c.finish()?;
        Ok(v)
    }

    fn decode_cursor(c: &mut Cursor<'_>) -> Result<Self> {
        let start = c.position();
        let num_entries = c.u16()?;
        let security_offset = c.u16()?;
        let bytes = c.take(usize::from(num_entries) * 2)?;
        let string_array: Vec<u16> =
            bytes.chunks_exact(2).map(|p| u16::from_le_bytes(p.try_into().unwrap_or_default())).collect();
        let v = Self { num_entries, security_offset, string_array: ConfArray(string_array) };
        v.validate().map_err(|e| e.shifted(start))?;
        Ok(v)
    }

    /// Encodes the packet version (little-endian).
    pub fn encode_packet(&self, out: &mut Vec<u8>) -> Result<()> {
        self.validate()?;
        put_u16(out, self.num_entries, true);
        put_u16(out, self.security_offset, true);
        for u in self.string_array.iter() {
            put_u16(out, *u, true);
        }
        Ok(())
    }

    /// The bindings as a client would try them: see [`pick_string_binding`].
    pub fn pick(&self, reached: Option<IpAddr>) -> Result<Option<ChosenBinding>> {
        Ok(pick_string_binding(&self.string_bindings()?, reached))
    }
}

/// A string binding chosen for a TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenBinding {
    /// `wTowerId` (`ncacn_ip_tcp`).
    pub tower_id: u16,
    /// Host part of the binding.
    pub addr: String,
    /// The address when the host is an IP literal.
    pub ip: Option<IpAddr>,
    /// Port named by the binding; `None` for resolver bindings, which use port 135 ([MS-DCOM 2.2.19.3]).
    pub port: Option<u16>,
}

/// Picks the `ncacn_ip_tcp` string binding a client should try first: the one whose IP literal is `reached` (the
/// address the client already reached the server on), else the first IP literal, else the first host name, keeping
/// the server's order of preference inside each class ([MS-DCOM 2.2.19.1]: "SHOULD be ordered in decreasing order
/// of preference by the object server").
#[must_use]
pub fn pick_string_binding(bindings: &[StringBinding], reached: Option<IpAddr>) -> Option<ChosenBinding> {
    let rank = |b: &StringBinding| match b.ip() {
        Some(ip) if Some(ip) == reached => 0,
        Some(_) => 1,
        None => 2,
    };
    let best = bindings
        .iter()
        .filter(|b| b.tower_id == tower_id::NCACN_IP_TCP && !b.host().is_empty())
        .enumerate()
        .min_by_key(|(i, b)| (rank(b), *i))
        .map(|(_, b)| b)?;
    Some(ChosenBinding { tower_id: best.tower_id, addr: best.host(), ip: best.ip(), port: best.port() })
}

/// `OBJREF.signature` "MEOW" ([MS-DCOM 2.2.18.1]).
pub const OBJREF_SIGNATURE: u32 = 0x574f_454d;
/// `OBJREF_EXTENDED.Signature1` / `Signature2` ([MS-DCOM 2.2.18.7]).
pub const OBJREF_EXTENDED_SIGNATURE: u32 = 0x4e53_5956;

/// [MS-DCOM 2.2.18.4] OBJREF_STANDARD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjRefStandard {
    /// The interface pointer.
    pub std: StdObjRef,
    /// Bindings of the object resolver of the server.
    pub sa_res_addr: DualStringArray,
}

/// [MS-DCOM 2.2.18.5] OBJREF_HANDLER.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjRefHandler {
    /// The interface pointer.
    pub std: StdObjRef,
    /// CLSID of the handler.
    pub clsid: Uuid,
    /// Bindings of the object resolver.
    pub sa_res_addr: DualStringArray,
}

/// [MS-DCOM 2.2.18.6] OBJREF_CUSTOM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjRefCustom {
    /// CLSID of the unmarshaler.
    pub clsid: Uuid,
    /// `cbExtension`: zero when sent, ignored on receipt.
    pub cb_extension: u32,
    /// `reserved`: arbitrary, ignored on receipt (Windows writes the length of `pObjectData` plus 8).
    pub reserved: u32,
    /// `pObjectData`: the rest of the buffer.
    pub object_data: Vec<u8>,
}

/// [MS-DCOM 2.2.18.8] DATAELEMENT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataElement {
    /// Context identifier (never GUID_NULL).
    pub data_id: Uuid,
    /// Bytes of `data` without padding.
    pub cb_size: u32,
    /// `cbSize` rounded up to 8: the length of `data`.
    pub cb_rounded: u32,
    /// The marshaled envoy context.
    pub data: Vec<u8>,
}

/// [MS-DCOM 2.2.18.7] OBJREF_EXTENDED.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjRefExtended {
    /// The interface pointer.
    pub std: StdObjRef,
    /// Bindings of the object resolver.
    pub sa_res_addr: DualStringArray,
    /// `ElmArray`: `nElms` elements (the protocol allows exactly one).
    pub elements: Vec<DataElement>,
}

/// The `u_objref` arm, selected by `OBJREF.flags` ([MS-DCOM 2.2.18.1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjRefBody {
    /// `OBJREF_STANDARD` (flags 1).
    Standard(ObjRefStandard),
    /// `OBJREF_HANDLER` (flags 2).
    Handler(ObjRefHandler),
    /// `OBJREF_CUSTOM` (flags 4).
    Custom(ObjRefCustom),
    /// `OBJREF_EXTENDED` (flags 8).
    Extended(ObjRefExtended),
}

/// [MS-DCOM 2.2.18.1] OBJREF: the marshaled object reference inside an `MInterfacePointer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjRef {
    /// IID the reference was marshaled for (never GUID_NULL).
    pub iid: Uuid,
    /// The form-specific part.
    pub body: ObjRefBody,
    /// Bytes after the structure inside its buffer (empty for well-formed input; kept for re-encoding).
    pub trailing: Vec<u8>,
}

const OBJREF: &str = "OBJREF";

impl ObjRef {
    /// `OBJREF_STANDARD` flag value.
    pub const FLAGS_STANDARD: u32 = 1;
    /// `OBJREF_HANDLER` flag value.
    pub const FLAGS_HANDLER: u32 = 2;
    /// `OBJREF_CUSTOM` flag value.
    pub const FLAGS_CUSTOM: u32 = 4;
    /// `OBJREF_EXTENDED` flag value.
    pub const FLAGS_EXTENDED: u32 = 8;

    /// The `flags` value of this form.
    #[must_use]
    pub fn flags(&self) -> u32 {
        match self.body {
            ObjRefBody::Standard(_) => Self::FLAGS_STANDARD,
            ObjRefBody::Handler(_) => Self::FLAGS_HANDLER,
            ObjRefBody::Custom(_) => Self::FLAGS_CUSTOM,
            ObjRefBody::Extended(_) => Self::FLAGS_EXTENDED,
        }
    }

    /// The STDOBJREF of the standard, handler and extended forms.
    #[must_use]
    pub fn std(&self) -> Option<&StdObjRef> {
        match &self.body {
            ObjRefBody::Standard(s) => Some(&s.std),
            ObjRefBody::Handler(h) => Some(&h.std),
            ObjRefBody::Extended(e) => Some(&e.std),
            ObjRefBody::Custom(_) => None,
        }
    }

    /// The resolver bindings of the standard, handler and extended forms.
    #[must_use]
    pub fn resolver_bindings(&self) -> Option<&DualStringArray> {
        match &self.body {
            ObjRefBody::Standard(s) => Some(&s.sa_res_addr),
            ObjRefBody::Handler(h) => Some(&h.sa_res_addr),
            ObjRefBody::Extended(e) => Some(&e.sa_res_addr),
            ObjRefBody::Custom(_) => None,
        }
    }

    /// Decodes an OBJREF that fills `data` (bytes after it are kept in `trailing`).
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(data, OBJREF);
        let signature = c.u32()?;
        if signature != OBJREF_SIGNATURE {
            return Err(DcomError::new(
                DcomErrorKind::BadSignature { found: signature, expected: OBJREF_SIGNATURE },
                0,
                OBJREF,
            ));
        }
        let flags = c.u32()?;
        let iid = c.guid()?;
        let dsa = DualStringArray::decode_cursor;
        let body = match flags {
            Self::FLAGS_STANDARD => {
                let std = StdObjRef::decode_packet(&mut c)?;
                ObjRefBody::Standard(ObjRefStandard { std, sa_res_addr: dsa(&mut c)? })
            }
            Self::FLAGS_HANDLER => {
                let std = StdObjRef::decode_packet(&mut c)?;
                let clsid = c.guid()?;
                ObjRefBody::Handler(ObjRefHandler { std, clsid, sa_res_addr: dsa(&mut c)? })
            }
            Self::FLAGS_CUSTOM => {
                let clsid = c.guid()?;
                let cb_extension = c.u32()?;
                let reserved = c.u32()?;
                let object_data = c.rest().to_vec();
                ObjRefBody::Custom(ObjRefCustom { clsid, cb_extension, reserved, object_data })
            }
            Self::FLAGS_EXTENDED => {
                let std = StdObjRef::decode_packet(&mut c)?;
                let at = c.position();
                let sig1 = c.u32()?;
                if sig1 != OBJREF_EXTENDED_SIGNATURE {
                    return Err(DcomError::new(
                        DcomErrorKind::BadSignature { found: sig1, expected: OBJREF_EXTENDED_SIGNATURE },
                        at,
                        "OBJREF_EXTENDED",
                    ));
                }
                let sa_res_addr = dsa(&mut c)?;
                let n_elms = c.u32()?;
                let at = c.position();
                let sig2 = c.u32()?;
                if sig2 != OBJREF_EXTENDED_SIGNATURE {
                    return Err(DcomError::new(
                        DcomErrorKind::BadSignature { found: sig2, expected: OBJREF_EXTENDED_SIGNATURE },
                        at,
                        "OBJREF_EXTENDED",
                    ));
                }
                // Each DATAELEMENT takes at least 24 bytes: the loop is bounded by the input, and nothing is
                // allocated from `nElms`.
                let mut elements = Vec::new();
                for _ in 0..n_elms {
                    let data_id = c.guid()?;
                    let cb_size = c.u32()?;
                    let cb_rounded = c.u32()?;
                    let data = c.take(usize::try_from(cb_rounded).unwrap_or(usize::MAX))?.to_vec();
                    elements.push(DataElement { data_id, cb_size, cb_rounded, data });
                }
                ObjRefBody::Extended(ObjRefExtended { std, sa_res_addr, elements })
            }
            other => return Err(DcomError::new(DcomErrorKind::UnknownObjrefFlags(other), 4, OBJREF)),
        };
        let trailing = c.rest().to_vec();
        Ok(Self { iid, body, trailing })
    }

    /// Encodes the OBJREF (little-endian).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        put_u32(&mut out, OBJREF_SIGNATURE, true);
        put_u32(&mut out, self.flags(), true);
        put_guid(&mut out, &self.iid, true);
        match &self.body {
            ObjRefBody::Standard(s) => {
                s.std.encode_packet(&mut out);
                s.sa_res_addr.encode_packet(&mut out)?;
            }
            ObjRefBody::Handler(h) => {
                h.std.encode_packet(&mut out);
                put_guid(&mut out, &h.clsid, true);
                h.sa_res_addr.encode_packet(&mut out)?;
            }
            ObjRefBody::Custom(c) => {
                put_guid(&mut out, &c.clsid, true);
                put_u32(&mut out, c.cb_extension, true);
                put_u32(&mut out, c.reserved, true);
                out.extend_from_slice(&c.object_data);
            }
            ObjRefBody::Extended(e) => {
                e.std.encode_packet(&mut out);
                put_u32(&mut out, OBJREF_EXTENDED_SIGNATURE, true);
                e.sa_res_addr.encode_packet(&mut out)?;
                put_u32(&mut out, len_u32(e.elements.len(), "OBJREF_EXTENDED")?, true);
                put_u32(&mut out, OBJREF_EXTENDED_SIGNATURE, true);
                for el in &e.elements {
                    if usize::try_from(el.cb_rounded).ok() != Some(el.data.len()) {
                        return Err(DcomError::new(
                            DcomErrorKind::InvalidValue { field: "DATAELEMENT.cbRounded", value: el.cb_rounded.into() },
                            out.len(),
                            "DATAELEMENT",
                        ));
                    }
                    put_guid(&mut out, &el.data_id, true);
                    put_u32(&mut out, el.cb_size, true);
                    put_u32(&mut out, el.cb_rounded, true);
                    out.extend_from_slice(&el.data);
                }
            }
        }
        out.extend_from_slice(&self.trailing);
        Ok(out)
    }

    /// Decodes the OBJREF held by an `MInterfacePointer` ([MS-DCOM 2.2.14]).
    pub fn from_mip(mip: &MInterfacePointer) -> Result<Self> {
        Self::decode(&mip.ab_data)
    }

    /// Wraps the encoded OBJREF in an `MInterfacePointer`.
    pub fn to_mip(&self) -> Result<MInterfacePointer> {
        let bytes = self.encode()?;
        MInterfacePointer::new(bytes).ok_or_else(|| DcomError::new(DcomErrorKind::TooLarge, 0, OBJREF))
    }
}
