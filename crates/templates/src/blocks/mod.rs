//! Blocks that replace liquid-lib's where its versions are unbounded: the loops (`for`,
//! `tablerow`) and `capture`.

mod capture;
mod collection;
mod for_block;
mod tablerow;

pub(crate) use capture::CaptureBlock;
pub(crate) use for_block::ForBlock;
pub(crate) use tablerow::TableRowBlock;
