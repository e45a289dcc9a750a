//! A response body fed piece by piece from a task: a file read in chunks, a bulk's records read
//! part by part.

use std::io;

use axum::body::Bytes;

/// A response body fed chunk by chunk from the reading task.
pub(crate) struct ChannelBody(pub(crate) tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>);

impl axum::body::HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}
