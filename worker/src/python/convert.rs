//! Python values to canonical MessagePack, and spec values back to Python.
//! Encoding walks the Python objects directly (no intermediate tree) and
//! accepts exactly the spec's type table; anything else is an
//! `UnsupportedValue` naming the path of the offending value. The types are
//! exact: a subclass (`IntEnum`, `StrEnum`, a named tuple, `OrderedDict`)
//! would be written as its base and read back as something else, so it is
//! refused like any type outside the table (SPEC.md section 4).

use std::fmt::Write as _;

use ardiq_spec::limits::MAX_DEPTH;
use ardiq_spec::value::{encode_float, encode_int};
use ardiq_spec::Value;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::error::CoreError;

fn unsupported(path: &str, what: &str) -> CoreError {
    CoreError::Value(format!("unsupported value at {path}: {what}"))
}

/// Appends the canonical MessagePack of `obj` to `out`.
pub fn encode(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    path: &mut String,
) -> Result<(), CoreError> {
    encode_at(obj, out, path, 0)
}

/// Appends the canonical MessagePack of a job's `args` (a tuple or list)
/// or `kwargs` (a dict): the container itself is no nesting level (SPEC.md
/// section 4), so each argument may nest as deep as any user value.
pub fn encode_arguments(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    root: &str,
) -> Result<(), CoreError> {
    let mut path = root.to_owned();
    if let Ok(dict) = obj.cast_exact::<PyDict>() {
        rmp::encode::write_map_len(out, dict.len() as u32).expect("vec write");
        for (key, item) in dict.iter() {
            let key = dict_key(&key, &path)?;
            rmp::encode::write_str(out, key).expect("vec write");
            path.truncate(root.len());
            path.push('.');
            path.push_str(key);
            encode_at(&item, out, &mut path, 0)?;
        }
        return Ok(());
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(tuple) = obj.cast_exact::<PyTuple>() {
        tuple.iter().collect()
    } else if let Ok(list) = obj.cast_exact::<PyList>() {
        list.iter().collect()
    } else {
        return Err(unsupported(
            root,
            "arguments must be a tuple, a list or a dict",
        ));
    };
    rmp::encode::write_array_len(out, items.len() as u32).expect("vec write");
    for (index, item) in items.iter().enumerate() {
        path.truncate(root.len());
        let _ = write!(path, "[{index}]");
        encode_at(item, out, &mut path, 0)?;
    }
    Ok(())
}

fn dict_key<'a>(key: &'a Bound<'_, PyAny>, path: &str) -> Result<&'a str, CoreError> {
    let key = key.cast_exact::<PyString>().map_err(|_| {
        unsupported(
            path,
            &format!(
                "dict key {} of type {} is not a str",
                key.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
                key.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ),
        )
    })?;
    key.to_str()
        .map_err(|_| unsupported(path, "dict key that is not valid UTF-8"))
}

fn encode_at(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    path: &mut String,
    depth: usize,
) -> Result<(), CoreError> {
    if depth > MAX_DEPTH {
        return Err(unsupported(path, "nesting deeper than 64"));
    }
    // Vec writes cannot fail, so rmp's io results are unwrapped.
    if obj.is_none() {
        out.push(0xc0);
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.push(if b.is_true() { 0xc3 } else { 0xc2 });
    } else if let Ok(i) = obj.cast_exact::<PyInt>() {
        let value: i64 = i
            .extract()
            .map_err(|_| unsupported(path, &format!("integer {i} is outside int64")))?;
        encode_int(value, out);
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        encode_float(f.value(), out);
    } else if let Ok(s) = obj.cast_exact::<PyString>() {
        let text = s
            .to_str()
            .map_err(|_| unsupported(path, "str that is not valid UTF-8"))?;
        rmp::encode::write_str(out, text).expect("vec write");
    } else if let Ok(b) = obj.cast_exact::<PyBytes>() {
        rmp::encode::write_bin(out, b.as_bytes()).expect("vec write");
    } else if let Ok(list) = obj.cast_exact::<PyList>() {
        rmp::encode::write_array_len(out, list.len() as u32).expect("vec write");
        for (index, item) in list.iter().enumerate() {
            let len = path.len();
            let _ = write!(path, "[{index}]");
            encode_at(&item, out, path, depth + 1)?;
            path.truncate(len);
        }
    } else if let Ok(tuple) = obj.cast_exact::<PyTuple>() {
        rmp::encode::write_array_len(out, tuple.len() as u32).expect("vec write");
        for (index, item) in tuple.iter().enumerate() {
            let len = path.len();
            let _ = write!(path, "[{index}]");
            encode_at(&item, out, path, depth + 1)?;
            path.truncate(len);
        }
    } else if let Ok(dict) = obj.cast_exact::<PyDict>() {
        rmp::encode::write_map_len(out, dict.len() as u32).expect("vec write");
        for (key, item) in dict.iter() {
            let key = dict_key(&key, path)?;
            rmp::encode::write_str(out, key).expect("vec write");
            let len = path.len();
            path.push('.');
            path.push_str(key);
            encode_at(&item, out, path, depth + 1)?;
            path.truncate(len);
        }
    } else {
        let type_name = obj
            .get_type()
            .name()
            .map_or_else(|_| "?".into(), |n| n.to_string());
        return Err(unsupported(
            path,
            &format!("type {type_name} is not in the type table"),
        ));
    }
    Ok(())
}

/// A spec value as a Python object.
pub fn to_python(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Nil => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::Float(f) => PyFloat::new(py, *f).into_any().unbind(),
        Value::Str(s) => PyString::new(py, s).into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, item) in entries {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// The canonical MessagePack of a value.
#[pyfunction]
pub fn encode_value<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    encode(value, &mut out, &mut "$".to_owned())?;
    Ok(PyBytes::new(py, &out))
}

/// A value from MessagePack, checked against the type table.
#[pyfunction]
pub fn decode_value(py: Python<'_>, data: &[u8]) -> PyResult<Py<PyAny>> {
    let value = ardiq_spec::value::decode(data).map_err(CoreError::from)?;
    to_python(py, &value)
}
