//! The federation CA on disk and the node certificates it issues: the X.509 profile, the
//! identity round trip through PEM files, file modes, and every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::*;
use rustls::pki_types::UnixTime;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use utbyte_pki::{
    CaCertificate, CertificateInfo, FederationCa, NodeCertificate, NodeCredentials, NodeKey,
    NodeRequest, PkiError, Validity, CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE,
};
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{OID_SIG_ECDSA_WITH_SHA256, OID_X509_SERIALNUMBER};
use x509_parser::prelude::{FromDer as _, X509Certificate};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_node_certificate_follows_the_federation_profile() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let (_, cert) = X509Certificate::from_der(skv.certificate.der()).unwrap();
    let (_, ca) = X509Certificate::from_der(skv.ca.der()).unwrap();

    assert_eq!(cert.issuer(), ca.subject());
    assert_eq!(
        cert.signature_algorithm.algorithm,
        OID_SIG_ECDSA_WITH_SHA256
    );
    let subject = cert.subject();
    let text = |oid| {
        subject
            .iter_by_oid(oid)
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(text(&OID_X509_SERIALNUMBER), ["202100-5448"]);
    assert_eq!(
        subject
            .iter_common_name()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Skatteverket"]
    );
    assert_eq!(
        subject
            .iter_organization()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Skatteverket"]
    );

    let sans = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert!(sans.contains(&GeneralName::URI("urn:utbyte:authority:skatteverket")));
    assert!(sans.contains(&GeneralName::DNSName("localhost")));
    assert!(sans.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));

    assert!(!cert.is_ca());
    let usage = cert.key_usage().unwrap().unwrap().value;
    assert!(usage.digital_signature() && !usage.key_cert_sign() && !usage.key_encipherment());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth && !eku.any);
    assert!(cert.raw_serial().len() <= 20 && cert.raw_serial()[0] & 0x80 == 0);

    let ca_bc = ca.basic_constraints().unwrap().unwrap().value;
    assert!(ca_bc.ca);
    assert_eq!(ca_bc.path_len_constraint, Some(0));
}

#[test]
fn the_identity_survives_the_round_trip_through_files() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let out = federation.dir.path().join("skatteverket");
    skv.write_to(&out).unwrap();

    assert_eq!(mode(&out.join(NODE_KEY_FILE)), 0o600);
    assert!(out.join(NODE_CERT_FILE).is_file() && out.join(CA_CERT_FILE).is_file());
    assert_eq!(mode(&out), 0o700);
    let loaded = NodeCredentials::load(&out).unwrap();
    assert_eq!(loaded.certificate.identity(), skv.certificate.identity());
    assert_eq!(loaded.ca.fingerprint(), skv.ca.fingerprint());
    assert_eq!(loaded.key.to_pem(), skv.key.to_pem());

    let info = CertificateInfo::from_der(loaded.certificate.der()).unwrap();
    let identity = info.identity.unwrap();
    assert_eq!(identity.authority.as_str(), "skatteverket");
    assert_eq!(identity.orgnr.as_str(), "202100-5448");
    assert_eq!(identity.name, "Skatteverket");
    assert_eq!(identity.fingerprint, *skv.certificate.fingerprint());
    assert_eq!(info.dns_names, ["localhost"]);
    assert_eq!(info.ip_addresses, [LOOPBACK]);
    assert!(info.not_before < OffsetDateTime::now_utc());
    assert!(info.not_after > OffsetDateTime::now_utc() + Duration::days(6));
    assert!(CertificateInfo::from_der(loaded.ca.der())
        .unwrap()
        .identity
        .is_none());

    // A second issue into the same directory would replace the key in use: refused.
    let again = skatteverket(&federation);
    assert!(matches!(
        again.write_to(&out),
        Err(PkiError::AlreadyExists { .. })
    ));
    assert_eq!(
        NodeCredentials::load(&out)
            .unwrap()
            .certificate
            .fingerprint(),
        skv.certificate.fingerprint()
    );
}

#[test]
fn the_ca_directory_is_private_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = FederationCa::init(&ca_dir, "utbyte test CA", Validity::Days(30)).unwrap();
    assert_eq!(mode(&ca_dir), 0o700);
    assert_eq!(mode(&ca_dir.join(CA_KEY_FILE)), 0o600);
    let names: Vec<_> = fs::read_dir(&ca_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only ca.crt and ca.key, no temporary files: {names:?}"
    );

    let again = FederationCa::init(&ca_dir, "utbyte test CA", Validity::Days(30));
    assert!(matches!(again, Err(PkiError::AlreadyExists { .. })));
    let reopened = FederationCa::open(&ca_dir).unwrap();
    assert_eq!(
        reopened.certificate().fingerprint(),
        ca.certificate().fingerprint()
    );
}

#[test]
fn a_reopened_ca_issues_certificates_that_verify_against_its_certificate() {
    let federation = Federation::new("utbyte test CA");
    let reopened = FederationCa::open(&federation.dir.path().join("ca")).unwrap();
    let request = NodeRequest::new("polismyndigheten", "202100-0076", "Polismyndigheten")
        .unwrap()
        .ip_address(LOOPBACK)
        .validity(Validity::Days(7));
    let issued = reopened.issue(&request).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(federation.ca.certificate().der().clone())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    verifier
        .verify_client_cert(issued.certificate.der(), &[], UnixTime::now())
        .unwrap();
}

#[test]
fn opening_refuses_an_exposed_or_foreign_key() {
    let federation = Federation::new("utbyte test CA");
    let other = Federation::new("utbyte test CA");
    let ca_dir = federation.dir.path().join("ca");
    let key = ca_dir.join(CA_KEY_FILE);

    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    let err = FederationCa::open(&ca_dir).unwrap_err();
    assert!(
        matches!(err, PkiError::KeyPermissions { mode: 0o640, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");

    fs::remove_file(&key).unwrap();
    fs::copy(other.dir.path().join("ca").join(CA_KEY_FILE), &key).unwrap();
    let err = FederationCa::open(&ca_dir).unwrap_err();
    assert!(
        matches!(&err, PkiError::InFile { error, .. } if matches!(**error, PkiError::KeyMismatch)),
        "{err}"
    );

    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    assert!(matches!(
        NodeCredentials::new(skv.ca.clone(), skv.certificate.clone(), fk.key),
        Err(PkiError::KeyMismatch)
    ));
}

#[test]
fn no_node_certificate_outlives_the_ca() {
    let federation = Federation::new("utbyte test CA"); // valid for 30 days
    let request = NodeRequest::new("skatteverket", "202100-5448", "Skatteverket")
        .unwrap()
        .dns_name("localhost")
        .unwrap()
        .validity(Validity::Days(365));
    let err = federation.ca.issue(&request).unwrap_err();
    assert!(matches!(err, PkiError::OutlivesCa { .. }), "{err}");
}

#[test]
fn certificates_are_checked_for_their_role() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    assert!(matches!(
        NodeCertificate::from_pem(&skv.ca.to_pem()),
        Err(PkiError::CaAsNode)
    ));
    assert!(matches!(
        CaCertificate::from_pem(&skv.certificate.to_pem()),
        Err(PkiError::NotACa)
    ));
    let two = format!("{}{}", skv.certificate.to_pem(), skv.certificate.to_pem());
    assert!(matches!(
        NodeCertificate::from_pem(&two),
        Err(PkiError::PemCount { found: 2, .. })
    ));
    assert!(matches!(
        NodeKey::from_pem(&skv.certificate.to_pem()),
        Err(PkiError::PemCount { found: 0, .. })
    ));
    assert!(format!("{:?}", skv.key).ends_with("(..)"));

    let missing = federation.dir.path().join("nowhere").join(CA_CERT_FILE);
    let err = CaCertificate::load(&missing).unwrap_err();
    assert!(err.to_string().contains("nowhere/ca.crt"), "{err}");
}
