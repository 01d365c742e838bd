use dcom_auth::ntlm::msg::{Authenticate, Challenge, Negotiate};
use dcom_auth::{FrameLayout, InMemoryStore, Protection};
use dcom_pdu::AuthLevel;
use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// encode -> protect -> unprotect -> encode: the frame comes back byte for byte except the auth_value.
    #[test]
    fn protect_unprotect_round_trip(
        stubs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..4),
        level in prop_oneof![Just(AuthLevel::PKT), Just(AuthLevel::PKT_INTEGRITY), Just(AuthLevel::PKT_PRIVACY)],
        header_sign in any::<bool>(),
    ) {
        let (mut cp, mut sp) = protections(level, header_sign);
        for (i, s) in stubs.iter().enumerate() {
            let plain = frame(&cp, u32::try_from(i).unwrap(), s, false);
            let mut wire = plain.clone();
            cp.protect_frame(&mut wire).unwrap();
            let o = sp.unprotect_frame(&mut wire).unwrap();
            prop_assert_eq!(&wire[o.stub.clone()], &s[..]);
            let av = FrameLayout::of(&wire).unwrap().verifier.unwrap().2;
            prop_assert_eq!(&wire[..av], &plain[..av]);
            let again = dcom_pdu::Pdu::decode(bytes::Bytes::from(wire.clone())).unwrap().to_bytes().unwrap();
            prop_assert_eq!(again, wire);
        }
    }

    /// Hostile bytes never panic the parsers or the protection.
    #[test]
    fn hostile_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Negotiate::parse(&data);
        let _ = Challenge::parse(&data);
        let _ = Authenticate::parse(&data);
        let mut prefixed = b"NTLMSSP\0\x03\0\0\0".to_vec();
        prefixed.extend_from_slice(&data);
        let _ = Authenticate::parse(&prefixed);
        let _ = FrameLayout::of(&data);
        let _ = InMemoryStore::parse(&String::from_utf8_lossy(&data));
    }

    /// Random mutations of a protected frame are rejected, never accepted, never panic.
    #[test]
    fn mutated_frames_are_rejected(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (mut cp, mut sp) = protections(AuthLevel::PKT_PRIVACY, true);
        let mut wire = frame(&cp, 1, &[7u8; 50], false);
        cp.protect_frame(&mut wire).unwrap();
        let i = pos.index(wire.len());
        wire[i] ^= 1 << bit;
        prop_assert!(sp.unprotect_frame(&mut wire).is_err());
    }
}

#[test]
fn protection_requires_a_protector_for_protecting_levels() {
    let e = Protection::new(config(AuthLevel::PKT, true), None).unwrap_err();
    assert_eq!(e.kind(), &dcom_auth::AuthErrorKind::Unsupported);
    assert!(Protection::new(config(AuthLevel::CONNECT, true), None).is_ok());
    assert!(Protection::new(config(dcom_pdu::AuthLevel(9), true), None).is_err());
}
