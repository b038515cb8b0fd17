//! Shutdown signals: SIGTERM (Kubernetes) and SIGINT (Ctrl-C).

use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::oneshot;

/// Futures for the first and the second shutdown signal.
pub fn signals() -> std::io::Result<(impl Future<Output = ()>, impl Future<Output = ()>)> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = oneshot::channel();
    let (second_tx, second_rx) = oneshot::channel();
    tokio::spawn(async move {
        next(&mut term, &mut int).await;
        let _ = first_tx.send(());
        next(&mut term, &mut int).await;
        let _ = second_tx.send(());
    });
    Ok((
        async move { first_rx.await.unwrap_or_default() },
        async move { second_rx.await.unwrap_or_default() },
    ))
}

async fn next(term: &mut Signal, int: &mut Signal) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}
