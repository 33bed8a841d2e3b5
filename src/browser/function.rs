//! [`gc_function`]: a Rust closure handed to JavaScript as a function that the JS garbage collector
//! owns.

use js_sys::Function;
use wasm_bindgen::{JsCast, closure::Closure};

/// Wraps `f` as a JS function. The closure goes to the JS garbage collector (`into_js_value`), which
/// frees it once the function is unreachable: nothing is leaked, and JS may call it at any time, also
/// after its Rust owner is gone (so `f` should hold only `Weak` references to what it acts on).
pub fn gc_function(f: impl FnMut() + 'static) -> Function {
    Closure::wrap(Box::new(f) as Box<dyn FnMut()>).into_js_value().unchecked_into()
}
