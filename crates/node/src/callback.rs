//! Calling case systems back when a review is decided: a POST of the final answer to the URL
//! the request named, retried each background round until the case system accepts it (2xx).
//! At least once: a case system keys on `idempotency_key` to ignore a repeat.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use utbyte_api::requests::CaseAnswer;

/// How long a case system has to accept a callback.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The client callbacks are delivered with (plain HTTP: case systems sit beside the node).
pub(crate) struct Callbacks {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Callbacks {
    pub(crate) fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Whether the case system accepted the answer.
    pub(crate) async fn deliver(&self, url: &str, answer: &CaseAnswer) -> bool {
        let Ok(body) = serde_json::to_vec(answer) else {
            return false;
        };
        let Ok(request) = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("utbyte-idempotency-key", answer.idempotency_key.as_str())
            .body(Full::new(Bytes::from(body)))
        else {
            return false;
        };
        match tokio::time::timeout(CALLBACK_TIMEOUT, self.client.request(request)).await {
            Ok(Ok(response)) => response.status().is_success(),
            Ok(Err(err)) => {
                tracing::info!(%err, "callback not delivered");
                false
            }
            Err(_) => false,
        }
    }
}
