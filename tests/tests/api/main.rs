//! The black-box API suite for SPEC §1 (paths, bodies, envelopes), §2 (users), §3 (tickets,
//! `tickets::`), §5 (the local server) and §8 (the change feed, `events::`): each test runs
//! its own `crm serve` over real sockets (one link step for all of them: every area is a
//! module of this one test binary).
//! `scripts/test` runs it a second time on the Lambda shape (`CRM_TEST_TARGET=lambda`).

mod support;

mod http;

mod signup;

mod signin;

mod tokens;

mod users;

mod accounts;

mod serve;

mod dynamodb;

mod tickets;

mod events;
