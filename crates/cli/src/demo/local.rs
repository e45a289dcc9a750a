//! A minimal client for a node's local API, for the narrated scenario.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::net::SocketAddr;

pub struct LocalClient {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `Bearer <the case system's access token>`.
    authorization: String,
}

impl LocalClient {
    pub fn new(token: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            authorization: format!("Bearer {token}"),
        }
    }

    /// One request; the status and the JSON body.
    pub async fn call(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .header("authorization", self.authorization.as_str());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                serde_json::to_vec(body)?
            }
            None => Vec::new(),
        };
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}
