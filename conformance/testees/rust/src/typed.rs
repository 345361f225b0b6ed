//! Typed JSON values of `conformance/PROTOCOL.md`, to and from the client's
//! types. A typed value is turned into `serde` calls, so it reaches the
//! client through the same `Serialize` path as any Rust value.

use ardiq_client::spec::Value;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value as Json};

/// A typed JSON value, parsed.
#[derive(Debug, Clone)]
pub enum Typed {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Typed>),
    Map(Vec<(String, Typed)>),
    /// 2^63: one past int64, which Rust holds as a `u64`.
    IntTooLarge,
    /// A map with an int key.
    NonStrKey,
}

/// Why a typed value cannot be built.
#[derive(Debug)]
pub enum TypedError {
    /// The request is not valid typed JSON.
    Bad(String),
    /// Rust has no value of this kind (a set, a date-time, `undefined`, a function).
    Inexpressible(String),
}

impl Typed {
    /// Parses one typed JSON value.
    pub fn parse(json: &Json) -> Result<Self, TypedError> {
        let bad = || TypedError::Bad(format!("not a typed value: {json}"));
        let object = json
            .as_object()
            .filter(|object| object.len() == 1)
            .ok_or_else(bad)?;
        let (kind, inner) = object.iter().next().ok_or_else(bad)?;
        Ok(match kind.as_str() {
            "nil" => Self::Nil,
            "bool" => Self::Bool(inner.as_bool().ok_or_else(bad)?),
            "int" => Self::Int(
                inner
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(bad)?,
            ),
            "float" => Self::Float(parse_float(inner).ok_or_else(bad)?),
            "str" => Self::Str(inner.as_str().ok_or_else(bad)?.to_owned()),
            "bytes" => Self::Bytes(from_hex(inner.as_str().ok_or_else(bad)?).ok_or_else(bad)?),
            "array" => Self::Array(
                inner
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(Self::parse)
                    .collect::<Result<_, _>>()?,
            ),
            "map" => Self::Map(parse_pairs(inner)?),
            "unsupported" => match inner.as_str() {
                Some("int_too_large") => Self::IntTooLarge,
                Some("non_str_key") => Self::NonStrKey,
                Some(other) => return Err(TypedError::Inexpressible(other.to_owned())),
                None => return Err(bad()),
            },
            _ => return Err(bad()),
        })
    }
}

/// Parses `[["key", typed], ...]`.
pub fn parse_pairs(json: &Json) -> Result<Vec<(String, Typed)>, TypedError> {
    let bad = || TypedError::Bad(format!("not a list of [key, typed] pairs: {json}"));
    json.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Json::String(key), value]) => Ok((key.clone(), Typed::parse(value)?)),
            _ => Err(bad()),
        })
        .collect()
}

fn parse_float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(number) => number.as_f64(),
        Json::String(text) => match text.as_str() {
            "NaN" => Some(f64::NAN),
            "-NaN" => Some(-f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            "-0" => Some(-0.0),
            _ => None,
        },
        _ => None,
    }
}

impl Serialize for Typed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Nil => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Int(i) => serializer.serialize_i64(*i),
            Self::Float(f) => serializer.serialize_f64(*f),
            Self::Str(s) => serializer.serialize_str(s),
            Self::Bytes(b) => serializer.serialize_bytes(b),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Map(entries) => TypedMap(entries).serialize(serializer),
            Self::IntTooLarge => serializer.serialize_u64(1 << 63),
            Self::NonStrKey => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(&1i64, &1i64)?;
                map.end()
            }
        }
    }
}

/// Ordered pairs serialized as a map in their order.
#[derive(Debug)]
pub struct TypedMap<'a>(pub &'a [(String, Typed)]);

impl Serialize for TypedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The typed JSON of a spec value.
pub fn to_typed(value: &Value) -> Json {
    match value {
        Value::Nil => json!({"nil": null}),
        Value::Bool(b) => json!({"bool": b}),
        Value::Int(i) => json!({"int": i.to_string()}),
        Value::Float(f) => json!({"float": float_json(*f)}),
        Value::Str(s) => json!({"str": s}),
        Value::Bytes(b) => json!({"bytes": to_hex(b)}),
        Value::Array(items) => json!({"array": items.iter().map(to_typed).collect::<Vec<_>>()}),
        Value::Map(entries) => json!({
            "map": entries.iter().map(|(k, v)| json!([k, to_typed(v)])).collect::<Vec<_>>()
        }),
    }
}

fn float_json(f: f64) -> Json {
    if f.is_nan() {
        json!("NaN")
    } else if f == f64::INFINITY {
        json!("Infinity")
    } else if f == f64::NEG_INFINITY {
        json!("-Infinity")
    } else if f == 0.0 && f.is_sign_negative() {
        json!("-0")
    } else {
        json!(f)
    }
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Bytes from hex, either case.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}
