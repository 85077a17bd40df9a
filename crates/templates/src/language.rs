//! The Liquid dialect of Herald's templates: which tags, blocks and filters exist.
//!
//! It is liquid-lib's standard library with these changes:
//! `for`, `tablerow` and `capture` are this crate's bounded versions;
//! `include` and `render` are left out, since templates have no partials to include and a
//! template using them should be rejected when it is saved rather than fail at every send;
//! every filter is guarded (see `filters`), and `date`, `replace` and `join` are this crate's
//! versions.

use liquid_core::Language;
use liquid_lib::stdlib;

use crate::{blocks, filters};

/// Builds the language once; parsing borrows it.
pub(crate) fn build() -> Language {
    let mut language = Language::empty();

    let tags: [Box<dyn liquid_core::ParseTag>; 6] = [
        Box::new(stdlib::AssignTag),
        Box::new(stdlib::BreakTag),
        Box::new(stdlib::ContinueTag),
        Box::new(stdlib::CycleTag),
        Box::new(stdlib::IncrementTag),
        Box::new(stdlib::DecrementTag),
    ];
    for tag in tags {
        language
            .tags
            .register(tag.reflection().tag().to_owned(), tag);
    }

    let blocks: [Box<dyn liquid_core::ParseBlock>; 9] = [
        Box::new(stdlib::RawBlock),
        Box::new(stdlib::IfBlock),
        Box::new(stdlib::UnlessBlock),
        Box::new(stdlib::IfChangedBlock),
        Box::new(stdlib::CommentBlock),
        Box::new(stdlib::CaseBlock),
        Box::new(blocks::ForBlock),
        Box::new(blocks::TableRowBlock),
        Box::new(blocks::CaptureBlock),
    ];
    for block in blocks {
        language
            .blocks
            .register(block.reflection().start_tag().to_owned(), block);
    }

    filters::register(&mut language.filters);
    language
}
