//! Mail in (SPEC §9) below `crm serve`: the local SMTP listener, driven by a client nobody
//! here wrote — Python's smtplib, from the test venv (see `crm_tests::venv_python`).

mod serve;
mod smtp;
