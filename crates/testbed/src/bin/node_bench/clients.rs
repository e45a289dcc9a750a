//! The clients of the three measured paths: Malmö's case system on its node's local API, the
//! same lookup straight on the provider's register, and a client of the register backend
//! through nginx.

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::Full;
use serde_json::{json, Value};
use std::sync::Arc;
use utbyte_domain::SubjectId;
use utbyte_store::{Register, RegisterStore};

use crate::load::{excerpt, Http1, Worker};
use crate::{FIELDS, OFFERING};

/// Connections a worker opened (reported so reconnects do not go unnoticed).
pub trait Connections {
    fn connections(&self) -> u64;
}

/// Malmö's case system: posts a LUFFA check and wants disclosed values back.
pub struct CaseSystem {
    pub http: Http1,
    pub subjects: Arc<Vec<String>>,
    /// `Bearer <access token>`.
    pub authorization: Arc<str>,
}

impl Connections for CaseSystem {
    fn connections(&self) -> u64 {
        self.http.connections
    }
}

impl Worker for CaseSystem {
    async fn call(&mut self, i: u64) -> Result<(), String> {
        let subject = pick(&self.subjects, i);
        let case = json!({
            "subject": subject,
            "offering": OFFERING,
            "fields": FIELDS,
            "purpose": "kontroll-ekonomiskt-bistand",
            "legal_basis": "luffa",
            "case_ref": format!("ASN-2026-{i:06}"),
            "officer": "malmo-h4711",
            "role": "handlaggare",
            "unit": "malmo-ekonomiskt-bistand"
        });
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/requests")
            .header(header::HOST, self.http.host())
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", format!("node-bench-{i}"))
            .header(header::AUTHORIZATION, &*self.authorization)
            .body(Full::new(Bytes::from(case.to_string())))
            .map_err(|e| e.to_string())?;
        let (status, body) = self.http.send(request).await?;
        if status != http::StatusCode::OK {
            return Err(format!("{status}: {}", excerpt(&body)));
        }
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("200 with a body that is not JSON: {e}"))?;
        if answer["values"].as_object().is_some_and(|v| !v.is_empty()) {
            Ok(())
        } else {
            Err(format!(
                "200 without disclosed values (status {})",
                answer["status"]
            ))
        }
    }
}

/// The same lookup on the provider's register, in process.
pub struct Direct {
    pub register: Arc<RegisterStore>,
    pub subjects: Arc<Vec<SubjectId>>,
}

impl Connections for Direct {
    fn connections(&self) -> u64 {
        0
    }
}

impl Worker for Direct {
    async fn call(&mut self, i: u64) -> Result<(), String> {
        let subject = pick(&self.subjects, i);
        match self.register.fetch(OFFERING, subject, &FIELDS).await {
            Ok(Some(record)) if !record.is_empty() => Ok(()),
            Ok(_) => Err("the register holds no requested field of the subject".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A client of the register backend through nginx, over mutual TLS.
pub struct ProxyClient {
    pub http: Http1,
    pub subjects: Arc<Vec<String>>,
}

impl Connections for ProxyClient {
    fn connections(&self) -> u64 {
        self.http.connections
    }
}

impl Worker for ProxyClient {
    async fn call(&mut self, i: u64) -> Result<(), String> {
        let subject = pick(&self.subjects, i);
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!(
                "/offerings/{OFFERING}/subjects/{subject}?fields={}",
                FIELDS.join(",")
            ))
            .header(header::HOST, self.http.host())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let (status, body) = self.http.send(request).await?;
        if status != http::StatusCode::OK {
            return Err(format!("{status}: {}", excerpt(&body)));
        }
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("200 with a body that is not JSON: {e}"))?;
        if answer["fields"].as_object().is_some_and(|v| !v.is_empty()) {
            Ok(())
        } else {
            Err("200 without fields".into())
        }
    }
}

/// Subject of request `i`: the list round-robin.
fn pick<T>(subjects: &[T], i: u64) -> &T {
    &subjects[(i % subjects.len() as u64) as usize]
}
