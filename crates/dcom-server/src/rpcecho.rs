//! rpcecho, answering as Samba's echo server does (the values smbtorture `rpc.echo` checks).

use core::time::Duration;

use dcom_idl::rpcecho::{
    AddOne, AddOneOut, EchoData, EchoDataOut, EchoInfo, EchoInfo1, EchoInfo2, EchoInfo3, EchoInfo4, EchoInfo5,
    EchoInfo6, EchoInfo7, SinkData, SinkDataOut, SourceData, SourceDataOut, TestCall, TestCall2, TestCall2Out,
    TestCallOut, TestDoublePointer, TestDoublePointerOut, TestEnum, TestSleep, TestSleepOut, TestSurrounding,
};
use dcom_ndr::ConfArray;
use dcom_pdu::Status;

use crate::Dispatch;

/// NT_STATUS_INVALID_LEVEL: TestCall2 with a level other than 1..=7.
pub const NT_STATUS_INVALID_LEVEL: u32 = 0xC000_0148;

/// Largest SourceData / EchoData size answered (the request stub limit bounds EchoData anyway).
pub const MAX_SOURCE: u32 = 16 * 1024 * 1024;

/// Longest TestSleep honoured.
pub const MAX_SLEEP: u32 = 60;

/// The rpcecho handler.
#[must_use]
pub fn handler() -> Dispatch {
    Dispatch::new()
        .op::<AddOne, _, _>(|_, i| async move { Ok(AddOneOut { out_data: i.in_data.wrapping_add(1) }) })
        .op::<EchoData, _, _>(|_, i| async move { Ok(EchoDataOut { out_data: i.in_data }) })
        .op::<SinkData, _, _>(|_, _| async move { Ok(SinkDataOut {}) })
        .op::<SourceData, _, _>(|_, i| async move {
            if i.len > MAX_SOURCE {
                return Err(Status::NCA_S_FAULT_REMOTE_NO_MEMORY);
            }
            // Samba fills byte i with i & 0xff.
            let data = (0..i.len).map(|n| (n & 0xff) as u8).collect();
            Ok(SourceDataOut { data: ConfArray(data) })
        })
        .op::<TestCall, _, _>(|_, i| async move { Ok(TestCallOut { s2: Some(i.s1) }) })
        .op::<TestCall2, _, _>(|_, i| async move {
            let info = match i.level {
                1 => EchoInfo::Info1(EchoInfo1 { v: 10 }),
                2 => EchoInfo::Info2(EchoInfo2 { v: 20 }),
                3 => EchoInfo::Info3(EchoInfo3 { v: 30 }),
                4 => EchoInfo::Info4(EchoInfo4 { v: 40 }),
                5 => EchoInfo::Info5(EchoInfo5 { v1: 50, v2: 60 }),
                6 => EchoInfo::Info6(EchoInfo6 { v1: 70, info1: EchoInfo1 { v: 71 } }),
                7 => EchoInfo::Info7(EchoInfo7 { v1: 80, info4: EchoInfo4 { v: 81 } }),
                // The union needs an arm on the wire; Samba leaves it zeroed and returns INVALID_LEVEL.
                _ => {
                    return Ok(TestCall2Out {
                        info: EchoInfo::Info1(EchoInfo1 { v: 0 }),
                        result: NT_STATUS_INVALID_LEVEL,
                    });
                }
            };
            Ok(TestCall2Out { info, result: 0 })
        })
        .op::<TestSleep, _, _>(|ctx, i| async move {
            let secs = i.seconds.min(MAX_SLEEP);
            let mut cancelled = ctx.cancelled.clone();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(u64::from(secs))) => Ok(TestSleepOut { result: i.seconds }),
                _ = cancelled.changed() => Err(Status::NCA_S_FAULT_CANCEL),
            }
        })
        .op::<TestEnum, _, _>(|_, i| async move { Ok(i) })
        .op::<TestSurrounding, _, _>(|_, mut i| async move {
            // Samba doubles x and returns a zeroed array of the new size.
            let x = i.data.x.saturating_mul(2);
            if x > MAX_SOURCE {
                return Err(Status::NCA_S_FAULT_REMOTE_NO_MEMORY);
            }
            i.data.x = x;
            i.data.surrounding = ConfArray(vec![0u16; x as usize]);
            Ok(i)
        })
        .op::<TestDoublePointer, _, _>(|_, i| async move {
            Ok(TestDoublePointerOut { result: i.data.flatten().unwrap_or(0) })
        })
}
