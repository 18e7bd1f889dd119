//! Value types that are valid by construction, shared by every layer: a value of one of
//! these types has passed its checks, so code that takes one never checks it again, and
//! a stored value is turned into one (or refused) where it is read.

pub mod net;
pub mod resource;
pub mod scope;
pub mod signin;
