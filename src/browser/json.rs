//! JSON parsed by the browser (`JSON.parse`), read through `kefu_protocol::fields::Fields`:
//! the page carries no JSON parser of its own for the frames it receives.

use kefu_protocol::fields::{Fields, FieldsOut};
use wasm_bindgen::{JsCast, JsValue};

/// A parsed JSON object.
pub(crate) struct JsObject(JsValue);

impl JsObject {
    /// Parses `text`; `None` when it is not a JSON object.
    pub(crate) fn parse(text: &str) -> Option<JsObject> {
        let value = js_sys::JSON::parse(text).ok()?;
        (value.is_object() && !js_sys::Array::is_array(&value)).then_some(JsObject(value))
    }

    fn get(&self, key: &str) -> Option<JsValue> {
        js_sys::Reflect::get(&self.0, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }
}

/// Integers JavaScript numbers carry exactly.
const SAFE: f64 = 9_007_199_254_740_992.0;

impl Fields for JsObject {
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)?.as_string()
    }

    fn integer(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < SAFE).map(|n| n as i64)
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    fn objects(&self, key: &str) -> Option<Vec<Self>> {
        let array: js_sys::Array = self.get(key)?.dyn_into().ok()?;
        array.iter().map(|item| item.is_object().then_some(JsObject(item))).collect()
    }

    fn object(&self, key: &str) -> Option<Self> {
        let value = self.get(key)?;
        (value.is_object() && !js_sys::Array::is_array(&value)).then_some(JsObject(value))
    }

    fn strings(&self, key: &str) -> Option<Vec<String>> {
        let array: js_sys::Array = self.get(key)?.dyn_into().ok()?;
        array.iter().map(|item| item.as_string()).collect()
    }
}

impl JsObject {
    /// Parses `text` as a list of objects; `None` when it is not one.
    pub(crate) fn parse_list(text: &str) -> Option<Vec<JsObject>> {
        let value = js_sys::JSON::parse(text).ok()?;
        let array: js_sys::Array = value.dyn_into().ok()?;
        array.iter().map(|item| item.is_object().then_some(JsObject(item))).collect()
    }

    /// The object as JSON text.
    pub(crate) fn to_json(&self) -> String {
        js_sys::JSON::stringify(&self.0).ok().and_then(|s| s.as_string()).unwrap_or_default()
    }

    /// Objects as a JSON list.
    pub(crate) fn list_to_json(items: Vec<JsObject>) -> String {
        let array: js_sys::Array = items.into_iter().map(|item| item.0).collect();
        js_sys::JSON::stringify(&array).ok().and_then(|s| s.as_string()).unwrap_or_default()
    }

    fn set(&mut self, key: &str, value: &JsValue) {
        let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(key), value);
    }
}

impl FieldsOut for JsObject {
    fn new_object() -> Self {
        JsObject(js_sys::Object::new().into())
    }

    fn put_string(&mut self, key: &str, value: &str) {
        self.set(key, &JsValue::from_str(value));
    }

    fn put_integer(&mut self, key: &str, value: i64) {
        // Ids, sequence numbers and conversations stay below 2^53: exact as JavaScript numbers.
        self.set(key, &JsValue::from_f64(value as f64));
    }

    fn put_boolean(&mut self, key: &str, value: bool) {
        self.set(key, &JsValue::from_bool(value));
    }

    fn put_objects(&mut self, key: &str, items: Vec<Self>) {
        let array: js_sys::Array = items.into_iter().map(|item| item.0).collect();
        self.set(key, &array);
    }
}
