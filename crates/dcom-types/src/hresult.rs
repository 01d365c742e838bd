//! HRESULTs ([MS-ERREF 2.1]) and the status codes DCOM returns ([MS-DCOM 3.1.2.5.1], [MS-ERREF 2.2]) as named values.

use std::fmt;

use dcom_ndr::{Ndr, NdrReader, NdrWriter, Syntax};

/// An HRESULT or `error_status_t` ([MS-ERREF 2.1]): an open set, named where known.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hresult(pub u32);

macro_rules! hresults {
    ($($(#[$m:meta])* $name:ident = $v:expr;)*) => {
        impl Hresult {
            $($(#[$m])* pub const $name: Self = Self($v);)*

            /// The symbolic name of a known code.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

hresults! {
    /// Success.
    S_OK = 0x0000_0000;
    /// Success, "false".
    S_FALSE = 0x0000_0001;
    /// Not implemented.
    E_NOTIMPL = 0x8000_4001;
    /// The object does not support the interface ([MS-DCOM 3.1.1.5.6.1.1]).
    E_NOINTERFACE = 0x8000_4002;
    /// Invalid pointer.
    E_POINTER = 0x8000_4003;
    /// Aborted.
    E_ABORT = 0x8000_4004;
    /// Unspecified failure.
    E_FAIL = 0x8000_4005;
    /// Catastrophic failure.
    E_UNEXPECTED = 0x8000_FFFF;
    /// Access denied.
    E_ACCESSDENIED = 0x8007_0005;
    /// Invalid handle.
    E_HANDLE = 0x8007_0006;
    /// Out of memory.
    E_OUTOFMEMORY = 0x8007_000E;
    /// Invalid argument.
    E_INVALIDARG = 0x8007_0057;
    /// The class does not support aggregation.
    CLASS_E_NOAGGREGATION = 0x8004_0110;
    /// The class is not registered.
    REGDB_E_CLASSNOTREG = 0x8004_0154;
    /// The object is not connected to the server.
    CO_E_OBJNOTCONNECTED = 0x8004_01FD;
    /// The server process could not be started.
    CO_E_SERVER_EXEC_FAILURE = 0x8008_0005;
    /// The call was rejected by the callee.
    RPC_E_CALL_REJECTED = 0x8001_0001;
    /// The server threw an exception.
    RPC_E_SERVERFAULT = 0x8001_0105;
    /// The object invoked has disconnected from its clients.
    RPC_E_DISCONNECTED = 0x8001_0108;
    /// The version of the OLE protocol on the client and server machines does not match.
    RPC_E_VERSION_MISMATCH = 0x8001_0110;
    /// An invalid header was received.
    RPC_E_INVALID_HEADER = 0x8001_0111;
    /// An invalid extension was received.
    RPC_E_INVALID_EXTENSION = 0x8001_0112;
    /// The requested object or interface does not exist (unknown IPID).
    RPC_E_INVALID_IPID = 0x8001_0113;
    /// The requested object does not exist.
    RPC_E_INVALID_OBJECT = 0x8001_0114;
    /// Access is denied (DCOM call security).
    RPC_E_ACCESS_DENIED = 0x8001_011B;
    /// Remote calls are not allowed for this process.
    RPC_E_REMOTE_DISABLED = 0x8001_011C;
    /// The marshaled interface data packet (OBJREF) has an invalid format.
    RPC_E_INVALID_OBJREF = 0x8001_011D;
    /// Call timed out.
    RPC_E_TIMEOUT = 0x8001_011F;
    /// Unexpected internal error.
    RPC_E_UNEXPECTED = 0x8001_FFFF;
    /// The OXID is unknown to the resolver (`OR_INVALID_OXID`, Win32 1910).
    OR_INVALID_OXID = 0x0000_0776;
    /// The OID is unknown (`OR_INVALID_OID`, Win32 1911).
    OR_INVALID_OID = 0x0000_0777;
    /// The ping set is unknown (`OR_INVALID_SET`, Win32 1912).
    OR_INVALID_SET = 0x0000_0778;
    /// Win32 `ERROR_ACCESS_DENIED` as an `error_status_t`.
    ERROR_ACCESS_DENIED = 0x0000_0005;
    /// The interface is unknown to the server (`RPC_S_UNKNOWN_IF`, Win32 1717).
    RPC_S_UNKNOWN_IF = 0x0000_06B5;
    /// WMI: call failed.
    WBEM_E_FAILED = 0x8004_1001;
    /// WMI: object not found.
    WBEM_E_NOT_FOUND = 0x8004_1002;
    /// WMI: access denied.
    WBEM_E_ACCESS_DENIED = 0x8004_1003;
    /// WMI: invalid parameter.
    WBEM_E_INVALID_PARAMETER = 0x8004_1008;
    /// WMI: invalid namespace.
    WBEM_E_INVALID_NAMESPACE = 0x8004_100E;
    /// WMI: invalid class.
    WBEM_E_INVALID_CLASS = 0x8004_1010;
}

impl Hresult {
    /// True when the severity bit is clear ([MS-ERREF 2.1]).
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0 & 0x8000_0000 == 0
    }

    /// `0x%08x` text, as tshark prints it.
    #[must_use]
    pub fn hex(self) -> String {
        format!("{:#010x}", self.0)
    }
}

impl fmt::Debug for Hresult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({:#010x})", self.0),
            None => write!(f, "Hresult({:#010x})", self.0),
        }
    }
}

impl fmt::Display for Hresult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

impl From<u32> for Hresult {
    fn from(v: u32) -> Self {
        Self(v)
    }
}

/// `HRESULT` / `error_status_t` on the wire: a 32-bit integer (C706 14.2.5).
impl Ndr for Hresult {
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 4;
    fn ndr_align(_: Syntax) -> usize {
        4
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> dcom_ndr::Result<()> {
        w.write_u32(self.0);
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> dcom_ndr::Result<Self> {
        r.read_u32().map(Self)
    }
}
