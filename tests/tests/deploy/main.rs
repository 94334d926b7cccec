//! The deployable stack, proven offline: template.yaml against the code (routes, table,
//! IAM, queues), every file in events/ through its function's handler, docs/openapi.yaml
//! against the route table and the error codes, and the JWT secret fetched from SSM on the
//! emulator. YAML is read through the test venv's Python (see deploy/support.rs). And the
//! deployed shape itself on the emulators (`lambda`: the function binaries under
//! tools/lambda-local, the real queue, the notifier and SES).

mod dependencies;
mod events;
mod lambda;
mod openapi;
mod ssm;
mod support;
mod template;
