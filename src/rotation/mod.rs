//! Rotation: the key-set state machine that keeps every key that may have signed a live token
//! published (next → active → previous → removed, each transition taking `now`), the key
//! directory that stores it (`keyset.json`, `<kid>.pub`, `private/<kid>.key`), and the
//! kube-apiserver flags that point the API server at it.
//!
//! Pure: `state`, `apiserver`.
//! I/O: `keydir`.

pub mod apiserver;
pub mod keydir;
pub mod state;
