//! JSON request bodies: content type (JSON or none; anything else with a body is 415), a JSON
//! object (else 400), and typed field access whose errors name the field. (The size is
//! checked once, where the body is read: service.rs.)

use super::ApiRequest;
use crate::ApiError;
use serde_json::{Map, Value};

/// A request body that is a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Body(Map<String, Value>);

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl Body {
    pub fn parse(req: &ApiRequest) -> Result<Self, ApiError> {
        let has_body = !req.body.iter().all(u8::is_ascii_whitespace);
        if let Some(ct) = req.single_header("Content-Type")? {
            let ok = ct.to_str().map(is_json).unwrap_or(false);
            if !ok && has_body {
                return Err(ApiError::unsupported_media_type());
            }
        }
        if !has_body {
            return Err(ApiError::malformed_json(
                "Request body must be a JSON object.",
            ));
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(ApiError::malformed_json(
                "Request body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::malformed_json(format!("Malformed JSON: {e}."))),
        }
    }

    /// A JSON object taken as a body, so that what arrives other than over HTTP (an intake
    /// command, SPEC §9) is read by the same field rules as the API's bodies.
    pub fn from_object(fields: Map<String, Value>) -> Self {
        Self(fields)
    }

    /// The whole body, for a use case that checks it field by field itself (`PUT /sla`).
    pub fn value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// A string field, if present (`null` and other types are a 400 naming the field).
    pub fn str(&self, field: &'static str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(
                field,
                format!("{field} must be a string."),
            )),
        }
    }

    pub fn required_str(&self, field: &'static str) -> Result<&str, ApiError> {
        self.str(field)?
            .ok_or_else(|| ApiError::invalid(field, format!("{field} is required.")))
    }

    /// An integer field, if present: a JSON number with no fraction (a string like "2" is
    /// a 400, as is 2.5).
    pub fn int(&self, field: &'static str) -> Result<Option<i64>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
                    _ => Err(ApiError::invalid(
                        field,
                        format!("{field} must be an integer."),
                    )),
                },
            },
            Some(_) => Err(ApiError::invalid(
                field,
                format!("{field} must be an integer."),
            )),
        }
    }

    /// A boolean field, if present: JSON `true` or `false` only (`"true"`, `1` and `null`
    /// are a 400 naming the field).
    pub fn bool(&self, field: &'static str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(
                field,
                format!("{field} must be a boolean."),
            )),
        }
    }

    /// An array of strings, if present (anything else, `null` included, is a 400 naming
    /// the field).
    pub fn strings(&self, field: &'static str) -> Result<Option<Vec<&str>>, ApiError> {
        let bad = || ApiError::invalid(field, format!("{field} must be an array of strings."));
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// Whether the field is present and JSON `null`.
    pub fn is_null(&self, field: &str) -> bool {
        matches!(self.0.get(field), Some(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderValue, Method};
    use proptest::prelude::*;

    fn req(ct: Option<&str>, body: &[u8]) -> ApiRequest {
        let mut r = ApiRequest::new(Method::POST, "/x");
        if let Some(ct) = ct {
            r.headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(ct).unwrap(),
            );
        }
        r.body = Bytes::copy_from_slice(body);
        r
    }

    #[test]
    fn accepts_json_or_no_content_type() {
        for ct in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("Application/JSON"),
            Some("application/merge-patch+json"),
        ] {
            assert!(Body::parse(&req(ct, br#"{"a":1}"#)).is_ok(), "{ct:?}");
        }
    }

    #[test]
    fn other_content_type_with_a_body_is_415() {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "\u{7f}",
        ] {
            if let Ok(v) = HeaderValue::from_str(ct) {
                let mut r = req(None, br#"{"a":1}"#);
                r.headers.insert(http::header::CONTENT_TYPE, v);
                assert_eq!(Body::parse(&r).unwrap_err().status(), 415, "{ct}");
            }
        }
    }

    #[test]
    fn malformed_or_non_object_json_is_400() {
        for b in [
            &b"{"[..],
            b"[]",
            b"1",
            b"\"s\"",
            b"null",
            b"",
            b"  ",
            b"{\"a\":}",
            b"\xff",
        ] {
            let e = Body::parse(&req(Some("application/json"), b)).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::MalformedJson, "{b:?}");
        }
    }

    #[test]
    fn deep_nesting_is_a_400_not_a_crash() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            Body::parse(&req(None, deep.as_bytes()))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn typed_fields_name_the_field_on_error() {
        let b = Body::parse(&req(
            None,
            br#"{"s":"x","n":2,"f":2.5,"t":"2","z":null,"w":2.0}"#,
        ))
        .unwrap();
        assert_eq!(b.str("s").unwrap(), Some("x"));
        assert_eq!(b.str("missing").unwrap(), None);
        assert_eq!(b.str("n").unwrap_err().field, Some("n"));
        assert_eq!(b.str("z").unwrap_err().status(), 400);
        assert_eq!(b.int("n").unwrap(), Some(2));
        assert_eq!(b.int("w").unwrap(), Some(2));
        assert_eq!(b.int("f").unwrap_err().field, Some("f"));
        assert_eq!(b.int("t").unwrap_err().field, Some("t"));
        assert_eq!(
            b.required_str("missing").unwrap_err().message,
            "missing is required."
        );
        assert!(b.is_null("z") && !b.is_null("s"));
        let a = Body::parse(&req(None, br#"{"a":["x","y"],"e":[],"m":["x",1],"s":"x"}"#)).unwrap();
        assert_eq!(a.strings("a").unwrap(), Some(vec!["x", "y"]));
        assert_eq!(a.strings("e").unwrap(), Some(vec![]));
        assert_eq!(a.strings("missing").unwrap(), None);
        assert_eq!(a.strings("m").unwrap_err().field, Some("m"));
        assert_eq!(a.strings("s").unwrap_err().field, Some("s"));
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_body_or_a_4xx(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            match Body::parse(&req(Some("application/json"), &bytes)) {
                Ok(_) => {}
                Err(e) => prop_assert!((400..500).contains(&e.status())),
            }
        }

        #[test]
        fn any_json_value_gives_a_body_or_a_400(v in arb_json()) {
            let text = serde_json::to_vec(&v).unwrap();
            let r = Body::parse(&req(None, &text));
            prop_assert_eq!(r.is_ok(), v.is_object());
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
