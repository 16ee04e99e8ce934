//! Listening: the plain HTTP listener (every endpoint) and the TLS listener that requires a
//! registered merchant certificate and tells handlers which one was presented.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::state::Sim;
use crate::tls::PeerCert;

/// WeChat's bodies are small; anything bigger is refused before parsing.
pub const MAX_BODY: usize = 64 * 1024;

/// Every route of the simulator.
pub fn app(sim: Sim) -> Router {
    Router::new()
        .merge(crate::control::router())
        .merge(crate::mp::router())
        .merge(crate::v2::router())
        .merge(crate::v3::router())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(sim)
}

/// Serves plain HTTP until `stop` turns true.
pub async fn serve_plain(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "simulator HTTP listener failed");
    }
}

/// Serves HTTPS with mandatory client certificates until `stop` turns true.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let accepted = tokio::select! {
            r = stop.wait_for(|s| *s) => { drop(r); None }
            a = listener.accept() => Some(a),
        };
        let Some(accepted) = accepted else { return };
        let Ok((tcp, _)) = accepted else { continue };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A refused certificate ends the handshake here, as at WeChat.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            let svc = app.layer(axum::Extension(PeerCert(peer)));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc))
                .await;
        });
    }
}
