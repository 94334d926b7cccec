//! Query strings: decoded pairs, each name at most once (a repeated filter is a 400 rather
//! than a silent pick) but for the few that mean "each of these" (`tag`), and the shared
//! `limit` / `nextToken` parameters.

use crate::ApiError;
use crate::error::ErrorCode;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(Vec<(String, String)>);

/// The parameters that may be given more than once, each time one more value (SPEC §11:
/// `?tag=a&tag=b`, every given tag).
const REPEATABLE: &[&str] = &["tag"];

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if !REPEATABLE.contains(&k.as_ref()) && pairs.iter().any(|(n, _)| *n == k) {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("Query parameter {k} is given more than once."),
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(pairs))
    }

    /// Every value of a repeatable parameter, in the order given.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parses a present parameter with `f`; its error names the parameter.
    pub fn parsed<T>(
        &self,
        name: &'static str,
        f: impl FnOnce(&str) -> Result<T, crate::model::Invalid>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                f(v).map_err(|e| {
                    ApiError::invalid(name, e.message).with_code(ErrorCode::InvalidQuery)
                })
            })
            .transpose()
    }

    /// `limit`: 1–100, default 100.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(100),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("limit", "limit must be an integer from 1 to 100.")
                        .with_code(ErrorCode::InvalidQuery)
                }),
        }
    }

    pub fn next_token(&self) -> Option<&str> {
        self.get("nextToken")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_and_rejects_repeats() {
        let q = QueryParams::parse(Some("title=printer%20error&status=OPEN&x=a+b")).unwrap();
        assert_eq!(q.get("title"), Some("printer error"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.get("nope"), None);
        let e = QueryParams::parse(Some("status=OPEN&status=CLOSED")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQuery);
    }

    #[test]
    fn only_tag_may_repeat() {
        let q = QueryParams::parse(Some("tag=a&status=OPEN&tag=B&tag=a")).unwrap();
        assert_eq!(q.get_all("tag").collect::<Vec<_>>(), ["a", "B", "a"]);
        assert_eq!(q.get_all("status").collect::<Vec<_>>(), ["OPEN"]);
        assert_eq!(q.get_all("nope").count(), 0);
        for repeated in ["following=true&following=true", "limit=1&limit=2"] {
            let e = QueryParams::parse(Some(repeated)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidQuery, "{repeated}");
        }
    }

    #[test]
    fn limit_defaults_to_100_and_is_bounded() {
        assert_eq!(QueryParams::parse(None).unwrap().limit().unwrap(), 100);
        assert_eq!(
            QueryParams::parse(Some("limit=1"))
                .unwrap()
                .limit()
                .unwrap(),
            1
        );
        for bad in ["0", "101", "-1", "x", "1.5", ""] {
            let q = QueryParams::parse(Some(&format!("limit={bad}"))).unwrap();
            assert_eq!(q.limit().unwrap_err().field, Some("limit"), "{bad}");
        }
    }
}
