//! The filters templates may use: liquid's standard filters, each guarded (bounded, lenient
//! with nil, and turning a panic into an error), with `date`, `replace`, `join`, `uniq` and the
//! arithmetic filters replaced by this crate's versions.

mod arithmetic;
mod date;
mod guarded;
mod moment;
mod multiplying;
mod uniq;

use liquid_core::ParseFilter;
use liquid_core::parser::PluginRegistry;
use liquid_lib::stdlib;

use guarded::Guarded;
pub(crate) use moment::Now;

/// Every filter, before it is guarded.
fn all() -> Vec<Box<dyn ParseFilter>> {
    vec![
        Box::new(arithmetic::Abs),
        Box::new(stdlib::Append),
        Box::new(stdlib::AtLeast),
        Box::new(stdlib::AtMost),
        Box::new(stdlib::Capitalize),
        Box::new(arithmetic::Ceil),
        Box::new(stdlib::Compact),
        Box::new(stdlib::Concat),
        Box::new(date::Date),
        Box::new(stdlib::Default),
        Box::new(arithmetic::DividedBy),
        Box::new(stdlib::Downcase),
        Box::new(stdlib::Escape),
        Box::new(stdlib::EscapeOnce),
        Box::new(stdlib::First),
        Box::new(arithmetic::Floor),
        Box::new(multiplying::Join),
        Box::new(stdlib::Last),
        Box::new(stdlib::Lstrip),
        Box::new(stdlib::Map),
        Box::new(arithmetic::Minus),
        Box::new(arithmetic::Modulo),
        Box::new(stdlib::NewlineToBr),
        Box::new(arithmetic::Plus),
        Box::new(stdlib::Prepend),
        Box::new(stdlib::Remove),
        Box::new(stdlib::RemoveFirst),
        Box::new(multiplying::Replace),
        Box::new(stdlib::ReplaceFirst),
        Box::new(stdlib::Reverse),
        Box::new(arithmetic::Round),
        Box::new(stdlib::Rstrip),
        Box::new(stdlib::Size),
        Box::new(stdlib::Slice),
        Box::new(stdlib::Sort),
        Box::new(stdlib::SortNatural),
        Box::new(stdlib::Split),
        Box::new(stdlib::Strip),
        Box::new(stdlib::StripHtml),
        Box::new(stdlib::StripNewlines),
        Box::new(arithmetic::Times),
        Box::new(stdlib::Truncate),
        Box::new(stdlib::TruncateWords),
        Box::new(uniq::Uniq),
        Box::new(stdlib::Upcase),
        Box::new(stdlib::UrlDecode),
        Box::new(stdlib::UrlEncode),
        Box::new(stdlib::Where),
    ]
}

/// Registers every filter in `registry`.
///
/// A registry keeps the last plugin registered under a name, so each name is registered once
/// and the replaced stdlib filters are simply never registered.
pub(crate) fn register(registry: &mut PluginRegistry<Box<dyn ParseFilter>>) {
    for filter in all() {
        let name = filter.reflection().name().to_owned();
        let replaced = registry.register(name, Box::new(Guarded::new(filter)));
        debug_assert!(!replaced, "a filter name is registered twice");
    }
}
