//! Shared test fixtures: a provisioning with two associations and unit builders.
#![allow(dead_code)]

use comms::sdls::{Key, MemoryPersist, Permissions, ProvisionedSa, Provisioning, SecurityEngine};

/// SPI of the operator association (everything allowed, telemetry goes out under it).
pub const OPS: u16 = 0x0101;
/// SPI of a ping-only association.
pub const PING_ONLY: u16 = 0x0202;
/// Uplink window width of both.
pub const WINDOW: u16 = 8;

pub fn provisioning() -> Provisioning {
    let sas = [
        ProvisionedSa {
            spi: OPS,
            permissions: Permissions::ALL,
            window: WINDOW,
            telemetry: true,
            master: Key::from_bytes([0x11; 32]),
            state: comms::sdls::KeyState::Active,
            suite: comms::sdls::Suite::Aes256Gcm,
            key_id: 0,
        },
        ProvisionedSa {
            spi: PING_ONLY,
            permissions: Permissions::TEST.union(Permissions::HOUSEKEEPING),
            window: WINDOW,
            telemetry: false,
            master: Key::from_bytes([0x22; 32]),
            state: comms::sdls::KeyState::Active,
            suite: comms::sdls::Suite::Aes256Gcm,
            key_id: 0,
        },
    ];
    let mut buf = [0u8; 128];
    let n = Provisioning::encode(&sas, &mut buf).unwrap();
    Provisioning::parse(&buf[..n]).unwrap()
}

/// A ground engine holding the same keys.
pub fn ground() -> SecurityEngine {
    SecurityEngine::ground(&provisioning(), None, u64::MAX).unwrap()
}

/// An uplink unit under `spi` with ARSN `arsn` carrying `data`.
pub fn uplink(spi: u16, arsn: u64, data: &[u8]) -> Vec<u8> {
    let mut g = ground();
    g.skip_tx_to(spi, arsn - 1);
    let mut out = vec![0u8; data.len() + comms::sdls::OVERHEAD];
    let n = g
        .protect(spi, data, &mut out, &mut MemoryPersist::default())
        .unwrap();
    out.truncate(n);
    out
}

/// A node engine on an in-memory backend.
pub fn node(block: u64) -> (SecurityEngine, MemoryPersist) {
    let mut p = MemoryPersist::default();
    let e = SecurityEngine::boot(&provisioning(), &mut p, block).unwrap();
    (e, p)
}
