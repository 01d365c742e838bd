#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "DCOM wire types (MS-DCOM 2.2) and typed interface stubs.")]

mod activation;
mod cursor;
mod error;
pub mod fuzzing;
pub mod guids;
mod hresult;
pub mod interfaces;
mod json;
mod objref;
mod orpc;
mod resolve;

pub use activation::{
    ActivationContextInfoData, ActivationPropertiesBlob, ActivationProperty, CoServerInfo, CustomHeader,
    CustomRemoteReplyScmInfo, CustomRemoteRequestScmInfo, InstanceInfoData, InstantiationInfoData, LocationInfoData,
    MAX_ACTPROP_LIMIT, MAX_REQUESTED_INTERFACES, MAX_REQUESTED_PROTSEQS, MIN_ACTPROP_LIMIT, PropsOutInfo,
    ScmReplyInfoData, ScmRequestInfoData, SecurityInfoData, SpecialPropertiesData, SpecialPropertiesDataAlternate,
};
pub use error::{DcomError, DcomErrorKind, Result};
pub use guids::{clsid_name, interface_name, is_rpc_level_interface};
pub use hresult::Hresult;
pub use json::{DcomCall, DcomDecoded, OxidResolution, decode_call, decode_orpc_json, rpc_interface_name};
pub use objref::{
    ChosenBinding, DataElement, DualStringArray, OBJREF_EXTENDED_SIGNATURE, OBJREF_SIGNATURE, ObjRef, ObjRefBody,
    ObjRefCustom, ObjRefExtended, ObjRefHandler, ObjRefStandard, SecurityBinding, StdObjRef, StringBinding,
    pick_string_binding, tower_id,
};
pub use orpc::{
    ComVersion, ContextExtension, CustomErrorInfo, EntryHeader, ErrorInfoString, ErrorObjectData, KnownExtension,
    OrpcExtent, OrpcExtentArray, OrpcThat, OrpcThis,
};
