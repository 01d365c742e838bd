//! Every capture in `../shared/captures`: decoded without error, re-encoded byte for byte, and compared with
//! tshark field by field.

use bytes::Bytes;
use dcom_pdu::Pdu;
use proto_tests::{capture_files, compare::compare_file};

#[test]
fn captures_are_present() {
    let files = capture_files();
    assert!(
        files.len() >= 16,
        "expected the shared captures in {} (found {}); set DCOM_CAPTURES to their folder",
        proto_tests::captures_dir().display(),
        files.len()
    );
}

#[test]
fn every_capture_agrees_with_tshark() {
    let files = capture_files();
    assert!(!files.is_empty(), "no captures found");
    let (mut total_fields, mut total_matched, mut total_theirs, mut total_ours, mut total_epm) = (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    eprintln!(
        "{:<40} {:>6} {:>6} {:>7} {:>7} {:>6} {:>9}",
        "capture", "ours", "tshark", "matched", "fields", "errors", "malformed"
    );
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (report, c) = compare_file(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!(
            "{name:<40} {:>6} {:>6} {:>7} {:>7} {:>6} {:>9}",
            c.ours,
            c.theirs,
            c.matched,
            c.fields_equal,
            c.errors.len() + c.errors_in_malformed,
            c.malformed_frames
        );
        total_fields += c.fields_equal;
        total_epm += c.epm_fields_equal;
        total_matched += c.matched;
        total_theirs += c.theirs;
        total_ours += report.records.len();
        if !c.clean() {
            let mut lines: Vec<String> = Vec::new();
            lines.extend(c.mismatches.iter().take(20).map(|m| format!("  mismatch {m}")));
            lines.extend(c.missing.iter().take(20).map(|m| format!("  missing {m}")));
            lines.extend(c.errors.iter().take(20).map(|m| format!("  error {m}")));
            failures.push(format!("{name}:\n{}", lines.join("\n")));
        }
    }
    eprintln!(
        "tshark comparison: {total_ours} PDUs decoded, {total_theirs} dissected by tshark, {total_matched} matched, \
         {total_fields} header and body fields compared and equal, {total_epm} endpoint mapper fields compared and equal"
    );
    assert!(failures.is_empty(), "disagreements with tshark:\n{}", failures.join("\n"));
    assert!(total_matched > 1000, "too few PDUs matched ({total_matched}): is tshark finding DCE/RPC?");
    assert!(total_epm > 100, "too few endpoint mapper fields compared ({total_epm})");
}

#[test]
fn every_pdu_reencodes_byte_for_byte() {
    let mut count = 0usize;
    let mut headers = 0usize;
    let mut trailers = 0usize;
    for file in capture_files() {
        let bytes = std::fs::read(&file).unwrap();
        let report = dcom_decode::decode_capture(&bytes, &dcom_decode::Options::default()).unwrap();
        for r in &report.records {
            let Some(pdu) = &r.pdu else { continue };
            let again = pdu.to_bytes().unwrap_or_else(|e| panic!("{}: frame {}: {e}", file.display(), r.frame));
            assert_eq!(again, r.raw.as_ref(), "{}: frame {} re-encodes differently", file.display(), r.frame);
            let decoded_again = Pdu::decode(Bytes::from(again)).unwrap();
            assert_eq!(&decoded_again, pdu);
            assert_eq!(&pdu.header.to_bytes()[..], &r.raw[..16]);
            headers += 1;
            if let Some(a) = &pdu.auth {
                let mut t = Vec::new();
                a.trailer.encode(&mut t, pdu.header.byte_order());
                let at = r.raw.len() - a.auth_value.len() - 8;
                assert_eq!(&t[..], &r.raw[at..at + 8], "{}: frame {} sec_trailer", file.display(), r.frame);
                trailers += 1;
            }
            count += 1;
        }
    }
    eprintln!("re-encoded {count} PDUs byte for byte ({headers} headers, {trailers} sec_trailers)");
    assert!(count > 1000);
}

#[test]
fn every_epm_stub_reencodes_byte_for_byte() {
    use dcom_epm::EpmCall;
    use dcom_ndr::{DataRep, NdrContext, Syntax};
    let (mut identical, mut padding_only) = (0usize, 0usize);
    for file in capture_files() {
        let bytes = std::fs::read(&file).unwrap();
        let report = dcom_decode::decode_capture(&bytes, &dcom_decode::Options::default()).unwrap();
        for r in &report.records {
            let (Some(pdu), Some(call)) = (&r.pdu, &r.call) else { continue };
            let (Some(iface), Some(stub)) = (call.interface, &call.stub) else { continue };
            if iface.uuid != dcom_epm::EPM_INTERFACE.0 {
                continue;
            }
            let (is_request, opnum) = match &pdu.body {
                dcom_pdu::PduBody::Request(q) => (true, q.opnum),
                dcom_pdu::PduBody::Response(_) => {
                    let op = call.decoded.as_ref().and_then(|d| d["method"].as_str()).unwrap_or_default();
                    (false, if op == "ept_lookup" { 2 } else { 3 })
                }
                _ => continue,
            };
            let syntax =
                if call.transfer_syntax == Some(dcom_pdu::SyntaxId::NDR64) { Syntax::Ndr64 } else { Syntax::Ndr20 };
            let ctx = NdrContext::new(syntax, DataRep::from_bytes(pdu.header.drep.0).unwrap());
            let (value, used, ids) = EpmCall::decode_prefix_with_ids(opnum, is_request, stub, ctx)
                .unwrap_or_else(|e| panic!("{}: frame {}: {e}", file.display(), r.frame));
            let again = value.encode_with_ids(ctx, &ids).unwrap();
            let original = &stub[..used];
            assert_eq!(again.len(), original.len(), "{}: frame {}", file.display(), r.frame);
            if again == original {
                identical += 1;
            } else {
                // Windows leaves alignment padding uninitialised; we write it as zero. Every difference must be a
                // byte we wrote as zero, and our bytes must decode to the same value.
                let diffs: Vec<usize> = (0..again.len()).filter(|&i| again[i] != original[i]).collect();
                assert!(diffs.iter().all(|&i| again[i] == 0), "{}: frame {}: {diffs:?}", file.display(), r.frame);
                assert!(diffs.len() < 8, "{}: frame {}: {diffs:?}", file.display(), r.frame);
                let (back, _, _) = EpmCall::decode_prefix_with_ids(opnum, is_request, &again, ctx).unwrap();
                assert_eq!(back, value);
                padding_only += 1;
            }
        }
    }
    eprintln!("endpoint mapper stubs: {identical} re-encoded byte for byte, {padding_only} differ only in padding");
    assert!(identical >= 15);
}
