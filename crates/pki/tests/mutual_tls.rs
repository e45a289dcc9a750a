//! Real TLS 1.3 handshakes on loopback between nodes of one federation, and the ways a peer is
//! refused: unknown CA, expired, revoked (at runtime), no authority, wrong name, no client
//! certificate, TLS 1.2.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::*;
use rustls::{AlertDescription, CertificateError, Error as TlsError, PeerIncompatible};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use utbyte_pki::{client_config, server_config, Revocations, Validity};

#[tokio::test]
async fn nodes_of_one_federation_handshake_and_learn_each_others_authority() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&revocations).unwrap()).await;
    let client = client_config(&fk.ca, &fk.certificate, &fk.key, &revocations).unwrap();

    for name in ["127.0.0.1", "localhost"] {
        let connected = connect(client.clone(), server.addr, name).await.unwrap();
        assert_eq!(connected.version, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(connected.server.authority.as_str(), "skatteverket");
        assert_eq!(connected.server.orgnr.as_str(), "202100-5448");
        assert_eq!(&connected.server, skv.certificate.identity());

        let seen = server.next().await.unwrap();
        assert_eq!(seen.authority.as_str(), "forsakringskassan");
        assert_eq!(seen.orgnr.as_str(), "202100-5521");
        assert_eq!(seen.name, "Försäkringskassan");
        assert_eq!(seen.fingerprint, *fk.certificate.fingerprint());
        assert_eq!(seen.fingerprint.to_string().len(), 64);
    }
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_an_unknown_issuer() {
    let federation = Federation::new("utbyte test CA");
    let impostors = Federation::new("impostor CA");
    let skv = skatteverket(&federation);
    let fake = forsakringskassan(&impostors);
    let revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&revocations).unwrap()).await;
    // The impostor trusts the real CA, so only the server's verdict is in play.
    let client = client_config(&skv.ca, &fake.certificate, &fake.key, &revocations).unwrap();

    let refused = connect(client, server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::UnknownCA);
    assert_eq!(
        certificate_error(server.next().await),
        CertificateError::UnknownIssuer
    );
}

#[tokio::test]
async fn a_client_certificate_from_a_ca_posing_under_the_federation_cas_name_is_refused() {
    let federation = Federation::new("utbyte test CA");
    let impostors = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fake = forsakringskassan(&impostors);
    let revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&revocations).unwrap()).await;
    let client = client_config(&skv.ca, &fake.certificate, &fake.key, &revocations).unwrap();

    // The issuer name matches the trust anchor, so webpki checks the signature, which fails.
    let refused = connect(client, server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::DecryptError);
    assert_eq!(
        certificate_error(server.next().await),
        CertificateError::BadSignature
    );
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused_as_expired() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let now = OffsetDateTime::now_utc();
    let expired = federation.node_valid(
        "forsakringskassan",
        "202100-5521",
        "Försäkringskassan",
        Validity::Between {
            not_before: now - Duration::days(10),
            not_after: now - Duration::days(1),
        },
    );
    let revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&revocations).unwrap()).await;
    let client = expired.client_config(&revocations).unwrap();

    let refused = connect(client, server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::CertificateExpired);
    let err = certificate_error(server.next().await);
    assert!(
        matches!(
            err,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_client_revoked_at_runtime_is_refused_on_its_next_connection() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let server_revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&server_revocations).unwrap()).await;
    let client = fk.client_config(&Revocations::new()).unwrap();

    connect(client.clone(), server.addr, "localhost")
        .await
        .unwrap();
    server.next().await.unwrap();

    // A new federation configuration revokes the client; the same server config, and the same
    // client config (which must not resume its earlier session), now fail.
    server_revocations.replace([*fk.certificate.fingerprint()]);
    let refused = connect(client.clone(), server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::CertificateRevoked);
    assert_eq!(
        certificate_error(server.next().await),
        CertificateError::Revoked
    );

    // And a later configuration that lifts the revocation takes effect just as fast.
    server_revocations.replace([]);
    connect(client, server.addr, "localhost").await.unwrap();
    server.next().await.unwrap();
}

#[tokio::test]
async fn a_revoked_client_cannot_resume_an_earlier_session_either() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let revocations = Revocations::new();
    let mut server = Server::start(skv.server_config(&revocations).unwrap()).await;
    // A client that is not built by this crate and would resume if the server let it.
    let resuming = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots(&skv))
    .with_client_auth_cert(vec![fk.certificate.der().clone()], fk.key.to_rustls())
    .unwrap();
    let resuming = Arc::new(resuming);

    connect(resuming.clone(), server.addr, "localhost")
        .await
        .unwrap();
    server.next().await.unwrap();
    revocations.revoke(*fk.certificate.fingerprint());
    let refused = connect(resuming, server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::CertificateRevoked);
    assert_eq!(
        certificate_error(server.next().await),
        CertificateError::Revoked
    );
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused_by_the_client() {
    let federation = Federation::new("utbyte test CA");
    let impostors = Federation::new("impostor CA");
    let fake = skatteverket(&impostors);
    let fk = forsakringskassan(&federation);
    let revocations = Revocations::new();
    // The fake server trusts the real CA, so only the client's verdict is in play.
    let config = server_config(&fk.ca, &fake.certificate, &fake.key, &revocations).unwrap();
    let mut server = Server::start(config).await;

    let refused = connect(
        fk.client_config(&revocations).unwrap(),
        server.addr,
        "localhost",
    )
    .await;
    assert_eq!(certificate_error(refused), CertificateError::UnknownIssuer);
    assert_eq!(alert(server.next().await), AlertDescription::UnknownCA);
}

#[tokio::test]
async fn a_revoked_server_certificate_is_refused_by_the_client() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let mut server = Server::start(skv.server_config(&Revocations::new()).unwrap()).await;
    let client_revocations = Revocations::new();
    let client = fk.client_config(&client_revocations).unwrap();

    connect(client.clone(), server.addr, "localhost")
        .await
        .unwrap();
    server.next().await.unwrap();

    client_revocations.revoke(*skv.certificate.fingerprint());
    let refused = connect(client, server.addr, "localhost").await;
    assert_eq!(certificate_error(refused), CertificateError::Revoked);
    assert_eq!(
        alert(server.next().await),
        AlertDescription::CertificateRevoked
    );
}

#[tokio::test]
async fn a_certificate_naming_no_authority_is_refused_even_from_the_federation_ca() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    // Signed by the real CA key, but without the authority URI: not a node certificate.
    let ca_dir = federation.dir.path().join("ca");
    let ca_key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(ca_dir.join(utbyte_pki::CA_KEY_FILE)).unwrap(),
    )
    .unwrap();
    let ca_cert = rcgen::CertificateParams::from_ca_cert_der(skv.ca.der())
        .unwrap()
        .self_signed(&ca_key)
        .unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Skatteverket");
    params
        .distinguished_name
        .push(rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]), "202100-5448");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots(&skv))
    .with_client_auth_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let mut server = Server::start(skv.server_config(&Revocations::new()).unwrap()).await;

    let refused = connect(Arc::new(client), server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::CertificateUnknown);
    let err = certificate_error(server.next().await);
    assert!(
        err.to_string().contains("MissingAuthority"),
        "the server's error names what is missing: {err}"
    );
}

#[tokio::test]
async fn a_server_must_hold_the_name_the_client_dialled() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let mut server = Server::start(skv.server_config(&Revocations::new()).unwrap()).await;
    let refused = connect(
        fk.client_config(&Revocations::new()).unwrap(),
        server.addr,
        "node.polisen.example",
    )
    .await;
    let err = certificate_error(refused);
    assert!(
        matches!(
            err,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{err:?}"
    );
    assert!(server.next().await.is_err());
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let mut server = Server::start(skv.server_config(&Revocations::new()).unwrap()).await;
    let anonymous = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots(&skv))
    .with_no_client_auth();

    let refused = connect(Arc::new(anonymous), server.addr, "localhost").await;
    assert_eq!(alert(refused), AlertDescription::CertificateRequired);
    assert_eq!(
        tls_error(server.next().await),
        TlsError::NoCertificatesPresented
    );
}

#[tokio::test]
async fn tls_1_2_is_neither_offered_nor_accepted() {
    let federation = Federation::new("utbyte test CA");
    let skv = skatteverket(&federation);
    let fk = forsakringskassan(&federation);
    let tls12 = || {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
    };

    // A node does not accept a TLS 1.2 client …
    let mut server = Server::start(skv.server_config(&Revocations::new()).unwrap()).await;
    let old_client = tls12()
        .with_root_certificates(roots(&skv))
        .with_client_auth_cert(vec![fk.certificate.der().clone()], fk.key.to_rustls())
        .unwrap();
    assert!(connect(Arc::new(old_client), server.addr, "localhost")
        .await
        .is_err());
    assert!(
        matches!(
            tls_error(server.next().await),
            TlsError::PeerIncompatible(_)
        ),
        "the node refuses the TLS 1.2 hello"
    );

    // … and a node's client does not offer TLS 1.2 to a server that speaks only that.
    let old_server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![skv.certificate.der().clone()], skv.key.to_rustls())
    .unwrap();
    let mut server = Server::start(Arc::new(old_server)).await;
    let refused = connect(
        fk.client_config(&Revocations::new()).unwrap(),
        server.addr,
        "localhost",
    )
    .await;
    assert!(refused.is_err());
    assert_eq!(
        tls_error(server.next().await),
        TlsError::PeerIncompatible(PeerIncompatible::Tls12NotOfferedOrEnabled)
    );
}

fn roots(credentials: &utbyte_pki::NodeCredentials) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(credentials.ca.der().clone()).unwrap();
    roots
}
