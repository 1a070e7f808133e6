//! One gRPC connection to a Milvus server, called as blocking functions: a single-threaded
//! tokio runtime drives tonic's channel, so callers need no async code.

use std::time::Duration;

use base64::Engine as _;
use tonic::transport::{Channel, Endpoint};

use crate::proto::{HasStatus, Rpc, Status};
use crate::{MilvusError, MilvusUrl, Result};

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take (an insert of a large batch, a search of a big collection).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A connected client.
pub(crate) struct Client {
    url: MilvusUrl,
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    /// `authorization` metadata: base64 of `user:password` (or of a token), as Milvus expects.
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Client {
    /// Connects to `url`'s server.
    pub(crate) fn connect(url: &MilvusUrl) -> Result<Client> {
        let connect_error = |message: String| MilvusError::Connect { url: url.to_string(), message };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| connect_error(format!("cannot start the client's runtime: {e}")))?;
        let endpoint = Endpoint::from_shared(format!("http://{}:{}", url.host, url.port))
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        let channel = runtime.block_on(endpoint.connect()).map_err(|e| connect_error(error_chain(&e)))?;
        let authorization = match url.credentials() {
            Some(secret) => Some(
                base64::engine::general_purpose::STANDARD
                    .encode(secret)
                    .parse()
                    .map_err(|_| connect_error("the credentials cannot be sent as gRPC metadata".into()))?,
            ),
            None => None,
        };
        Ok(Client { url: url.clone(), runtime, channel, authorization })
    }

    /// Calls `request`'s method; a transport failure or a Milvus status other than success is
    /// an error naming `what` was asked.
    pub(crate) fn call<R: Rpc>(&self, what: &'static str, request: R) -> Result<R::Response> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let mut request = tonic::Request::new(request);
        if let Some(auth) = &self.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        let path = http::uri::PathAndQuery::from_static(R::PATH);
        let codec = tonic_prost::ProstCodec::<R, R::Response>::default();
        let answer = self.runtime.block_on(async {
            grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            grpc.unary(request, path, codec).await
        });
        let response = answer.map_err(|status| self.transport_error(what, &status))?.into_inner();
        match response.status() {
            Some(s) if !succeeded(s) => Err(MilvusError::Server {
                url: self.url.to_string(),
                what,
                code: i64::from(if s.code != 0 { s.code } else { s.error_code }),
                message: if s.reason.is_empty() { "no reason given".into() } else { s.reason.clone() },
            }),
            _ => Ok(response),
        }
    }

    fn transport_error(&self, what: &'static str, status: &tonic::Status) -> MilvusError {
        let url = self.url.to_string();
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                MilvusError::Connect { url, message: format!("{what}: {}", status.message()) }
            }
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                MilvusError::Auth { url, message: status.message().to_owned() }
            }
            tonic::Code::Unimplemented => MilvusError::Server {
                url,
                what,
                code: status.code() as i64,
                message: format!("{} (is this a Milvus 2.3 or newer server?)", status.message()),
            },
            code => MilvusError::Server { url, what, code: code as i64, message: status.message().to_owned() },
        }
    }
}

fn succeeded(s: &Status) -> bool {
    s.error_code == 0 && s.code == 0
}

/// The error and its causes in one line (tonic's transport errors hide the cause, such as
/// "connection refused", one level down).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}
