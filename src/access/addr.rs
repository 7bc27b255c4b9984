//! The client address as `$binary_remote_addr` renders it.

use std::net::IpAddr;

/// An IP address as raw bytes (network order), without allocating.
#[derive(Clone, Copy)]
pub struct BinaryAddr {
    bytes: [u8; 16],
    len: u8,
}

impl From<IpAddr> for BinaryAddr {
    fn from(ip: IpAddr) -> BinaryAddr {
        let mut bytes = [0u8; 16];
        let len = match ip {
            IpAddr::V4(a) => {
                bytes[..4].copy_from_slice(&a.octets());
                4
            }
            IpAddr::V6(a) => {
                bytes.copy_from_slice(&a.octets());
                16
            }
        };
        BinaryAddr { bytes, len }
    }
}

impl BinaryAddr {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}
