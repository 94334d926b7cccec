//! The reliability and security suite (docs/RELIABILITY.md states its figures): the
//! access-control matrix over HTTP, hostile bodies in-process, brute force across two
//! processes, `kill -9` under load and halfway through a workload job, a failing table and
//! notification API, and a sustained mixed load with a SIGTERM in the middle. One test
//! binary; the default run stays within about three minutes on two cores,
//! `RELIABILITY_FULL=1` (scripts/reliability) runs the heavier variants. Response hygiene (nosniff, no-store, CORS) is tested in tests/tests/api/http.rs.

mod support;

mod matrix;

mod fuzz;

mod bruteforce;

mod crash;

mod faults;

mod load;

mod jobs_crash;

mod webhooks_crash;

mod webhooks_load;
