//! Signed zones (`[dnssec]`): the keys of a zone, and reading a signed zone back.
//!
//! zonerw never creates, rolls or deletes keys: a zone is signed when the keys directory
//! holds its `K<zone>.+<alg>+<id>.key` and `.private` files (made with `ldns-keygen`),
//! and every rendered zone with keys is signed by `ldns-signzone` before it is checked
//! and installed (`run/sign.rs`). What the signer wrote is not trusted: [`signed::check`]
//! reads it back (every signature by one of the zone's keys, the key set signed by a KSK,
//! the planned inception and expiration), and `ldns-verify-zone` checks the signatures
//! themselves.
//!
//! [`keys`] reads the keys directory (file names, then the files of the zones being
//! signed); [`signed`] is pure.

pub mod keys;
pub mod signed;
