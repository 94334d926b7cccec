//! A stricter S3 in front of moto: moto 5.2.5 stores any presigned POST upload without
//! looking at its policy (a 9-byte file passed a 5..5 `content-length-range`), so this
//! loopback proxy checks a POST form upload the way S3 does and forwards it to moto only when
//! the policy holds; every other request goes to moto untouched. The rules are written from
//! S3's documentation, not from the product's code, and the signature is recomputed here with
//! ring's HMAC, not with the SDK code the product signs with:
//!
//! - the form and its fields: "Creating an HTML Form (Using AWS Signature Version 4)",
//!   https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html (field names are
//!   case-insensitive; the file is the last field and fields after it are ignored;
//!   `${filename}` is replaced by the file's name);
//! - the signature: "Authenticating Requests: Browser-Based Uploads Using POST",
//!   https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html (the
//!   string to sign is the `policy` field as sent; the key is the SigV4 signing key of the
//!   credential's date, region and service);
//! - the policy: "POST Policy" (creating a POST policy: expiration, condition matching,
//!   conditions), https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
//!   (exact matching as `{"field": "value"}` or `["eq", "$field", "value"]`, `starts-with`,
//!   `content-length-range` with inclusive bounds; every form field except `x-amz-signature`,
//!   `file`, `policy` and `x-ignore-*` must appear in the conditions);
//! - the answers: "Error responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
//!   (`SignatureDoesNotMatch` and `AccessDenied` 403, `EntityTooSmall`, `EntityTooLarge`,
//!   `InvalidPolicyDocument`, `MalformedPOSTRequest`, `IncorrectNumberOfFilesInPostRequest`
//!   and `InvalidArgument` 400), with the messages S3 is seen to send ("Invalid according to
//!   Policy: Policy expired.", "... Policy Condition failed: [...]", "... Extra input
//!   fields: ...").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ring::hmac;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Credentials the stand-in knows, as S3 knows an account's keys.
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// Temporary credentials: the form must carry this `x-amz-security-token`.
    pub session_token: Option<String>,
}

/// An S3 error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Further elements of the error document (`ProposedSize`, `MaxSizeAllowed`, ...).
    pub details: Vec<(&'static str, String)>,
}

impl S3Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.details.push((name, value.to_string()));
        self
    }

    fn policy(why: impl std::fmt::Display) -> Self {
        Self::new(
            403,
            "AccessDenied",
            format!("Invalid according to Policy: {why}"),
        )
    }

    fn invalid_policy(why: &str) -> Self {
        Self::new(
            400,
            "InvalidPolicyDocument",
            format!("Invalid Policy: {why}"),
        )
    }

    fn missing_field(name: &str) -> Self {
        Self::new(
            400,
            "InvalidArgument",
            format!(
                "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
            ),
        )
        .with("ArgumentName", name)
        .with("ArgumentValue", "")
    }

    /// The XML error document S3 answers with.
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            xml_escape(&self.message)
        );
        for (name, value) in &self.details {
            xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
        }
        xml.push_str("<RequestId>STANDIN</RequestId><HostId>STANDIN</HostId></Error>");
        xml
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One POST upload the stand-in judged.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub bucket: String,
    /// The form's `key`, when it had one.
    pub key: Option<String>,
    /// `None`: forwarded to moto.
    pub refused: Option<S3Refusal>,
}

/// A multipart form as S3 reads it: the fields before the file (names lowercased, the first
/// of each name), and the file.
#[derive(Debug, Default)]
struct Form {
    fields: Vec<(String, String)>,
    file_name: Option<String>,
    file: Option<Vec<u8>>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decides a POST form upload to `bucket` at `now`: `Ok` when S3 would store it.
pub fn judge(
    bucket: &str,
    content_type: &str,
    body: &[u8],
    keys: &[AccessKey],
    now: DateTime<Utc>,
) -> Result<(), S3Refusal> {
    let boundary = boundary(content_type).ok_or_else(|| {
        S3Refusal::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with(
            "Condition",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        )
    })?;
    let mut form = parse_form(body, &boundary).ok_or_else(|| {
        S3Refusal::new(
            400,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    })?;
    let Some(file) = form.file.take() else {
        return Err(S3Refusal::new(
            400,
            "IncorrectNumberOfFilesInPostRequest",
            "POST requires exactly one file upload per request.",
        ));
    };
    // "The variable ${filename} is automatically replaced with the name of the file provided
    // by the user": only the text after the last slash or backslash.
    if let Some(name) = &form.file_name {
        let base = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_owned();
        for (_, v) in &mut form.fields {
            *v = v.replace("${filename}", &base);
        }
    }

    // Without a policy the request is anonymous: refused on a bucket that is not public.
    let Some(policy_b64) = form.get("policy").map(str::to_owned) else {
        return Err(S3Refusal::new(403, "AccessDenied", "Access Denied"));
    };
    let required = [
        ("x-amz-algorithm", "X-Amz-Algorithm"),
        ("x-amz-credential", "X-Amz-Credential"),
        ("x-amz-date", "X-Amz-Date"),
        ("x-amz-signature", "X-Amz-Signature"),
        ("key", "key"),
    ];
    for (field, shown) in required {
        if form.get(field).is_none() {
            return Err(S3Refusal::missing_field(shown));
        }
    }
    check_signature(&form, &policy_b64, keys)?;

    let policy: Value = BASE64
        .decode(policy_b64.as_bytes())
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or_else(|| S3Refusal::invalid_policy("Invalid JSON."))?;
    let expiration = policy["expiration"]
        .as_str()
        .ok_or_else(|| S3Refusal::invalid_policy("Policy missing expiration."))?;
    let expiration = DateTime::parse_from_rfc3339(expiration)
        .map_err(|_| S3Refusal::invalid_policy("Invalid 'expiration' value."))?;
    if now > expiration {
        return Err(S3Refusal::policy("Policy expired."));
    }
    let conditions = policy["conditions"]
        .as_array()
        .ok_or_else(|| S3Refusal::invalid_policy("Policy missing conditions."))?;
    let mut covered: Vec<String> = Vec::new();
    for condition in conditions {
        covered.push(check_condition(condition, bucket, &form, file.len())?);
    }
    // "Each form field that you specify in a form (except x-amz-signature, file, policy, and
    // field names that have an x-ignore- prefix) must appear in the list of conditions."
    let extra: Vec<&str> = form
        .fields
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !matches!(*n, "policy" | "x-amz-signature" | "file"))
        .filter(|n| !n.starts_with("x-ignore-"))
        .filter(|n| !covered.iter().any(|c| c == n))
        .collect();
    if !extra.is_empty() {
        return Err(S3Refusal::policy(format!(
            "Extra input fields: {}",
            extra.join(", ")
        )));
    }
    Ok(())
}

/// The credential names a key we know, its session token is the one sent, and the signature
/// is the hex HMAC-SHA256 of the policy field under the SigV4 signing key.
fn check_signature(form: &Form, policy_b64: &str, keys: &[AccessKey]) -> Result<(), S3Refusal> {
    let algorithm = form.get("x-amz-algorithm").unwrap_or_default();
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(S3Refusal::new(
            400,
            "InvalidArgument",
            "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'",
        ));
    }
    let credential = form.get("x-amz-credential").unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    let [id, date, region, service, "aws4_request"] = parts[..] else {
        return Err(S3Refusal::new(
            400,
            "AuthorizationQueryParametersError",
            "Invalid credential",
        )
        .with("Credential", credential));
    };
    let Some(key) = keys.iter().find(|k| k.id == id) else {
        return Err(S3Refusal::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with("AWSAccessKeyId", id));
    };
    if key.session_token.as_deref() != form.get("x-amz-security-token") {
        return Err(S3Refusal::new(
            400,
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.",
        ));
    }
    let expected = sigv4_signature(&key.secret, date, region, service, policy_b64);
    let provided = form.get("x-amz-signature").unwrap_or_default();
    if !ring_eq(expected.as_bytes(), provided.as_bytes()) {
        return Err(S3Refusal::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", id)
        .with("StringToSign", policy_b64)
        .with("SignatureProvided", provided));
    }
    Ok(())
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SigV4: kDate = HMAC("AWS4" + secret, date), kRegion, kService, kSigning = HMAC(kService,
/// "aws4_request"); the signature is hex(HMAC(kSigning, string to sign)).
pub fn sigv4_signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mac = |key: &[u8], data: &[u8]| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
            .as_ref()
            .to_vec()
    };
    let k_date = mac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = mac(&k_date, region.as_bytes());
    let k_service = mac(&k_region, service.as_bytes());
    let k_signing = mac(&k_service, b"aws4_request");
    mac(&k_signing, string_to_sign.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks one condition; answers the (lowercased) field it covers.
fn check_condition(
    condition: &Value,
    bucket: &str,
    form: &Form,
    file_size: usize,
) -> Result<String, S3Refusal> {
    // The field's value; `bucket` is the bucket the form is posted to.
    let value_of = |field: &str| -> Option<String> {
        if field == "bucket" {
            Some(bucket.to_owned())
        } else {
            form.get(field).map(str::to_owned)
        }
    };
    let failed = || S3Refusal::policy(format!("Policy Condition failed: {}", shown(condition)));
    match condition {
        Value::Object(map) => {
            if map.len() != 1 {
                return Err(S3Refusal::invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            }
            let (field, want) = map.iter().next().ok_or_else(failed)?;
            let want = want.as_str().ok_or_else(|| {
                S3Refusal::invalid_policy("Invalid Simple-Condition: value must be a string.")
            })?;
            let field = field.to_ascii_lowercase();
            if value_of(&field).as_deref() != Some(want) {
                return Err(failed());
            }
            Ok(field)
        }
        Value::Array(items) => {
            let op = items
                .first()
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            if op == "content-length-range" {
                let bound = |v: Option<&Value>| match v {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.parse().ok(),
                    _ => None,
                };
                let (Some(min), Some(max), 3) =
                    (bound(items.get(1)), bound(items.get(2)), items.len())
                else {
                    return Err(failed());
                };
                let size = file_size as u64;
                if size < min {
                    return Err(S3Refusal::new(
                        400,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                    )
                    .with("ProposedSize", size)
                    .with("MinSizeAllowed", min));
                }
                if size > max {
                    return Err(S3Refusal::new(
                        400,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size",
                    )
                    .with("ProposedSize", size)
                    .with("MaxSizeAllowed", max));
                }
                return Ok(String::from("content-length-range"));
            }
            let (Some(field), Some(want), 3) = (
                items.get(1).and_then(Value::as_str),
                items.get(2).and_then(Value::as_str),
                items.len(),
            ) else {
                return Err(S3Refusal::invalid_policy("Invalid Policy Condition."));
            };
            let Some(field) = field.strip_prefix('$') else {
                return Err(failed());
            };
            let field = field.to_ascii_lowercase();
            let Some(got) = value_of(&field) else {
                return Err(failed());
            };
            let holds = match op.as_str() {
                "eq" => got == want,
                // "Content-Types values for a starts-with condition that include commas are
                // interpreted as lists. Each value in the list must meet the condition."
                "starts-with" if field == "content-type" => {
                    got.split(',').all(|v| v.trim().starts_with(want))
                }
                "starts-with" => got.starts_with(want),
                _ => return Err(S3Refusal::invalid_policy("Invalid Policy Condition.")),
            };
            if !holds {
                return Err(failed());
            }
            Ok(field)
        }
        _ => Err(S3Refusal::invalid_policy("Invalid Policy Condition.")),
    }
}

/// A condition as S3 prints it in its refusal: an array with ", " between items; an exact
/// match `{"field": "value"}` as `["eq", "$field", "value"]`.
fn shown(condition: &Value) -> String {
    let items: Vec<String> = match condition {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                [
                    Value::from("eq").to_string(),
                    Value::from(format!("${k}")).to_string(),
                    v.to_string(),
                ]
            })
            .collect(),
        Value::Array(items) => items.iter().map(Value::to_string).collect(),
        other => vec![other.to_string()],
    };
    format!("[{}]", items.join(", "))
}

/// The `boundary` of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let essence = parts.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| (1..=70).contains(&b.len()))
}

/// A minimal RFC 7578 / RFC 2046 §5.1 reader: parts between `--boundary` delimiters, each
/// with its headers and content; stops at the file part (S3 ignores the fields after it).
fn parse_form(body: &[u8], boundary: &str) -> Option<Form> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = if body.starts_with(delimiter.as_bytes()) {
        delimiter.len()
    } else {
        find(body, next_delimiter.as_bytes(), 0)? + next_delimiter.len()
    };
    let mut form = Form::default();
    loop {
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return Some(form); // the close delimiter
        }
        // Transport padding, then CRLF.
        let line_end = find(body, b"\r\n", pos)?;
        if !body[pos..line_end]
            .iter()
            .all(|b| *b == b' ' || *b == b'\t')
        {
            return None;
        }
        let headers_start = line_end + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)?;
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start)?;
        let headers = std::str::from_utf8(&body[headers_start..headers_end]).ok()?;
        let (name, file_name) = disposition(headers)?;
        let content = &body[content_start..content_end];
        if name.eq_ignore_ascii_case("file") {
            form.file_name = file_name;
            form.file = Some(content.to_vec());
            return Some(form);
        }
        let name = name.to_ascii_lowercase();
        if !form.fields.iter().any(|(n, _)| *n == name) {
            form.fields
                .push((name, String::from_utf8(content.to_vec()).ok()?));
        }
        pos = content_end + next_delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let value = headers.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then(|| v.trim().to_owned())
    })?;
    let mut params: HashMap<String, String> = HashMap::new();
    let mut rest = value.split_once(';')?.1;
    // name="value" or name=token parameters; quoted values may hold ';' and escaped quotes.
    loop {
        rest = rest.trim_start_matches([' ', ';']);
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let (val, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => out.push(c),
                }
            }
            (out, &quoted[end?..])
        } else {
            let (v, t) = after.split_once(';').unwrap_or((after, ""));
            (v.trim().to_owned(), t)
        };
        params.insert(key, val);
        rest = tail;
    }
    let name = params.remove("name")?;
    Some((name, params.remove("filename")))
}

/// The stand-in: a loopback S3 endpoint (path style) in front of moto.
pub struct S3PolicyStandIn {
    /// The endpoint to use in place of moto's.
    pub url: String,
    verdicts: Arc<Mutex<Vec<Verdict>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3PolicyStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3PolicyStandIn {
    /// In front of the emulator `scripts/test` starts (AWS_ENDPOINT_URL), knowing `keys`.
    pub async fn start(keys: Vec<AccessKey>) -> Self {
        let upstream = crate::emulator::endpoint().trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the S3 stand-in");
        let port = listener.local_addr().expect("addr").port();
        let verdicts = Arc::new(Mutex::new(Vec::new()));
        let shared = verdicts.clone();
        let keys = Arc::new(keys);
        let client = reqwest::Client::new();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (verdicts, keys, client, upstream) = (
                    shared.clone(),
                    keys.clone(),
                    client.clone(),
                    upstream.clone(),
                );
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        answer(
                            verdicts.clone(),
                            keys.clone(),
                            client.clone(),
                            upstream.clone(),
                            req,
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            verdicts,
            task,
        }
    }

    /// Every POST upload judged so far, in order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.verdicts.lock().expect("verdicts").clone()
    }
}

/// The bucket of a path-style POST Object request (`POST /<bucket>` or `/<bucket>/`, no query).
fn post_object_bucket(req: &hyper::http::request::Parts) -> Option<String> {
    if req.method != hyper::Method::POST || req.uri.query().is_some() {
        return None;
    }
    let path = req.uri.path().strip_prefix('/')?;
    let bucket = path.strip_suffix('/').unwrap_or(path);
    (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_owned())
}

async fn answer(
    verdicts: Arc<Mutex<Vec<Verdict>>>,
    keys: Arc<Vec<AccessKey>>,
    client: reqwest::Client,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(bucket) = post_object_bucket(&parts) {
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let verdict = judge(&bucket, content_type, &raw, &keys, Utc::now());
        let key = boundary(content_type)
            .and_then(|b| parse_form(&raw, &b))
            .and_then(|f| f.get("key").map(str::to_owned));
        verdicts.lock().expect("verdicts").push(Verdict {
            bucket,
            key,
            refused: verdict.clone().err(),
        });
        if let Err(refusal) = verdict {
            let mut resp = Response::new(Full::new(Bytes::from(refusal.to_xml())));
            *resp.status_mut() =
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
            resp.headers_mut().insert(
                "content-type",
                hyper::header::HeaderValue::from_static("application/xml"),
            );
            return Ok(resp);
        }
    }
    Ok(forward(&client, &upstream, &parts, raw).await)
}

/// The request as it came, to moto; moto's answer as it came.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let mut fwd = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            fwd = fwd.header(k, v);
        }
    }
    let resp = match fwd.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let mut out = Response::new(Full::new(Bytes::from(format!("stand-in: {e}"))));
            *out.status_mut() = StatusCode::BAD_GATEWAY;
            return out;
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if k != "transfer-encoding" && k != "connection" {
            out.headers_mut().insert(k, v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The S3 documentation's worked example, "Example: Browser-Based Upload using HTTP POST
    /// (Using AWS Signature Version 4)",
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html: its policy, its
    /// credentials, its signature and the form it shows. The stand-in must admit it before the
    /// policy's expiration.
    const EXAMPLE_POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    const EXAMPLE_SIGNATURE: &str =
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    const BOUNDARY: &str = "9431149156168";

    fn example_keys() -> Vec<AccessKey> {
        vec![AccessKey {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }]
    }

    fn example_fields() -> Vec<(&'static str, String)> {
        vec![
            ("key", "user/user1/${filename}".into()),
            ("acl", "public-read".into()),
            (
                "success_action_redirect",
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html".into(),
            ),
            ("Content-Type", "image/jpeg".into()),
            ("x-amz-meta-uuid", "14365123651274".into()),
            ("x-amz-server-side-encryption", "AES256".into()),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request".into(),
            ),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".into()),
            ("X-Amz-Date", "20151229T000000Z".into()),
            ("x-amz-meta-tag", "".into()),
            ("Policy", EXAMPLE_POLICY.into()),
            ("X-Amz-Signature", EXAMPLE_SIGNATURE.into()),
        ]
    }

    fn body(fields: &[(&str, String)], file: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for (k, v) in fields {
            b.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\photos\\\\MyPhoto.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(file);
        b.extend_from_slice(
            format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nUpload to Amazon S3\r\n--{BOUNDARY}--\r\n").as_bytes(),
        );
        b
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn judge_example(fields: &[(&str, String)], now: &str) -> Result<(), S3Refusal> {
        judge(
            "sigv4examplebucket",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
            &body(fields, b"\xff\xd8 a photo"),
            &example_keys(),
            at(now),
        )
    }

    #[test]
    fn the_documentation_example_recomputes_its_signature() {
        assert_eq!(
            sigv4_signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20151229",
                "us-east-1",
                "s3",
                EXAMPLE_POLICY
            ),
            EXAMPLE_SIGNATURE
        );
    }

    #[test]
    fn the_documentation_example_is_admitted_until_it_expires() {
        assert_eq!(
            judge_example(&example_fields(), "2015-12-29T10:00:00Z"),
            Ok(())
        );
        let late = judge_example(&example_fields(), "2015-12-30T12:00:01Z").unwrap_err();
        assert_eq!((late.status, late.code), (403, "AccessDenied"));
        assert_eq!(late.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn the_documentation_example_refuses_what_its_policy_does_not_allow() {
        let with = |name: &str, value: &str| {
            let mut f = example_fields();
            for (k, v) in &mut f {
                if k.eq_ignore_ascii_case(name) {
                    *v = value.to_owned();
                }
            }
            judge_example(&f, "2015-12-29T10:00:00Z").unwrap_err()
        };
        let sig = with("X-Amz-Signature", &EXAMPLE_SIGNATURE.replace('8', "9"));
        assert_eq!((sig.status, sig.code), (403, "SignatureDoesNotMatch"));
        let ct = with("Content-Type", "text/html");
        assert_eq!((ct.status, ct.code), (403, "AccessDenied"));
        assert_eq!(
            ct.message,
            "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$Content-Type\", \"image/\"]"
        );
        let key = with("key", "user/user2/${filename}");
        assert_eq!((key.status, key.code), (403, "AccessDenied"));
        let acl = with("acl", "private");
        assert_eq!((acl.status, acl.code), (403, "AccessDenied"));
        let unknown = with(
            "X-Amz-Credential",
            "AKIAOTHER/20151229/us-east-1/s3/aws4_request",
        );
        assert_eq!((unknown.status, unknown.code), (403, "InvalidAccessKeyId"));

        let mut extra = example_fields();
        extra.insert(0, ("x-amz-meta-other", "1".into()));
        let e = judge_example(&extra, "2015-12-29T10:00:00Z").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid according to Policy: Extra input fields: x-amz-meta-other"
        );
        let mut ignored = example_fields();
        ignored.insert(0, ("x-ignore-me", "1".into()));
        assert_eq!(judge_example(&ignored, "2015-12-29T10:00:00Z"), Ok(()));

        let missing: Vec<_> = example_fields()
            .into_iter()
            .filter(|(k, _)| *k != "X-Amz-Signature")
            .collect();
        let m = judge_example(&missing, "2015-12-29T10:00:00Z").unwrap_err();
        assert_eq!((m.status, m.code), (400, "InvalidArgument"));
    }

    #[test]
    fn malformed_bodies() {
        let keys = example_keys();
        let now = at("2015-12-29T10:00:00Z");
        let not_multipart = judge("b", "application/x-www-form-urlencoded", b"a=b", &keys, now);
        assert_eq!(not_multipart.unwrap_err().status, 412);
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        let garbage = judge("b", &ct, b"no delimiters here", &keys, now).unwrap_err();
        assert_eq!(garbage.code, "MalformedPOSTRequest");
        let no_file = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--{BOUNDARY}--\r\n"
        );
        let e = judge("b", &ct, no_file.as_bytes(), &keys, now).unwrap_err();
        assert_eq!(e.code, "IncorrectNumberOfFilesInPostRequest");
    }

    #[test]
    fn errors_are_s3_xml() {
        let e = S3Refusal::new(400, "EntityTooLarge", "big <&>")
            .with("ProposedSize", 9)
            .with("MaxSizeAllowed", 5);
        assert_eq!(
            e.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge</Code><Message>big &lt;&amp;&gt;</Message><ProposedSize>9</ProposedSize><MaxSizeAllowed>5</MaxSizeAllowed><RequestId>STANDIN</RequestId><HostId>STANDIN</HostId></Error>"
        );
    }
}
