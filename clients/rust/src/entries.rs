//! Stream entries as Redis replies them, read without redis-rs's `StreamId`.
//!
//! A `StreamId` maps field names to `String`, so one entry whose field name
//! is not UTF-8 (any producer may write one) fails the whole reply: every
//! read, reclaim or purge of that stream while the entry is in it. Here names
//! and values stay bytes, in the entry's order; what they must be is the
//! reader's check (the worker's admission, SPEC.md section 9). Used by the
//! worker and by [`crate::Client::purge`].

use redis::{ErrorKind, RedisError, Value};

/// One stream entry: its id and its field names and values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The stream entry id.
    pub id: String,
    /// Field names and values; values that are not strings are left out.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    /// A field's value; of a name given twice, the last, as a map of the
    /// fields would keep it (SPEC.md section 3).
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .rev()
            .find(|(key, _)| key == name.as_bytes())
            .map(|(_, value)| value.as_slice())
    }
}

/// A string of a reply as bytes; `None` for anything else.
pub fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// A string of a reply that is UTF-8 (an entry id, a cursor); `None` otherwise.
pub fn text(value: Value) -> Option<String> {
    String::from_utf8(bytes(value)?).ok()
}

/// A reply of an unexpected shape.
pub fn shape_error(detail: &str) -> RedisError {
    RedisError::from((
        ErrorKind::TypeError,
        "unexpected stream reply",
        detail.to_owned(),
    ))
}

/// A list of entries (`XRANGE`, `XCLAIM`, `XAUTOCLAIM`, one stream of
/// `XREADGROUP`): per entry its id and its flat list of names and values (a
/// map in RESP3 is taken too). An entry deleted since it was delivered (no
/// field list) is left out.
pub fn entries(list: Value) -> Result<Vec<Entry>, RedisError> {
    let Value::Array(items) = list else {
        return Err(shape_error("a list of entries is not an array"));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err(shape_error("an entry is not an array"));
        };
        let mut parts = parts.into_iter();
        let id = parts
            .next()
            .and_then(text)
            .ok_or_else(|| shape_error("an entry without its id"))?;
        let pairs = match parts.next() {
            Some(Value::Array(flat)) => {
                let mut flat = flat.into_iter();
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
                    pairs.push((name, value));
                }
                pairs
            }
            Some(Value::Map(pairs)) => pairs,
            _ => continue,
        };
        let fields = pairs
            .into_iter()
            .filter_map(|(name, value)| Some((bytes(name)?, bytes(value)?)))
            .collect();
        entries.push(Entry { id, fields });
    }
    Ok(entries)
}

/// One stream of a read reply: its key and its entries.
pub type StreamEntries = (Vec<u8>, Vec<Entry>);

/// An `XREADGROUP` (or `XREAD`) reply: per stream its key and its entries,
/// from an array of pairs (RESP2) or a map (RESP3); none when a blocking
/// read timed out (nil).
pub fn read_reply(reply: Value) -> Result<Vec<StreamEntries>, RedisError> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(streams) => streams,
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(pair) if pair.len() == 2 => {
                    let mut pair = pair.into_iter();
                    Ok((
                        pair.next().unwrap_or(Value::Nil),
                        pair.next().unwrap_or(Value::Nil),
                    ))
                }
                _ => Err(shape_error("a stream of the reply is not [key, entries]")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(shape_error("a read reply is not a list of streams")),
    };
    streams
        .into_iter()
        .map(|(key, list)| {
            let key = bytes(key).ok_or_else(|| shape_error("a stream without its key"))?;
            Ok((key, entries(list)?))
        })
        .collect()
}

/// An `XAUTOCLAIM` reply: the cursor to go on from (`0-0` when the scan is
/// done) and the entries claimed (the ids of entries deleted meanwhile, its
/// third part, are left out).
pub fn autoclaim_reply(reply: Value) -> Result<(String, Vec<Entry>), RedisError> {
    let Value::Array(parts) = reply else {
        return Err(shape_error("an XAUTOCLAIM reply is not an array"));
    };
    let mut parts = parts.into_iter();
    let next = parts
        .next()
        .and_then(text)
        .ok_or_else(|| shape_error("an XAUTOCLAIM reply without its cursor"))?;
    let claimed = entries(parts.next().unwrap_or(Value::Array(Vec::new())))?;
    Ok((next, claimed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(b: &[u8]) -> Value {
        Value::BulkString(b.to_vec())
    }

    fn entry(id: &str, fields: Value) -> Value {
        Value::Array(vec![bulk(id.as_bytes()), fields])
    }

    #[test]
    fn field_names_that_are_not_utf8_are_kept_and_deleted_entries_left_out() {
        let flat = Value::Array(vec![
            bulk(b"id"),
            bulk(b"j1"),
            bulk(&[0xff, 0xfe]),
            bulk(b"x"),
        ]);
        let expected = Entry {
            id: "1-0".into(),
            fields: vec![
                (b"id".to_vec(), b"j1".to_vec()),
                (vec![0xff, 0xfe], b"x".to_vec()),
            ],
        };
        let list = Value::Array(vec![entry("1-0", flat), entry("2-0", Value::Nil)]);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk(b"s:7"), list.clone()])]);
        assert_eq!(
            read_reply(resp2).unwrap(),
            vec![(b"s:7".to_vec(), vec![expected.clone()])]
        );
        let resp3 = Value::Map(vec![(bulk(b"s:2"), list.clone())]);
        assert_eq!(
            read_reply(resp3).unwrap(),
            vec![(b"s:2".to_vec(), vec![expected.clone()])]
        );
        assert_eq!(read_reply(Value::Nil).unwrap(), Vec::new());
        let claimed = Value::Array(vec![bulk(b"3-0"), list, Value::Array(vec![])]);
        assert_eq!(
            autoclaim_reply(claimed).unwrap(),
            ("3-0".to_owned(), vec![expected])
        );
        assert!(read_reply(Value::Int(1)).is_err());
        assert!(autoclaim_reply(Value::Array(vec![])).is_err());
        assert!(entries(Value::Array(vec![Value::Int(3)])).is_err());
    }

    #[test]
    fn of_a_name_given_twice_the_last_counts() {
        let entry = Entry {
            id: "1-0".into(),
            fields: vec![
                (b"id".to_vec(), b"a".to_vec()),
                (b"id".to_vec(), b"b".to_vec()),
            ],
        };
        assert_eq!(entry.field("id"), Some(&b"b"[..]));
        assert_eq!(entry.field("job"), None);
    }
}
