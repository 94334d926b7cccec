//! The black-box API suite for SPEC §1 (paths, bodies, envelopes), §2 (users) and §5 (the
//! local server): each test runs its own `crm serve` over real sockets (one link step for
//! all of them: every area is a module of this one test binary).

#[path = "api/support.rs"]
mod support;

#[path = "api/http.rs"]
mod http;

#[path = "api/signup.rs"]
mod signup;

#[path = "api/signin.rs"]
mod signin;

#[path = "api/tokens.rs"]
mod tokens;

#[path = "api/users.rs"]
mod users;

#[path = "api/accounts.rs"]
mod accounts;

#[path = "api/serve.rs"]
mod serve;

#[path = "api/dynamodb.rs"]
mod dynamodb;
