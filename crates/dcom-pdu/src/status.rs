//! Fault and reject status codes (C706 appendix E, MS-RPCE 2.2.2.8, 3.1.1.5.5, 3.3.2.4).

use core::fmt;

/// A status code carried in a fault PDU (`status` field, C706 12.6.4.7).
///
/// An open newtype: servers may send any Win32 error or NTSTATUS, so unknown values are representable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(pub u32);

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $text:expr;)*) => {
        impl Status {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The symbolic name (`nca_s_*`, `rpc_s_*`, Win32 `ERROR_*`/`RPC_S_*`), or `None` if unknown.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// 0: success; a server MUST NOT send it in a fault (MS-RPCE 3.3.2.4.1).
    SUCCESS = 0x0000_0000, "error_success";
    /// Generic fault (nca_s_fault_other).
    NCA_S_FAULT_OTHER = 0x0000_0001, "nca_s_fault_other";
    /// Access denied (ERROR_ACCESS_DENIED, rpc_s_access_denied, nca_s_fault_access_denied).
    RPC_S_ACCESS_DENIED = 0x0000_0005, "rpc_s_access_denied";
    /// Not enough memory (ERROR_OUTOFMEMORY).
    ERROR_OUTOFMEMORY = 0x0000_000e, "error_outofmemory";
    /// Invalid parameter (ERROR_INVALID_PARAMETER).
    ERROR_INVALID_PARAMETER = 0x0000_0057, "error_invalid_parameter";
    /// RPC_S_INVALID_BINDING (1702).
    RPC_S_INVALID_BINDING = 0x0000_06a6, "rpc_s_invalid_binding";
    /// RPC_S_UNKNOWN_IF (1717).
    RPC_S_UNKNOWN_IF = 0x0000_06b5, "rpc_s_unknown_if";
    /// RPC_S_SERVER_UNAVAILABLE (1722).
    RPC_S_SERVER_UNAVAILABLE = 0x0000_06ba, "rpc_s_server_unavailable";
    /// RPC_S_SERVER_TOO_BUSY (1723).
    RPC_S_SERVER_TOO_BUSY = 0x0000_06bb, "rpc_s_server_too_busy";
    /// RPC_S_CALL_FAILED (1726).
    RPC_S_CALL_FAILED = 0x0000_06be, "rpc_s_call_failed";
    /// RPC_S_CALL_FAILED_DNE (1727).
    RPC_S_CALL_FAILED_DNE = 0x0000_06bf, "rpc_s_call_failed_dne";
    /// RPC_S_PROTOCOL_ERROR (1728).
    RPC_S_PROTOCOL_ERROR = 0x0000_06c0, "rpc_s_protocol_error";
    /// RPC_S_UNSUPPORTED_TRANS_SYN (1730).
    RPC_S_UNSUPPORTED_TRANS_SYN = 0x0000_06c2, "rpc_s_unsupported_trans_syn";
    /// RPC_S_UNSUPPORTED_TYPE (1732).
    RPC_S_UNSUPPORTED_TYPE = 0x0000_06c4, "rpc_s_unsupported_type";
    /// RPC_S_PROCNUM_OUT_OF_RANGE (1745).
    RPC_S_PROCNUM_OUT_OF_RANGE = 0x0000_06d1, "rpc_s_procnum_out_of_range";
    /// nca_s_fault_cant_perform (1752).
    NCA_S_FAULT_CANT_PERFORM = 0x0000_06d8, "nca_s_fault_cant_perform";
    /// RPC_S_CANNOT_SUPPORT (1764).
    RPC_S_CANNOT_SUPPORT = 0x0000_06e4, "rpc_s_cannot_support";
    /// nca_s_fault_ndr, RPC_X_BAD_STUB_DATA (1783): the stub could not be unmarshalled.
    NCA_S_FAULT_NDR = 0x0000_06f7, "nca_s_fault_ndr";
    /// RPC_S_CALL_CANCELLED (1818).
    RPC_S_CALL_CANCELLED = 0x0000_071a, "rpc_s_call_cancelled";
    /// RPC_S_SEC_PKG_ERROR (1825).
    RPC_S_SEC_PKG_ERROR = 0x0000_0721, "rpc_s_sec_pkg_error";
    /// E_ACCESSDENIED (DCOM).
    E_ACCESSDENIED = 0x8007_0005, "e_accessdenied";
    /// RPC_E_DISCONNECTED (DCOM).
    RPC_E_DISCONNECTED = 0x8001_0108, "rpc_e_disconnected";
    /// RPC_E_INVALID_OXID (DCOM).
    RPC_E_INVALID_OXID = 0x8001_0112, "rpc_e_invalid_oxid";
    /// RPC_E_INVALID_OBJECT (DCOM).
    RPC_E_INVALID_OBJECT = 0x8001_0114, "rpc_e_invalid_object";
    /// RPC_E_INVALID_IPID (DCOM).
    RPC_E_INVALID_IPID = 0x8001_0113, "rpc_e_invalid_ipid";
    /// nca_s_fault_int_div_by_zero.
    NCA_S_FAULT_INT_DIV_BY_ZERO = 0x1c00_0001, "nca_s_fault_int_div_by_zero";
    /// nca_s_fault_addr_error.
    NCA_S_FAULT_ADDR_ERROR = 0x1c00_0002, "nca_s_fault_addr_error";
    /// nca_s_fault_fp_div_zero.
    NCA_S_FAULT_FP_DIV_ZERO = 0x1c00_0003, "nca_s_fault_fp_div_zero";
    /// nca_s_fault_fp_underflow.
    NCA_S_FAULT_FP_UNDERFLOW = 0x1c00_0004, "nca_s_fault_fp_underflow";
    /// nca_s_fault_fp_overflow.
    NCA_S_FAULT_FP_OVERFLOW = 0x1c00_0005, "nca_s_fault_fp_overflow";
    /// nca_s_fault_invalid_tag.
    NCA_S_FAULT_INVALID_TAG = 0x1c00_0006, "nca_s_fault_invalid_tag";
    /// nca_s_fault_invalid_bound.
    NCA_S_FAULT_INVALID_BOUND = 0x1c00_0007, "nca_s_fault_invalid_bound";
    /// nca_rpc_version_mismatch.
    NCA_S_RPC_VERSION_MISMATCH = 0x1c00_0008, "nca_rpc_version_mismatch";
    /// nca_unspec_reject.
    NCA_S_UNSPEC_REJECT = 0x1c00_0009, "nca_unspec_reject";
    /// nca_s_bad_actid.
    NCA_S_BAD_ACTID = 0x1c00_000a, "nca_s_bad_actid";
    /// nca_who_are_you_failed.
    NCA_S_WHO_ARE_YOU_FAILED = 0x1c00_000b, "nca_who_are_you_failed";
    /// nca_manager_not_entered.
    NCA_S_MANAGER_NOT_ENTERED = 0x1c00_000c, "nca_manager_not_entered";
    /// nca_s_fault_cancel.
    NCA_S_FAULT_CANCEL = 0x1c00_000d, "nca_s_fault_cancel";
    /// nca_s_fault_ill_inst.
    NCA_S_FAULT_ILL_INST = 0x1c00_000e, "nca_s_fault_ill_inst";
    /// nca_s_fault_fp_error.
    NCA_S_FAULT_FP_ERROR = 0x1c00_000f, "nca_s_fault_fp_error";
    /// nca_s_fault_int_overflow.
    NCA_S_FAULT_INT_OVERFLOW = 0x1c00_0010, "nca_s_fault_int_overflow";
    /// nca_s_fault_unspec.
    NCA_S_FAULT_UNSPEC = 0x1c00_0012, "nca_s_fault_unspec";
    /// nca_s_fault_remote_comm_failure.
    NCA_S_FAULT_REMOTE_COMM_FAILURE = 0x1c00_0013, "nca_s_fault_remote_comm_failure";
    /// nca_s_fault_pipe_empty.
    NCA_S_FAULT_PIPE_EMPTY = 0x1c00_0014, "nca_s_fault_pipe_empty";
    /// nca_s_fault_pipe_closed.
    NCA_S_FAULT_PIPE_CLOSED = 0x1c00_0015, "nca_s_fault_pipe_closed";
    /// nca_s_fault_pipe_order.
    NCA_S_FAULT_PIPE_ORDER = 0x1c00_0016, "nca_s_fault_pipe_order";
    /// nca_s_fault_pipe_discipline.
    NCA_S_FAULT_PIPE_DISCIPLINE = 0x1c00_0017, "nca_s_fault_pipe_discipline";
    /// nca_s_fault_pipe_comm_error.
    NCA_S_FAULT_PIPE_COMM_ERROR = 0x1c00_0018, "nca_s_fault_pipe_comm_error";
    /// nca_s_fault_pipe_memory.
    NCA_S_FAULT_PIPE_MEMORY = 0x1c00_0019, "nca_s_fault_pipe_memory";
    /// nca_s_fault_context_mismatch.
    NCA_S_FAULT_CONTEXT_MISMATCH = 0x1c00_001a, "nca_s_fault_context_mismatch";
    /// nca_s_fault_remote_no_memory.
    NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1c00_001b, "nca_s_fault_remote_no_memory";
    /// nca_invalid_pres_context_id.
    NCA_S_INVALID_PRES_CONTEXT_ID = 0x1c00_001c, "nca_invalid_pres_context_id";
    /// nca_unsupported_authn_level.
    NCA_S_UNSUPPORTED_AUTHN_LEVEL = 0x1c00_001d, "nca_unsupported_authn_level";
    /// nca_invalid_checksum.
    NCA_S_INVALID_CHECKSUM = 0x1c00_001f, "nca_invalid_checksum";
    /// nca_invalid_crc.
    NCA_S_INVALID_CRC = 0x1c00_0020, "nca_invalid_crc";
    /// nca_s_fault_user_defined.
    NCA_S_FAULT_USER_DEFINED = 0x1c00_0021, "nca_s_fault_user_defined";
    /// nca_s_fault_tx_open_failed.
    NCA_S_FAULT_TX_OPEN_FAILED = 0x1c00_0022, "nca_s_fault_tx_open_failed";
    /// nca_s_fault_codeset_conv_error.
    NCA_S_FAULT_CODESET_CONV_ERROR = 0x1c00_0023, "nca_s_fault_codeset_conv_error";
    /// nca_s_fault_object_not_found.
    NCA_S_FAULT_OBJECT_NOT_FOUND = 0x1c00_0024, "nca_s_fault_object_not_found";
    /// nca_s_fault_no_client_stub.
    NCA_S_FAULT_NO_CLIENT_STUB = 0x1c00_0025, "nca_s_fault_no_client_stub";
    /// nca_s_comm_failure.
    NCA_S_COMM_FAILURE = 0x1c01_0001, "nca_s_comm_failure";
    /// nca_op_rng_error: opnum out of range.
    NCA_S_OP_RNG_ERROR = 0x1c01_0002, "nca_op_rng_error";
    /// nca_unk_if: unknown interface.
    NCA_S_UNK_IF = 0x1c01_0003, "nca_unk_if";
    /// nca_wrong_boot_time.
    NCA_S_WRONG_BOOT_TIME = 0x1c01_0006, "nca_wrong_boot_time";
    /// nca_s_you_crashed.
    NCA_S_YOU_CRASHED = 0x1c01_0009, "nca_s_you_crashed";
    /// nca_proto_error: protocol error.
    NCA_S_PROTO_ERROR = 0x1c01_000b, "nca_proto_error";
    /// nca_out_args_too_big.
    NCA_S_OUT_ARGS_TOO_BIG = 0x1c01_0013, "nca_out_args_too_big";
    /// nca_server_too_busy.
    NCA_S_SERVER_TOO_BUSY = 0x1c01_0014, "nca_server_too_busy";
    /// nca_s_fault_string_too_long.
    NCA_S_FAULT_STRING_TOO_LONG = 0x1c01_0015, "nca_s_fault_string_too_long";
    /// nca_unsupported_type.
    NCA_S_UNSUPPORTED_TYPE = 0x1c01_0017, "nca_unsupported_type";
}

impl Status {
    /// `nca_s_fault_access_denied` is the Win32 access-denied code (MS-RPCE 3.3.3.5 uses value 5).
    pub const NCA_S_FAULT_ACCESS_DENIED: Self = Self::RPC_S_ACCESS_DENIED;
    /// `RPC_X_BAD_STUB_DATA` is `nca_s_fault_ndr`.
    pub const RPC_X_BAD_STUB_DATA: Self = Self::NCA_S_FAULT_NDR;
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Status({:#010x}: {name})", self.0),
            None => write!(f, "Status({:#010x})", self.0),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}
