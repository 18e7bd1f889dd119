//! HTTP plumbing shared by the endpoints and the pages, independent of our state: form
//! bodies, and who is calling.

pub mod form;
pub mod observe;
pub mod origin;
pub mod outbound;
