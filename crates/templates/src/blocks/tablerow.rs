//! `{% tablerow item in collection cols: n %}…{% endtablerow %}`, with its iterations budgeted.
//!
//! This is liquid-lib's `tablerow` block on the same budgeted collection as `for`; `cols: 0`
//! puts every cell in one row instead of dividing by zero.

use std::io::Write;

use liquid_core::error::{ResultLiquidExt, ResultLiquidReplaceExt};
// `ObjectView` is named so that the derives below can call its methods.
use liquid_core::model::{KString, KStringRef, ObjectView as _, ValueView};
use liquid_core::runtime::StackFrame;
use liquid_core::{
    BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock,
    TagTokenIter, Template,
};
use liquid_lib::stdlib::RangeExpression;

use super::collection::{self, Window};
use crate::lax::LaxFrame;
use crate::limits::Budget;

/// The `tablerow` block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TableRowBlock;

impl BlockReflection for TableRowBlock {
    fn start_tag(&self) -> &str {
        "tablerow"
    }
    fn end_tag(&self) -> &str {
        "endtablerow"
    }
    fn description(&self) -> &str {
        "Renders its body once per item, as the cells of HTML table rows."
    }
}

impl ParseBlock for TableRowBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let (var_name, range) = collection::parse_head(&mut arguments)?;
        let mut cols = None;
        let mut limit = None;
        let mut offset = None;
        while let Some(token) = arguments.next() {
            match token.as_str() {
                "cols" => cols = Some(collection::parse_parameter(&mut arguments)?),
                "limit" => limit = Some(collection::parse_parameter(&mut arguments)?),
                "offset" => offset = Some(collection::parse_parameter(&mut arguments)?),
                _ => {
                    return token
                        .raise_custom_error("\"cols\", \"limit\" or \"offset\" expected.")
                        .into_err();
                }
            }
        }
        arguments.expect_nothing()?;
        let body = Template::new(tokens.parse_all(options)?);
        tokens.assert_empty();

        Ok(Box::new(TableRow {
            var_name: KString::from_ref(var_name),
            range,
            cols,
            limit,
            offset,
            body,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct TableRow {
    var_name: KString,
    range: RangeExpression,
    cols: Option<Expression>,
    limit: Option<Expression>,
    offset: Option<Expression>,
    body: Template,
}

impl TableRow {
    fn trace(&self) -> String {
        format!("{{% tablerow {} in {} %}}", self.var_name, self.range)
    }
}

impl Renderable for TableRow {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let window = Window {
            limit: collection::evaluate_count(self.limit.as_ref(), runtime)?,
            offset: collection::evaluate_count(self.offset.as_ref(), runtime)?.unwrap_or(0),
            reversed: false,
        };
        let items =
            collection::items(&self.range, window, runtime).trace_with(|| self.trace().into())?;
        let len = items.len();
        let cols = match collection::evaluate_count(self.cols.as_ref(), runtime)? {
            Some(cols) if cols > 0 => usize::try_from(cols).unwrap_or(usize::MAX),
            _ => len.max(1),
        };

        for (i, item) in items.iter().enumerate() {
            // A lookup that ran into a limit could not fail; the loop reports it.
            Budget::check(runtime)?;
            let cell = TableRowObject::new(i, len, cols);
            if cell.col_first {
                write!(writer, "<tr class=\"row{}\">", i / cols + 1).replace("Failed to render")?;
            }
            write!(writer, "<td class=\"col{}\">", cell.col).replace("Failed to render")?;

            let mut scope = std::collections::HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            scope.insert("tablerow".into(), &cell);
            scope.insert(self.var_name.as_ref(), item.as_view());
            self.body
                .render_to(writer, &LaxFrame(StackFrame::new(runtime, &scope)))
                .trace_with(|| self.trace().into())?;

            write!(writer, "</td>").replace("Failed to render")?;
            if cell.col_last {
                write!(writer, "</tr>").replace("Failed to render")?;
            }
        }
        Ok(())
    }
}

/// The `tablerow` variable inside a `tablerow` block.
#[derive(Debug, Clone, liquid_core::model::ValueView, liquid_core::model::ObjectView)]
struct TableRowObject {
    length: i64,
    index0: i64,
    index: i64,
    rindex0: i64,
    rindex: i64,
    first: bool,
    last: bool,
    col0: i64,
    col: i64,
    col_first: bool,
    col_last: bool,
}

impl TableRowObject {
    fn new(i: usize, len: usize, cols: usize) -> Self {
        let col = i % cols;
        let last = i + 1 == len;
        // Loops are budgeted to far fewer iterations than an i64 holds.
        let [i, len, col, cols] = [i, len, col, cols].map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        Self {
            length: len,
            index0: i,
            index: i + 1,
            rindex0: len - i - 1,
            rindex: len - i,
            first: i == 0,
            last,
            col0: col,
            col: col + 1,
            col_first: col == 0,
            col_last: col == cols - 1 || last,
        }
    }
}
