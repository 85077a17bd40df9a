//! `{% for item in collection %}…{% else %}…{% endfor %}`, with its iterations budgeted.
//!
//! This is liquid-lib's `for` block with the collection sized and budgeted before it is built
//! (see [`super::collection`]), with the lax items of the globals kept lax, and with `limit`
//! never padding the loop with nils past the end of the collection.

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
// `ObjectView` is named so that the derives below can call its methods.
use liquid_core::model::{KString, KStringRef, ObjectView as _, ValueView};
use liquid_core::parser::BlockElement;
use liquid_core::runtime::{Interrupt, InterruptRegister, StackFrame};
use liquid_core::{
    BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock,
    TagTokenIter, Template,
};
use liquid_lib::stdlib::RangeExpression;

use super::collection::{self, Window};
use crate::lax::LaxFrame;
use crate::limits::Budget;

/// The `for` block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ForBlock;

impl BlockReflection for ForBlock {
    fn start_tag(&self) -> &str {
        "for"
    }
    fn end_tag(&self) -> &str {
        "endfor"
    }
    fn description(&self) -> &str {
        "Renders its body once per item of an array, object or range."
    }
}

impl ParseBlock for ForBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let (var_name, range) = collection::parse_head(&mut arguments)?;
        let mut limit = None;
        let mut offset = None;
        let mut reversed = false;
        while let Some(token) = arguments.next() {
            match token.as_str() {
                "limit" => limit = Some(collection::parse_parameter(&mut arguments)?),
                "offset" => offset = Some(collection::parse_parameter(&mut arguments)?),
                "reversed" => reversed = true,
                _ => {
                    return token
                        .raise_custom_error("\"limit\", \"offset\" or \"reversed\" expected.")
                        .into_err();
                }
            }
        }
        arguments.expect_nothing()?;

        let mut body = Vec::new();
        let mut otherwise = None;
        while let Some(element) = tokens.next()? {
            match element {
                BlockElement::Tag(mut tag) if tag.name() == "else" => {
                    tag.tokens().expect_nothing()?;
                    otherwise = Some(Template::new(tokens.parse_all(options)?));
                    break;
                }
                BlockElement::Tag(tag) => body.push(tag.parse(&mut tokens, options)?),
                element => body.push(element.parse(&mut tokens, options)?),
            }
        }
        tokens.assert_empty();

        Ok(Box::new(For {
            var_name: KString::from_ref(var_name),
            range,
            limit,
            offset,
            reversed,
            body: Template::new(body),
            otherwise,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct For {
    var_name: KString,
    range: RangeExpression,
    limit: Option<Expression>,
    offset: Option<Expression>,
    reversed: bool,
    body: Template,
    otherwise: Option<Template>,
}

impl For {
    fn trace(&self) -> String {
        format!("{{% for {} in {} %}}", self.var_name, self.range)
    }
}

impl Renderable for For {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let window = Window {
            limit: collection::evaluate_count(self.limit.as_ref(), runtime)?,
            offset: collection::evaluate_count(self.offset.as_ref(), runtime)?.unwrap_or(0),
            reversed: self.reversed,
        };
        let items =
            collection::items(&self.range, window, runtime).trace_with(|| self.trace().into())?;

        if items.is_empty() {
            if let Some(otherwise) = &self.otherwise {
                otherwise
                    .render_to(writer, runtime)
                    .trace("{% else %}")
                    .trace_with(|| self.trace().into())?;
            }
            return Ok(());
        }

        let len = items.len();
        let parentloop = runtime.try_get(&[liquid_core::model::Scalar::new("forloop")]);
        let parentloop = parentloop.as_ref().map(|v| v.as_view());
        for (i, item) in items.iter().enumerate() {
            // A lookup that ran into a limit could not fail; the loop reports it.
            Budget::check(runtime)?;
            let forloop = ForloopObject::new(i, len, parentloop);
            let mut scope = std::collections::HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            scope.insert("forloop".into(), &forloop);
            scope.insert(self.var_name.as_ref(), item.as_view());
            let frame = LaxFrame(StackFrame::new(runtime, &scope));
            self.body
                .render_to(writer, &frame)
                .trace_with(|| self.trace().into())?;

            // A `continue` has already done its job by ending the body; a `break` ends the loop.
            let interrupt = frame.registers().get_mut::<InterruptRegister>().reset();
            if interrupt == Some(Interrupt::Break) {
                break;
            }
        }
        Ok(())
    }
}

/// The `forloop` variable inside a loop.
#[derive(Debug, Clone, liquid_core::model::ValueView, liquid_core::model::ObjectView)]
struct ForloopObject<'p> {
    length: i64,
    parentloop: Option<&'p dyn ValueView>,
    index0: i64,
    index: i64,
    rindex0: i64,
    rindex: i64,
    first: bool,
    last: bool,
}

impl<'p> ForloopObject<'p> {
    fn new(i: usize, len: usize, parentloop: Option<&'p dyn ValueView>) -> Self {
        // Loops are budgeted to far fewer iterations than an i64 holds.
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        Self {
            length: len,
            parentloop,
            index0: i,
            index: i + 1,
            rindex0: len - i - 1,
            rindex: len - i,
            first: i == 0,
            last: i == len - 1,
        }
    }
}
