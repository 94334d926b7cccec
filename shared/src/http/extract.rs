//! What a handler reads, as typed arguments after `&Ctx`: the verified caller (`Authed`), the
//! path's parameter (`Path<TicketId>`, 400 when malformed; `Path<String>` as sent; two as
//! `Path<(A, B)>`), the JSON
//! body (`Body`), the query (`QueryParams`), the `Idempotency-Key` (`Option<IdempotencyKey>`).
//! They are read in argument order, so a handler's signature is also the order of its 400s.

use super::{ApiRequest, ApiResponse, Body, QueryParams};
use crate::ApiError;
use crate::model::{IdempotencyKey, TicketId};
use crate::service::{Authed, Ctx};
use futures_util::future::BoxFuture;
use std::future::Future;
use std::marker::PhantomData;

/// A request as its route's handler receives it: matched, and authenticated when the route
/// says so.
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub request: &'a ApiRequest,
    /// The path's parameters, in order, percent-decoded.
    pub(super) params: &'a [String],
    /// The verified caller, for an authenticated route.
    pub(super) caller: Option<&'a Authed>,
}

/// A value a handler takes from the request.
pub trait FromCall: Sized {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError>;
}

/// The caller the pipeline verified (the route is declared `authenticated`).
impl FromCall for Authed {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        call.caller
            .cloned()
            .ok_or_else(|| ApiError::internal("a public route's handler reads the caller"))
    }
}

/// The route's one path parameter, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path<T>(pub T);

/// A type a path parameter parses into.
pub trait FromParam: Sized {
    fn from_param(raw: &str) -> Result<Self, ApiError>;
}

/// As sent (a userId is checked by the use case, which answers by the caller's rights).
impl FromParam for String {
    fn from_param(raw: &str) -> Result<Self, ApiError> {
        Ok(raw.to_owned())
    }
}

impl FromParam for TicketId {
    fn from_param(raw: &str) -> Result<Self, ApiError> {
        Ok(TicketId::parse(raw)?)
    }
}

impl FromParam for crate::attachments::AttachmentId {
    fn from_param(raw: &str) -> Result<Self, ApiError> {
        Ok(crate::attachments::AttachmentId::parse(raw)?)
    }
}

impl<T: FromParam> FromCall for Path<T> {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        match call.params {
            [one] => T::from_param(one).map(Path),
            _ => Err(ApiError::internal(
                "the route has not exactly one path parameter",
            )),
        }
    }
}

/// The route's two path parameters, parsed in order (a delivery under its subscription).
impl<A: FromParam, B: FromParam> FromCall for Path<(A, B)> {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        match call.params {
            [a, b] => Ok(Path((A::from_param(a)?, B::from_param(b)?))),
            _ => Err(ApiError::internal(
                "the route has not exactly two path parameters",
            )),
        }
    }
}

impl FromCall for Body {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        Body::parse(call.request)
    }
}

impl FromCall for QueryParams {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        QueryParams::parse(call.request.query.as_deref())
    }
}

/// The `Idempotency-Key` header, if sent (400 when it is not 1–255 visible ASCII, or sent
/// twice).
impl FromCall for Option<IdempotencyKey> {
    fn from_call(call: &Call<'_>) -> Result<Self, ApiError> {
        let Some(v) = call.request.single_header(IdempotencyKey::HEADER)? else {
            return Ok(None);
        };
        let raw = v.to_str().map_err(|_| {
            ApiError::invalid(
                IdempotencyKey::HEADER,
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        })?;
        Ok(Some(IdempotencyKey::parse(raw)?))
    }
}

type Answer<'a> = BoxFuture<'a, Result<ApiResponse, ApiError>>;

/// A route's handler: an `async fn(&Ctx, A, B, …) -> Result<ApiResponse, ApiError>` whose
/// arguments after the context are `FromCall` (up to four).
pub trait Handler<Args>: Send + Sync + 'static {
    fn handle<'a>(&'a self, call: &Call<'a>) -> Answer<'a>;
}

/// `Handler`'s helper, which lets the handler's future borrow the context (the future's type
/// depends on the borrow's lifetime, which a plain `Fn` bound cannot say).
pub trait HandlerFn<'a, Args>: Send + Sync + 'static {
    type Future: Future<Output = Result<ApiResponse, ApiError>> + Send + 'a;
    fn invoke(&self, ctx: &'a Ctx, args: Args) -> Self::Future;
}

macro_rules! handlers {
    ($($t:ident),*) => {
        impl<'a, F, Fut, $($t,)*> HandlerFn<'a, ($($t,)*)> for F
        where
            F: Fn(&'a Ctx, $($t,)*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<ApiResponse, ApiError>> + Send + 'a,
        {
            type Future = Fut;
            #[allow(non_snake_case)]
            fn invoke(&self, ctx: &'a Ctx, ($($t,)*): ($($t,)*)) -> Fut {
                self(ctx, $($t,)*)
            }
        }

        impl<F, $($t,)*> Handler<($($t,)*)> for F
        where
            F: for<'a> HandlerFn<'a, ($($t,)*)>,
            $($t: FromCall,)*
        {
            fn handle<'a>(&'a self, call: &Call<'a>) -> Answer<'a> {
                #[allow(unused_variables)]
                fn extract<$($t: FromCall,)*>(call: &Call<'_>) -> Result<($($t,)*), ApiError> {
                    Ok(($($t::from_call(call)?,)*))
                }
                match extract::<$($t,)*>(call) {
                    Ok(args) => Box::pin(self.invoke(call.ctx, args)),
                    Err(e) => Box::pin(std::future::ready(Err(e))),
                }
            }
        }
    };
}

handlers!();
handlers!(T1);
handlers!(T1, T2);
handlers!(T1, T2, T3);
handlers!(T1, T2, T3, T4);

/// A handler whose argument types are forgotten, so routes of any signature share a list.
pub(super) trait Erased: Send + Sync {
    fn handle<'a>(&'a self, call: &Call<'a>) -> Answer<'a>;
}

pub(super) struct Typed<H, A> {
    handler: H,
    args: PhantomData<fn() -> A>,
}

impl<H, A> Typed<H, A> {
    pub(super) fn new(handler: H) -> Self {
        Self {
            handler,
            args: PhantomData,
        }
    }
}

impl<H: Handler<A>, A: 'static> Erased for Typed<H, A> {
    fn handle<'a>(&'a self, call: &Call<'a>) -> Answer<'a> {
        self.handler.handle(call)
    }
}
