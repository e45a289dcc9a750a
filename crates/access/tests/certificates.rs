//! Client certificates judged against the agency's CA: a good one names its client; one from
//! another CA, an expired one and a revoked one are each refused with their own reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::RootCertStore;
use time::{Duration, OffsetDateTime};
use utbyte_access::ClientCertificates;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

fn client(ca: &Ca, name: &str, serial: u64, days: (i64, i64)) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.serial_number = Some(SerialNumber::from(serial));
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(days.0);
    params.not_after = now + Duration::days(days.1);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params
        .signed_by(&key, &ca.cert, &ca.key)
        .unwrap()
        .der()
        .clone()
}

fn crl(ca: &Ca, revoked: u64) -> CertificateRevocationListDer<'static> {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(7),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(revoked),
            revocation_time: now - Duration::minutes(5),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params.signed_by(&ca.cert, &ca.key).unwrap().der().clone()
}

#[test]
fn a_client_certificate_names_its_client_unless_foreign_expired_or_revoked() {
    let agency = ca("Försäkringskassan agency CA");
    let mut roots = RootCertStore::empty();
    roots.add(agency.cert.der().clone()).unwrap();
    let clients = ClientCertificates::new(roots, vec![crl(&agency, 3)]).unwrap();

    let good = client(&agency, "arende", 1, (-1, 30));
    assert_eq!(clients.verify(&[good]).unwrap(), "arende");

    let reason = |chain: CertificateDer<'static>| clients.verify(&[chain]).unwrap_err().reason();
    assert_eq!(
        reason(client(&agency, "arende", 2, (-30, -1))),
        "certificate-expired"
    );
    assert_eq!(
        reason(client(&agency, "arende", 4, (1, 30))),
        "certificate-not-yet-valid"
    );
    assert_eq!(
        reason(client(&agency, "arende", 3, (-1, 30))),
        "certificate-revoked"
    );
    let other = ca("Someone else's CA");
    assert_eq!(
        reason(client(&other, "arende", 1, (-1, 30))),
        "certificate-unknown-issuer"
    );
    assert_eq!(
        clients.verify(&[]).unwrap_err().reason(),
        "certificate-invalid"
    );
}
