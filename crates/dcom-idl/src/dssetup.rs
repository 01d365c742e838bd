//! `dssetup` (`3919286a-b10c-11d0-9ba8-00c04fd92ef5` v0.0): the Directory Services Setup Remote Protocol
//! ([MS-DSSP]; Samba `librpc/idl/dssetup.idl`), of which only `DsRolerGetPrimaryDomainInformation` is modelled.
//! `pointer_default(unique)`.

use dcom_ndr::{Ndr, WString};
use uuid::{Uuid, uuid};

use crate::SyntaxId;

/// Interface UUID and version 0.0 ([MS-DSSP 2.1]).
pub const SYNTAX: SyntaxId = SyntaxId::new(uuid!("3919286a-b10c-11d0-9ba8-00c04fd92ef5"), 0, 0);

/// `DSROLE_PRIMARY_DS_RUNNING` ([MS-DSSP 2.2.1]).
pub const DS_ROLE_PRIMARY_DS_RUNNING: u32 = 0x0000_0001;
/// `DSROLE_PRIMARY_DS_MIXED_MODE`.
pub const DS_ROLE_PRIMARY_DS_MIXED_MODE: u32 = 0x0000_0002;
/// `DSROLE_UPGRADE_IN_PROGRESS`.
pub const DS_ROLE_UPGRADE_IN_PROGRESS: u32 = 0x0000_0004;
/// `DSROLE_PRIMARY_DS_READONLY`.
pub const DS_ROLE_PRIMARY_DS_READONLY: u32 = 0x0000_0008;
/// `DSROLE_PRIMARY_DOMAIN_GUID_PRESENT`.
pub const DS_ROLE_PRIMARY_DOMAIN_GUID_PRESENT: u32 = 0x0100_0000;

interface! {
    /// The `dssetup` interface.
    Dssetup = "dssetup", SYNTAX;
    /// `WERROR dssetup_DsRoleGetPrimaryDomainInformation([in] dssetup_DsRoleInfoLevel level,
    /// [out,switch_is(level),unique] dssetup_DsRoleInfo *info)` ([MS-DSSP 3.2.5.1]
    /// DsRolerGetPrimaryDomainInformation).
    0 GET_PRIMARY_DOMAIN_INFORMATION GetPrimaryDomainInformation(
        "dssetup_DsRoleGetPrimaryDomainInformation",
        GetPrimaryDomainInformationIn,
        GetPrimaryDomainInformationOut
    );
}

/// `DSROLE_MACHINE_ROLE` ([MS-DSSP 2.2.2]; Samba `dssetup_DsRole`): a plain enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
pub enum DsRole {
    /// `DsRole_RoleStandaloneWorkstation`.
    #[default]
    StandaloneWorkstation = 0,
    /// `DsRole_RoleMemberWorkstation`.
    MemberWorkstation = 1,
    /// `DsRole_RoleStandaloneServer`.
    StandaloneServer = 2,
    /// `DsRole_RoleMemberServer`.
    MemberServer = 3,
    /// `DsRole_RoleBackupDomainController`.
    BackupDomainController = 4,
    /// `DsRole_RolePrimaryDomainController`.
    PrimaryDomainController = 5,
}

/// `DSROLE_PRIMARY_DOMAIN_INFO_LEVEL` ([MS-DSSP 2.2.5]; Samba `dssetup_DsRoleInfoLevel`): also the union's
/// discriminant type, so 16 bits in NDR and 32 in NDR64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
pub enum DsRoleInfoLevel {
    /// `DsRolePrimaryDomainInfoBasic`.
    #[default]
    Basic = 1,
    /// `DsRoleUpgradeStatus`.
    UpgradeStatus = 2,
    /// `DsRoleOperationState`.
    OperationState = 3,
}

/// `DSROLE_SERVER_STATE` ([MS-DSSP 2.2.4]; Samba `dssetup_DsPrevious`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
pub enum DsServerState {
    /// `DsRoleServerUnknown`.
    #[default]
    Unknown = 0,
    /// `DsRoleServerPrimary`.
    Primary = 1,
    /// `DsRoleServerBackup`.
    Backup = 2,
}

/// `DSROLE_OPERATION_STATE` ([MS-DSSP 2.2.3]; Samba `dssetup_DsRoleOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
pub enum DsOperationState {
    /// `DsRoleOperationIdle`.
    #[default]
    Idle = 0,
    /// `DsRoleOperationActive`.
    Active = 1,
    /// `DsRoleOperationNeedsReboot`.
    NeedsReboot = 2,
}

/// `DSROLER_PRIMARY_DOMAIN_INFO_BASIC` ([MS-DSSP 2.2.1]; Samba `dssetup_DsRolePrimaryDomInfoBasic`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "DSROLER_PRIMARY_DOMAIN_INFO_BASIC")]
pub struct PrimaryDomainInfoBasic {
    /// `MachineRole` (Samba `role`).
    pub role: DsRole,
    /// `Flags`: `DS_ROLE_*` bits.
    pub flags: u32,
    /// `[unique,string] wchar_t* DomainNameFlat` (Samba `domain`).
    #[ndr(string)]
    pub domain: Option<WString>,
    /// `[unique,string] wchar_t* DomainNameDns` (Samba `dns_domain`).
    #[ndr(string)]
    pub dns_domain: Option<WString>,
    /// `[unique,string] wchar_t* DomainForestName` (Samba `forest`).
    #[ndr(string)]
    pub forest: Option<WString>,
    /// `DomainGuid`.
    pub domain_guid: Uuid,
}

/// `DSROLE_UPGRADE_STATUS_INFO` ([MS-DSSP 2.2.7]; Samba `dssetup_DsRoleUpgradeStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "DSROLE_UPGRADE_STATUS_INFO")]
pub struct UpgradeStatusInfo {
    /// `OperationState`: 1 while an upgrade is in progress (Samba `upgrading`, a `v1_enum`).
    pub operation_state: u32,
    /// `PreviousServerState` (Samba `previous_role`).
    pub previous_server_state: DsServerState,
}

/// `DSROLE_OPERATION_STATE_INFO` ([MS-DSSP 2.2.6]; Samba `dssetup_DsRoleOpStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "DSROLE_OPERATION_STATE_INFO")]
pub struct OperationStateInfo {
    /// `OperationState` (Samba `status`).
    pub operation_state: DsOperationState,
}

/// `[switch_type(DSROLE_PRIMARY_DOMAIN_INFO_LEVEL)] union DSROLER_PRIMARY_DOMAIN_INFORMATION`
/// ([MS-DSSP 2.2.8]; Samba `dssetup_DsRoleInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Ndr)]
#[ndr(switch_type = DsRoleInfoLevel, name = "DSROLER_PRIMARY_DOMAIN_INFORMATION")]
pub enum DsRoleInfo {
    /// `[case(DsRolePrimaryDomainInfoBasic)] DomainInfoBasic`.
    #[ndr(case = DsRoleInfoLevel::Basic)]
    Basic(PrimaryDomainInfoBasic),
    /// `[case(DsRoleUpgradeStatus)] UpgradStatusInfo`.
    #[ndr(case = DsRoleInfoLevel::UpgradeStatus)]
    UpgradeStatus(UpgradeStatusInfo),
    /// `[case(DsRoleOperationState)] OperationStateInfo`.
    #[ndr(case = DsRoleInfoLevel::OperationState)]
    OperationState(OperationStateInfo),
}

/// `DsRolerGetPrimaryDomainInformation` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "DsRolerGetPrimaryDomainInformation_in")]
pub struct GetPrimaryDomainInformationIn {
    /// `InfoLevel` (Samba `level`).
    pub level: DsRoleInfoLevel,
}

/// `DsRolerGetPrimaryDomainInformation` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "DsRolerGetPrimaryDomainInformation_out")]
pub struct GetPrimaryDomainInformationOut {
    /// `[switch_is(InfoLevel)] PDSROLER_PRIMARY_DOMAIN_INFORMATION* DomainInfo`: a `[ref]` to a unique
    /// pointer to the union (null on error).
    pub info: Option<DsRoleInfo>,
    /// `DWORD` (Samba `WERROR`) return value.
    pub result: u32,
}
