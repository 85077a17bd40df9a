//! Who is signed in: passwords, sessions kept in the store behind an HttpOnly cookie, the CSRF
//! token every state-changing form carries, the signed notices of redirects, the page to return
//! to after signing in, and the limit on failed sign-ins.

pub mod cookies;
pub mod limiter;
pub mod next;
pub mod notice;
pub mod password;
pub mod session;
pub mod tokens;
