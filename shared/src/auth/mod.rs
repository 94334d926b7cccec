//! Authentication: access tokens (JWT, HS256 pinned), password hashing (bcrypt), and the
//! signed, opaque pagination tokens that share the same secret.

mod cursor;
pub mod jwt_crypto;
mod password;
mod token;

pub use cursor::CursorCodec;
pub use password::PasswordHasher;
pub use token::{Claims, TokenError, TokenKeys};
