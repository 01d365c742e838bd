//! Names of well-known interfaces and flags, for readable output.

use dcom_pdu::{Header, PacketType, PfcFlags};
use uuid::{Uuid, uuid};

/// Well-known abstract and transfer syntaxes.
const SYNTAXES: &[(Uuid, &str)] = &[
    (uuid!("8a885d04-1ceb-11c9-9fe8-08002b104860"), "ndr"),
    (uuid!("71710533-beba-4937-8319-b5dbef9ccc36"), "ndr64"),
    (uuid!("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), "epm"),
    (uuid!("afa8bd80-7d8a-11c9-bef4-08002b102989"), "mgmt"),
    (uuid!("12345778-1234-abcd-ef00-0123456789ac"), "samr"),
    (uuid!("12345778-1234-abcd-ef00-0123456789ab"), "lsarpc"),
    (uuid!("12345678-1234-abcd-ef00-01234567cffb"), "netlogon"),
    (uuid!("e3514235-4b06-11d1-ab04-00c04fc2dcd2"), "drsuapi"),
    (uuid!("367abb81-9844-35f1-ad32-98f038001003"), "svcctl"),
    (uuid!("6bffd098-a112-3610-9833-46c3f87e345a"), "wkssvc"),
    (uuid!("4b324fc8-1670-01d3-1278-5a47bf6ee188"), "srvsvc"),
    (uuid!("3919286a-b10c-11d0-9ba8-00c04fd92ef5"), "dssetup"),
    (uuid!("338cd001-2244-31f1-aaaa-900038001003"), "winreg"),
    (uuid!("60a15ec5-4de8-11d7-a637-005056a20182"), "rpcecho"),
    (uuid!("a4f1db00-ca47-1067-b31f-00dd010662da"), "exchange_mapi"),
    (uuid!("000001a0-0000-0000-c000-000000000046"), "ISystemActivator"),
    (uuid!("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57"), "IActivation"),
    (uuid!("99fcfec4-5260-101b-bbcb-00aa0021347a"), "IObjectExporter"),
    (uuid!("00000131-0000-0000-c000-000000000046"), "IRemUnknown"),
    (uuid!("00000143-0000-0000-c000-000000000046"), "IRemUnknown2"),
    (uuid!("f309ad18-d86a-11d0-a075-00c04fb68820"), "IWbemLevel1Login"),
    (uuid!("9556dc99-828c-11cf-a37e-00aa003240c7"), "IWbemServices"),
    (uuid!("027947e1-d731-11ce-a357-000000000001"), "IEnumWbemClassObject"),
    (uuid!("423ec01e-2e35-11d2-b604-00104b703efd"), "IWbemWCOSmartEnum"),
];

/// The name of a well-known interface or transfer syntax.
pub(crate) fn syntax_name(u: Uuid) -> Option<&'static str> {
    let b = u.as_bytes();
    // Bind time feature negotiation: 6cb71c2c-9812-4540-XXXX-XXXXXXXXXXXX ([MS-RPCE 3.3.1.5.3]).
    if b.get(..8) == Some(&[0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40][..]) {
        return Some("bind_time_feature_negotiation");
    }
    SYNTAXES.iter().find(|(id, _)| *id == u).map(|(_, n)| *n)
}

/// The set flags by name; 0x04 is named by what it means for this PDU type ([MS-RPCE 2.2.2.3]).
pub(crate) fn flag_names(h: &Header) -> Vec<&'static str> {
    let f = h.pfc_flags;
    let bind_family = matches!(
        h.ptype,
        PacketType::BIND | PacketType::BIND_ACK | PacketType::ALTER_CONTEXT | PacketType::ALTER_CONTEXT_RESP
    );
    let table: [(PfcFlags, &'static str); 8] = [
        (PfcFlags::FIRST_FRAG, "first_frag"),
        (PfcFlags::LAST_FRAG, "last_frag"),
        (PfcFlags::PENDING_CANCEL, if bind_family { "support_header_sign" } else { "pending_cancel" }),
        (PfcFlags::RESERVED_1, "reserved_1"),
        (PfcFlags::CONC_MPX, "conc_mpx"),
        (PfcFlags::DID_NOT_EXECUTE, "did_not_execute"),
        (PfcFlags::MAYBE, "maybe"),
        (PfcFlags::OBJECT_UUID, "object_uuid"),
    ];
    table.iter().filter(|(bit, _)| f.contains(*bit)).map(|(_, n)| *n).collect()
}
