//! User values: the spec's MessagePack type table (SPEC.md section 4).
//!
//! `encode` writes the canonical form every implementation must produce:
//! smallest int format (positive formats for non-negative values), floats
//! always as float 64, smallest str and bin formats, maps in insertion order.
//! It writes each item with `rmp`, whose writers choose those formats.
//! `decode` accepts exactly the type table and rejects everything else
//! (ext types, non-str map keys, ints beyond int64, nesting over 64).
//!
//! `decode` reads the bytes itself: neither MessagePack decoder of the field
//! tells every malformed input from a value, whatever checks follow it. Of
//! the conformance vectors (`conformance/vectors/v1/values.json`):
//!
//! - `values.undecodable.reserved_c1`: `rmpv::decode::read_value` reads the
//!   reserved marker 0xc1 as nil, so the bytes decode to a value;
//! - `values.undecodable.invalid_utf8`: rmp-serde hands a str that is not
//!   UTF-8 to the visitor as bytes, so it decodes to a bin.
//!
//! Both pass the other decode vectors once their output is checked against
//! the table (ext types, non-str keys, ints beyond int64, depth); the checks
//! are most of what is written here, so no library takes much off it.

use std::fmt::Write as _;

use thiserror::Error;

use crate::limits::MAX_DEPTH;

/// One user value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// nil.
    Nil,
    /// bool.
    Bool(bool),
    /// int64.
    Int(i64),
    /// float64.
    Float(f64),
    /// UTF-8 string.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Array.
    Array(Vec<Value>),
    /// Map with string keys, in insertion order.
    Map(Vec<(String, Value)>),
}

/// A value that is not in the type table, or bytes that are not MessagePack.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The bytes end early or hold a format the table does not allow.
    #[error("undecodable MessagePack: {0}")]
    Malformed(String),
    /// A value outside the type table.
    #[error("unsupported value at {path}: {what}")]
    Unsupported {
        /// Where the value sits, like `args[1].when`.
        path: String,
        /// What it is.
        what: String,
    },
}

/// Appends the canonical MessagePack encoding of `value` to `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    match value {
        Value::Nil => rmp::encode::write_nil(out).expect("vec write"),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).expect("vec write"),
        Value::Int(i) => encode_int(*i, out),
        Value::Float(f) => encode_float(*f, out),
        Value::Str(s) => rmp::encode::write_str(out, s).expect("vec write"),
        Value::Bytes(b) => rmp::encode::write_bin(out, b).expect("vec write"),
        Value::Array(items) => {
            rmp::encode::write_array_len(out, items.len() as u32).expect("vec write");
            for item in items {
                encode(item, out);
            }
        }
        Value::Map(entries) => {
            rmp::encode::write_map_len(out, entries.len() as u32).expect("vec write");
            for (key, item) in entries {
                rmp::encode::write_str(out, key).expect("vec write");
                encode(item, out);
            }
        }
    }
}

/// Appends the canonical encoding of a float64: every NaN as the quiet NaN
/// `7ff8000000000000` (SPEC.md section 4), whatever its sign or payload.
pub fn encode_float(f: f64, out: &mut Vec<u8>) {
    let canonical = if f.is_nan() {
        f64::from_bits(0x7ff8_0000_0000_0000)
    } else {
        f
    };
    rmp::encode::write_f64(out, canonical).expect("vec write");
}

/// Appends the canonical encoding of an int64.
pub fn encode_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        rmp::encode::write_uint(out, i as u64).expect("vec write");
    } else {
        rmp::encode::write_sint(out, i).expect("vec write");
    }
}

/// The canonical encoding of `value`.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

/// Decodes exactly one user value that fills `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, ValueError> {
    decode_with_limit(bytes, MAX_DEPTH, "$")
}

/// Decodes a job's `args` array or `kwargs` map: the container itself is
/// no nesting level (SPEC.md section 4), so each argument may nest as deep
/// as any user value.
pub fn decode_arguments(bytes: &[u8], root: &str) -> Result<Value, ValueError> {
    decode_with_limit(bytes, MAX_DEPTH + 1, root)
}

fn decode_with_limit(bytes: &[u8], limit: usize, root: &str) -> Result<Value, ValueError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        limit,
    };
    let value = reader.value(0, &mut String::from(root))?;
    if reader.pos != bytes.len() {
        return Err(ValueError::Malformed(format!(
            "{} trailing bytes",
            bytes.len() - reader.pos
        )));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The deepest nesting allowed.
    limit: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ValueError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                ValueError::Malformed(format!("needs {n} more bytes at offset {}", self.pos))
            })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, n: usize) -> Result<u64, ValueError> {
        let mut buf = [0u8; 8];
        buf[8 - n..].copy_from_slice(self.take(n)?);
        Ok(u64::from_be_bytes(buf))
    }

    fn string(&mut self, len: usize, path: &str) -> Result<String, ValueError> {
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| ValueError::Malformed(format!("invalid UTF-8 string at {path}")))
    }

    fn value(&mut self, depth: usize, path: &mut String) -> Result<Value, ValueError> {
        if depth > self.limit {
            return Err(ValueError::Unsupported {
                path: path.clone(),
                what: format!("nesting deeper than {MAX_DEPTH}"),
            });
        }
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x00..=0x7f => Value::Int(i64::from(marker)),
            0xe0..=0xff => Value::Int(i64::from(marker as i8)),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xcc => Value::Int(self.uint(1)? as i64),
            0xcd => Value::Int(self.uint(2)? as i64),
            0xce => Value::Int(self.uint(4)? as i64),
            0xcf => {
                let u = self.uint(8)?;
                let i = i64::try_from(u).map_err(|_| ValueError::Unsupported {
                    path: path.clone(),
                    what: format!("integer {u} is beyond int64"),
                })?;
                Value::Int(i)
            }
            0xd0 => Value::Int(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Int(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Int(self.uint(8)? as i64),
            0xca => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => Value::Str(self.string(usize::from(marker & 0x1f), path)?),
            0xd9 => {
                let n = self.uint(1)? as usize;
                Value::Str(self.string(n, path)?)
            }
            0xda => {
                let n = self.uint(2)? as usize;
                Value::Str(self.string(n, path)?)
            }
            0xdb => {
                let n = self.uint(4)? as usize;
                Value::Str(self.string(n, path)?)
            }
            0xc4..=0xc6 => {
                let width = 1 << (marker - 0xc4);
                let n = self.uint(width)? as usize;
                Value::Bytes(self.take(n)?.to_vec())
            }
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth, path)?,
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(n, depth, path)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(n, depth, path)?
            }
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth, path)?,
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n, depth, path)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n, depth, path)?
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                return Err(ValueError::Unsupported {
                    path: path.clone(),
                    what: "MessagePack ext type".to_owned(),
                })
            }
            0xc1 => return Err(ValueError::Malformed("reserved marker 0xc1".to_owned())),
        })
    }

    fn array(&mut self, n: usize, depth: usize, path: &mut String) -> Result<Value, ValueError> {
        // Each element takes at least one byte: cap the allocation by what is left.
        let mut items = Vec::with_capacity(n.min(self.bytes.len() - self.pos));
        for index in 0..n {
            let len = path.len();
            let _ = write!(path, "[{index}]");
            items.push(self.value(depth + 1, path)?);
            path.truncate(len);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize, path: &mut String) -> Result<Value, ValueError> {
        let mut entries = Vec::with_capacity(n.min(self.bytes.len() - self.pos));
        for _ in 0..n {
            let key = match self.value(depth + 1, path)? {
                Value::Str(key) => key,
                other => {
                    return Err(ValueError::Unsupported {
                        path: path.clone(),
                        what: format!("map key {other:?} is not a string"),
                    })
                }
            };
            let len = path.len();
            path.push('.');
            path.push_str(&key);
            let item = self.value(depth + 1, path)?;
            path.truncate(len);
            entries.push((key, item));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nan_is_written_as_the_quiet_nan() {
        for bits in [
            0xfff8_0000_0000_0000_u64,
            0x7ff0_0000_0000_0001,
            0x7ff8_0000_0000_0000,
        ] {
            let mut out = Vec::new();
            encode(&Value::Float(f64::from_bits(bits)), &mut out);
            assert_eq!(out, [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], "{bits:x}");
        }
    }

    #[test]
    fn ints_use_the_smallest_positive_format() {
        assert_eq!(to_vec(&Value::Int(1)), vec![0x01]);
        assert_eq!(to_vec(&Value::Int(200)), vec![0xcc, 200]);
        assert_eq!(to_vec(&Value::Int(-1)), vec![0xff]);
        assert_eq!(to_vec(&Value::Int(-200)), vec![0xd1, 0xff, 0x38]);
        assert_eq!(to_vec(&Value::Int(i64::MAX))[0], 0xcf);
        assert_eq!(to_vec(&Value::Int(i64::MIN))[0], 0xd3);
    }

    #[test]
    fn floats_are_always_float64() {
        assert_eq!(to_vec(&Value::Float(1.0)).len(), 9);
    }

    #[test]
    fn round_trips_every_type() {
        let value = Value::Map(vec![
            (
                "a".into(),
                Value::Array(vec![Value::Nil, Value::Bool(true), Value::Int(-5)]),
            ),
            ("b".into(), Value::Bytes(vec![0, 1, 2])),
            ("c".into(), Value::Str("żółw".into())),
            ("d".into(), Value::Float(-0.5)),
        ]);
        assert_eq!(decode(&to_vec(&value)), Ok(value));
    }

    #[test]
    fn rejects_ext_and_non_string_keys_with_a_path() {
        assert!(matches!(
            decode(&[0xd4, 0x01, 0x00]),
            Err(ValueError::Unsupported { .. })
        ));
        let err = decode(&[0x91, 0x81, 0x01, 0x02]).unwrap_err();
        assert_eq!(
            err,
            ValueError::Unsupported {
                path: "$[0]".into(),
                what: "map key Int(1) is not a string".into()
            }
        );
        assert!(matches!(
            decode(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(ValueError::Unsupported { .. })
        ));
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(matches!(
            decode(&[0x92, 0x01]),
            Err(ValueError::Malformed(_))
        ));
        assert!(matches!(
            decode(&[0x01, 0x02]),
            Err(ValueError::Malformed(_))
        ));
    }
}

#[cfg(test)]
mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    fn value() -> impl Strategy<Value = Value> {
        // Lengths and magnitudes on both sides of every format's bound:
        // ints shifted to every size, strings and bytes past 31, 255 and 65,535
        // bytes, containers past 15 items.
        let text = prop_oneof![16 => any::<String>(), 4 => "[a-zé]{30,300}", 1 => "x{65530,65540}"];
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Bool),
            (any::<i64>(), 0..64u32).prop_map(|(i, shift)| Value::Int(i >> shift)),
            // Every bit pattern: NaNs of any sign and payload, infinities, -0.0.
            any::<u64>().prop_map(|bits| Value::Float(f64::from_bits(bits))),
            text.clone().prop_map(Value::Str),
            prop_oneof![20 => vec(any::<u8>(), 0..300), 1 => vec(any::<u8>(), 65530..65540)]
                .prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 64, 10, move |inner| {
            prop_oneof![
                vec(inner.clone(), 0..20).prop_map(Value::Array),
                vec((text.clone(), inner), 0..20).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_value_decodes_from_its_canonical_encoding_to_the_same_encoding(v in value()) {
            let bytes = to_vec(&v);
            let back = decode(&bytes).expect("a canonical encoding decodes");
            prop_assert_eq!(to_vec(&back), bytes);
        }

        #[test]
        fn any_bytes_are_a_value_or_an_error_and_a_value_re_encodes_canonically(
            bytes in vec(any::<u8>(), 0..200)
        ) {
            if let Ok(v) = decode(&bytes) {
                let canonical = to_vec(&v);
                let again = decode(&canonical).expect("a canonical encoding decodes");
                prop_assert_eq!(to_vec(&again), canonical);
            }
        }

        #[test]
        fn a_canonical_encoding_with_bytes_changed_never_panics(
            v in value(),
            changes in vec((any::<Index>(), 1..=255u8), 1..4),
        ) {
            let mut bytes = to_vec(&v);
            for (at, x) in changes {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Ok(decoded) = decode(&bytes) {
                prop_assert!(decode(&to_vec(&decoded)).is_ok());
            }
        }

        #[test]
        fn every_cut_of_a_canonical_encoding_is_malformed(v in value(), cut in any::<Index>()) {
            let bytes = to_vec(&v);
            let at = cut.index(bytes.len());
            prop_assert!(matches!(decode(&bytes[..at]), Err(ValueError::Malformed(_))));
        }

        #[test]
        fn arguments_nest_one_level_deeper_than_values(depth in 60..70usize) {
            let mut bytes = vec![0x91; depth];
            bytes.push(0x01);
            prop_assert_eq!(decode(&bytes).is_ok(), depth <= MAX_DEPTH);
            prop_assert_eq!(decode_arguments(&bytes, "args").is_ok(), depth <= MAX_DEPTH + 1);
        }
    }
}
