use super::*;
use crate::{Address, Kind};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text)
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

/// Hands out the bytes it was given: RFC 9180's ephemeral key material, so the sender side
/// of a test vector can be reproduced.
struct Fixed(Vec<u8>);

impl rand_core::RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        unimplemented!("only fill_bytes is used")
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!("only fill_bytes is used")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let n = dest.len();
        dest.copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
    }
}
impl rand_core::CryptoRng for Fixed {}

// RFC 9180 appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode,
// the first encryption.
const IKM_E: &str = "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234";
const IKM_R: &str = "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037";
const PK_RM: &str = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d";
const SK_RM: &str = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8";
const ENC: &str = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
const VECTOR_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
const AAD: &str = "436f756e742d30";
const CT: &str =
    "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a";

#[test]
fn the_suite_reproduces_rfc_9180_vector_a_1_1() {
    let info = hex::decode(VECTOR_INFO).unwrap();
    let (pt, aad) = (hex::decode(PT).unwrap(), hex::decode(AAD).unwrap());
    // Key derivation, as `MessageKey::from_seed` uses it.
    let recipient = MessageKey::from_seed(&hex32(IKM_R));
    assert_eq!(hex::encode(recipient.public.public.to_bytes()), PK_RM);
    assert_eq!(hex::encode(recipient.secret.to_bytes()), SK_RM);
    // The sender, with the vector's ephemeral key material.
    let (enc, mut sender) = hpke::setup_sender::<AesGcm128, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &recipient.public.public,
        &info,
        &mut Fixed(hex::decode(IKM_E).unwrap()),
    )
    .unwrap();
    assert_eq!(hex::encode(enc.to_bytes()), ENC);
    assert_eq!(hex::encode(sender.seal(&pt, &aad).unwrap()), CT);
    // The recipient.
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&hex::decode(ENC).unwrap()).unwrap();
    let mut receiver = hpke::setup_receiver::<AesGcm128, HkdfSha256, Kem>(
        &OpModeR::Base,
        &recipient.secret,
        &enc,
        &info,
    )
    .unwrap();
    assert_eq!(receiver.open(&hex::decode(CT).unwrap(), &aad).unwrap(), pt);
}

fn envelope(key: &RecipientKey, id: &str) -> String {
    crate::Envelope {
        id: id.into(),
        from: Address {
            authority: "polismyndigheten".into(),
            unit: Some("pm-noa".into()),
        },
        to: Address {
            authority: "kronofogden".into(),
            unit: None,
        },
        kind: Kind::FreeText,
        sender_case_ref: "PM 2026/1".into(),
        recipient_case_ref: None,
        in_reply_to: None,
        sent_at: "2026-03-02T09:00:00Z".into(),
        key: key.id(),
        attachments: Vec::new(),
    }
    .to_json()
}

fn content(text: &str) -> Content {
    Content {
        title: "Underlag".into(),
        subjects: vec!["198507099805".into()],
        values: BTreeMap::new(),
        text: Some(text.into()),
        purpose: None,
        legal_basis: None,
        officer: None,
        role: "utredare".into(),
        attachments: Vec::new(),
    }
}

#[test]
fn content_opens_only_with_the_recipients_key_under_its_own_envelope() {
    let old = MessageKey::from_seed(&[1; 32]);
    let new = MessageKey::from_seed(&[2; 32]);
    let stranger = MessageKey::from_seed(&[3; 32]);
    let published = RecipientKey::decode(&new.public().encode()).unwrap();
    assert_eq!(published, *new.public());
    let env = envelope(&published, "m-1");
    let sealed = seal(&published, &env, &content("hemligt")).unwrap();
    assert_eq!(sealed_for(&sealed).unwrap(), new.public().id());
    // The recipient holding the old and the new key opens it.
    let keys = [old, new];
    assert_eq!(open(&keys, &env, &sealed).unwrap(), content("hemligt"));
    // Another authority's key does not.
    assert!(matches!(
        open(std::slice::from_ref(&stranger), &env, &sealed),
        Err(SealError::UnknownKey(_))
    ));
    // Under another envelope (another id) it does not open.
    let moved = envelope(&published, "m-2");
    assert!(matches!(
        open(&keys, &moved, &sealed),
        Err(SealError::Opening)
    ));
    // An envelope naming another key than the one sealed for is told apart.
    let other = envelope(keys[0].public(), "m-1");
    assert!(matches!(
        open(&keys, &other, &sealed),
        Err(SealError::KeyMismatch { .. })
    ));
    assert!(matches!(
        open(&keys, &env, &sealed[..HEADER]),
        Err(SealError::Format)
    ));
}

proptest! {
    #[test]
    fn sealed_bytes_never_hold_the_text_and_any_flipped_byte_is_refused(
        text in "[a-zåäö ]{24,200}",
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = MessageKey::from_seed(&[7; 32]);
        let env = envelope(key.public(), "m-9");
        let sealed = seal(key.public(), &env, &content(&text)).unwrap();
        let needle = &text.as_bytes()[..24];
        prop_assert!(!sealed.windows(needle.len()).any(|w| w == needle));
        let mut altered = sealed.clone();
        let i = at.index(altered.len());
        altered[i] ^= 1 << bit;
        prop_assert!(open(std::slice::from_ref(&key), &env, &altered).is_err());
    }
}

#[test]
fn local_bytes_open_only_under_their_label_and_for_the_own_key() {
    let own = MessageKey::from_seed(&[7; 32]);
    let other = MessageKey::from_seed(&[8; 32]);
    let sealed = crate::seal::seal_local(own.public(), "upload key u-1", b"nyckel").unwrap();
    assert_eq!(
        crate::seal::open_local(std::slice::from_ref(&own), "upload key u-1", &sealed).unwrap(),
        b"nyckel"
    );
    assert!(matches!(
        crate::seal::open_local(std::slice::from_ref(&own), "upload key u-2", &sealed),
        Err(SealError::Opening)
    ));
    assert!(matches!(
        crate::seal::open_local(&[other], "upload key u-1", &sealed),
        Err(SealError::UnknownKey(_))
    ));
}
