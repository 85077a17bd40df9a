//! One module per page or flow.

pub mod home;
pub mod setup;
pub mod sign_in;
