//! Lax lookups: a variable or path that does not resolve is nil instead of an error.
//!
//! liquid-core resolves `customer.plan` strictly: a key that is not there is a render error
//! ("Unknown index", or "Unknown variable" at the root), and the error happens before any filter
//! runs, so `| default:` cannot rescue it.
//! Customer.io renders a missing attribute as empty, and people's attributes are sparse, so every
//! runtime a template sees is wrapped in [`LaxFrame`], which answers a failed lookup with nil.
//! Nil renders as `""`, is falsy, blank and empty, and is what `default` replaces.
//!
//! Wrapping the runtime rather than the data also covers copies the template makes
//! (`{% assign c = customer %}{{ c.nope }}`), the items of loops, and indexing into a string
//! (`{{ customer.name.nope }}`), all of which are also empty.
//! The top-level render and every loop body get a frame; no other block introduces variables.
//! Filters that reject nil are made lenient separately, in `filters::guarded`.
//!
//! One case stays strict: an index that is itself nil (`customer[customer.nope]`) is an error,
//! because liquid evaluates index expressions before it asks the runtime for the path.

use std::collections::BTreeSet;

use liquid_core::model::{KString, KStringCow, KStringRef, ScalarCow, Value, ValueCow};
use liquid_core::runtime::{PartialStore, Registers};
use liquid_core::{Result, Runtime};

use crate::limits::{Budget, value_size};

/// What a lookup that found nothing yields.
static NIL: Value = Value::Nil;

/// A runtime whose failed lookups yield nil, and whose lookups are charged to the render's
/// work budget, since each one may copy the value it finds.
pub(crate) struct LaxFrame<R>(pub(crate) R);

impl<R: Runtime> LaxFrame<R> {
    fn lookup(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        // A frame asks its parents, which may be frames too; only the first one charges.
        let outermost = Budget::enter_lookup(self);
        let value = self.0.try_get(path);
        let bytes = match (&value, outermost) {
            (Some(value), true) => value_size(value.as_view()),
            _ => 0,
        };
        Budget::leave_lookup(self, outermost, bytes);
        value
    }
}

impl<R: Runtime> Runtime for LaxFrame<R> {
    fn partials(&self) -> &dyn PartialStore {
        self.0.partials()
    }

    fn name(&self) -> Option<KStringRef<'_>> {
        self.0.name()
    }

    fn roots(&self) -> BTreeSet<KStringCow<'_>> {
        self.0.roots()
    }

    // Conditions already treat an unresolved path as nil, so `try_get` keeps saying so.
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        self.lookup(path)
    }

    fn get(&self, path: &[ScalarCow<'_>]) -> Result<ValueCow<'_>> {
        let value = self.lookup(path);
        Budget::check(self)?;
        Ok(value.unwrap_or(ValueCow::Borrowed(&NIL)))
    }

    fn set_global(&self, name: KString, val: Value) -> Option<Value> {
        self.0.set_global(name, val)
    }

    fn set_index(&self, name: KString, val: Value) -> Option<Value> {
        self.0.set_index(name, val)
    }

    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.0.get_index(name)
    }

    fn registers(&self) -> &Registers {
        self.0.registers()
    }
}
