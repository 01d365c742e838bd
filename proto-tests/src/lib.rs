//! Interoperability tests: our decoders against real captures, with tshark as the independent oracle.

pub mod compare;
pub mod dcom_fields;
pub mod tshark;

use std::path::PathBuf;

/// `../shared/captures` beside the project (the read-only Windows captures).
/// `DCOM_CAPTURES` overrides the location.
pub fn captures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DCOM_CAPTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.join("..").join("..").join("shared").join("captures")
}

/// Every capture file in [`captures_dir`], sorted.
pub fn capture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    n.ends_with(".pcap")
                        || n.ends_with(".pcapng")
                        || n.ends_with(".pcap.gz")
                        || n.ends_with(".pcapng.gz")
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
