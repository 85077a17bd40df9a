//! The resource limits of templates, and the per-render state that enforces them.
//!
//! Templates are written by workspace users and rendered for every recipient, so one template
//! must not be able to exhaust memory, crash the process or run for long.
//! There is no clock here, so time is bounded through what a render may do:
//! - sources are capped in size and nesting depth when they are compiled;
//! - output is capped by the writer it renders into (an error, never a truncation);
//! - loops draw from a per-render iteration budget that is checked before a loop starts, so a
//!   huge range fails at once instead of running; the budget shrinks for templates with a lot
//!   of code, so iterations times code per iteration stays bounded;
//! - every value a filter or `capture` builds is capped in size, and the bytes all lookups,
//!   filters and captures of a render handle are capped in total, so repeated doubling
//!   (`assign s = s | append: s`) cannot exhaust memory and big values cannot be churned.

use std::io;

use liquid_core::{Runtime, ValueView};

/// Largest template source accepted by [`crate::Templates::compile`], in bytes.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Deepest nesting of blocks, or of `[` in one tag or output, that a source may have.
///
/// liquid recurses once per level while parsing and rendering; 600 levels overflow a 2 MiB
/// thread stack in a debug build, so this leaves a wide margin.
pub const MAX_NESTING: usize = 50;

/// Largest rendered output, in bytes; a render that would write more fails.
pub const MAX_OUTPUT_BYTES: usize = 512 * 1024;

/// Most loop iterations (`for` and `tablerow`, nested ones included) one render may run.
pub const MAX_LOOP_ITERATIONS: u64 = 10_000;

/// Most loop iterations times bytes of Liquid code (`{{ }}` and `{% %}`, delimiters included)
/// one render may run; see [`allowed_iterations`].
pub const MAX_LOOPED_CODE_BYTES: u64 = 20_000_000;

/// Largest value one filter or one `capture` may produce, in bytes.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// Most bytes one render's lookups may return and its filters and captures may build, in total.
pub const MAX_WORK_BYTES: usize = 32 * 1024 * 1024;

/// Widest padding a `date` format may ask for (as in `%10Y`).
pub const MAX_DATE_PADDING: usize = 64;

/// Returns how many loop iterations a render of a template with `code_bytes` bytes of code may
/// run: [`MAX_LOOP_ITERATIONS`], or fewer when the template has over 2,000 bytes of code.
///
/// The code of one iteration is at most the template's, and each byte of code does a bounded
/// amount of work beyond what [`MAX_WORK_BYTES`] counts, so this bounds a render's time.
pub fn allowed_iterations(code_bytes: u64) -> u64 {
    MAX_LOOP_ITERATIONS.min(MAX_LOOPED_CODE_BYTES / code_bytes.max(1))
}

/// Which limit a render ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`MAX_OUTPUT_BYTES`].
    Output,
    /// The template's loop budget, [`allowed_iterations`].
    LoopIterations {
        /// The iterations this template may run.
        allowed: u64,
    },
    /// [`MAX_VALUE_BYTES`].
    ValueSize,
    /// [`MAX_WORK_BYTES`].
    Work,
}

/// What one render has used so far; it lives in the runtime's registers, so each render starts
/// from zero.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// The template's loop budget; [`MAX_LOOP_ITERATIONS`] until the renderer sets it.
    allowed_iterations: Option<u64>,
    iterations: u64,
    work: usize,
    /// How many lookups are in progress, so that a lookup passing through several frames is
    /// charged once.
    lookups: u32,
    exceeded: Option<Limit>,
}

impl Budget {
    /// Sets the loop budget of this render.
    pub(crate) fn allow_iterations(runtime: &dyn Runtime, allowed: u64) {
        runtime.registers().get_mut::<Budget>().allowed_iterations = Some(allowed);
    }

    /// Returns the limit this render ran into, if any.
    pub(crate) fn exceeded(runtime: &dyn Runtime) -> Option<Limit> {
        runtime.registers().get_mut::<Budget>().exceeded
    }

    /// Fails if this render already ran into a limit, which some callers could not report.
    pub(crate) fn check(runtime: &dyn Runtime) -> liquid_core::Result<()> {
        match Budget::exceeded(runtime) {
            Some(limit) => Err(liquid_core::Error::with_msg(limit_message(limit))),
            None => Ok(()),
        }
    }

    /// Takes `count` iterations for a loop about to start, or fails without taking any.
    pub(crate) fn start_loop(runtime: &dyn Runtime, count: u64) -> liquid_core::Result<()> {
        Budget::check(runtime)?;
        // The register borrow must end before the loop body renders, since the body may
        // start loops of its own.
        let mut budget = runtime.registers().get_mut::<Budget>();
        let allowed = budget.allowed_iterations.unwrap_or(MAX_LOOP_ITERATIONS);
        match budget.iterations.checked_add(count) {
            Some(total) if total <= allowed => {
                budget.iterations = total;
                Ok(())
            }
            _ => Err(budget.fail(Limit::LoopIterations { allowed })),
        }
    }

    /// Accounts for a value of `bytes` bytes that a filter or capture just produced.
    pub(crate) fn charge(runtime: &dyn Runtime, bytes: usize) -> liquid_core::Result<()> {
        Budget::check(runtime)?;
        let mut budget = runtime.registers().get_mut::<Budget>();
        if bytes > MAX_VALUE_BYTES {
            return Err(budget.fail(Limit::ValueSize));
        }
        budget.work = budget.work.saturating_add(bytes);
        if budget.work > MAX_WORK_BYTES {
            return Err(budget.fail(Limit::Work));
        }
        Ok(())
    }

    /// Fails unless a value of `bytes` bytes may be built; filters that multiply their input
    /// call this before building, since the check after would come too late.
    pub(crate) fn check_size(runtime: &dyn Runtime, bytes: usize) -> liquid_core::Result<()> {
        if bytes > MAX_VALUE_BYTES {
            return Err(runtime
                .registers()
                .get_mut::<Budget>()
                .fail(Limit::ValueSize));
        }
        Ok(())
    }

    /// Marks the start of a lookup and returns whether no other lookup is in progress.
    pub(crate) fn enter_lookup(runtime: &dyn Runtime) -> bool {
        let mut budget = runtime.registers().get_mut::<Budget>();
        budget.lookups += 1;
        budget.lookups == 1
    }

    /// Marks the end of a lookup that returned `bytes` bytes, charging them if it was the
    /// outermost one.
    ///
    /// Lookups cannot fail, so an exceeded limit is only recorded; the next charge or loop
    /// reports it.
    pub(crate) fn leave_lookup(runtime: &dyn Runtime, outermost: bool, bytes: usize) {
        let mut budget = runtime.registers().get_mut::<Budget>();
        budget.lookups = budget.lookups.saturating_sub(1);
        if outermost && budget.exceeded.is_none() {
            budget.work = budget.work.saturating_add(bytes);
            if budget.work > MAX_WORK_BYTES {
                budget.exceeded = Some(Limit::Work);
            }
        }
    }

    fn fail(&mut self, limit: Limit) -> liquid_core::Error {
        // The first limit hit is the cause; later ones are consequences of unwinding.
        let limit = *self.exceeded.get_or_insert(limit);
        liquid_core::Error::with_msg(limit_message(limit))
    }
}

/// Describes a limit the way a template author can act on it.
pub(crate) fn limit_message(limit: Limit) -> String {
    match limit {
        Limit::Output => format!("output is larger than {MAX_OUTPUT_BYTES} bytes"),
        Limit::LoopIterations { allowed } => {
            format!("loops would run more than {allowed} iterations")
        }
        Limit::ValueSize => format!("a value is larger than {MAX_VALUE_BYTES} bytes"),
        Limit::Work => format!("lookups and filters handled more than {MAX_WORK_BYTES} bytes"),
    }
}

/// An in-memory writer that refuses to grow past a cap.
#[derive(Debug)]
pub(crate) struct CappedWriter {
    buffer: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl CappedWriter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buffer: Vec::new(),
            cap,
            overflowed: false,
        }
    }

    /// Returns whether a write was refused because of the cap.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buffer
    }
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buffer.len().saturating_add(data.len()) > self.cap {
            self.overflowed = true;
            return Err(io::Error::other("output limit reached"));
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Estimates the bytes a value occupies: its text, plus a word per element of a collection.
pub(crate) fn value_size(value: &dyn ValueView) -> usize {
    const PER_ELEMENT: usize = 8;
    if let Some(array) = value.as_array() {
        array
            .values()
            .map(|v| value_size(v).saturating_add(PER_ELEMENT))
            .fold(0, usize::saturating_add)
    } else if let Some(object) = value.as_object() {
        object
            .iter()
            .map(|(k, v)| {
                k.len()
                    .saturating_add(value_size(v))
                    .saturating_add(PER_ELEMENT)
            })
            .fold(0, usize::saturating_add)
    } else if let Some(scalar) = value.as_scalar() {
        scalar.to_kstr().len()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn capped_writer_refuses_the_write_that_crosses_the_cap() {
        let mut w = CappedWriter::new(4);
        w.write_all(b"abc").unwrap();
        assert!(w.write_all(b"de").is_err());
        assert!(w.overflowed());
        assert_eq!(w.into_bytes(), b"abc");
    }
}
