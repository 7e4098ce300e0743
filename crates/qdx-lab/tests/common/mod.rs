//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Writes `request` and reads exactly `expected_len` reply bytes (or what came in 1 s).
pub async fn exchange(stream: &mut DuplexStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).await.expect("write");
    read_n(stream, expected_len).await
}

/// Reads up to `n` bytes, stopping early after 1 s of silence.
pub async fn read_n(stream: &mut DuplexStream, n: usize) -> Vec<u8> {
    let mut reply = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        let Some(buf) = reply.get_mut(filled..) else {
            break;
        };
        match tokio::time::timeout(Duration::from_secs(1), stream.read(buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(k)) => filled += k,
        }
    }
    reply.truncate(filled);
    reply
}

/// True when nothing arrives within 1 s.
pub async fn silent(stream: &mut DuplexStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut byte)).await,
        Ok(Ok(1))
    )
}

pub const ML_PER_MIN: f64 = 1e-6 / 60.0;

/// Acknowledges the reset alarm every emulated New Era pump powers up with, for tests about
/// something else than first contact.
pub fn acknowledge_power_up(
    emulator: &qdx_lab::emulators::Emulator<qdx_lab::emulators::new_era::NewEraChain>,
) {
    emulator.with_device(|chain| {
        for pump in chain.pumps.values_mut() {
            pump.alarm = None;
        }
    });
}
