//! `{% capture name %}…{% endcapture %}`, with the captured text capped and charged.
//!
//! liquid-lib's `capture` renders into an unbounded buffer, so a capture that includes itself
//! doubles on every loop iteration; here the buffer is capped at [`MAX_VALUE_BYTES`] and the
//! captured text is charged to the render's work budget.

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::{
    BlockReflection, Error, Language, ParseBlock, Renderable, Result, Runtime, TagBlock,
    TagTokenIter, Template, Value,
};

use crate::limits::{Budget, CappedWriter, MAX_VALUE_BYTES};

/// The `capture` block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CaptureBlock;

impl BlockReflection for CaptureBlock {
    fn start_tag(&self) -> &str {
        "capture"
    }
    fn end_tag(&self) -> &str {
        "endcapture"
    }
    fn description(&self) -> &str {
        "Renders its body into a variable instead of the output."
    }
}

impl ParseBlock for CaptureBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let id: KString = arguments
            .expect_next("Identifier expected")?
            .expect_identifier()
            .into_result()?
            .to_owned()
            .into();
        arguments.expect_nothing()?;
        let body = Template::new(
            tokens
                .parse_all(options)
                .trace_with(|| format!("{{% capture {id} %}}").into())?,
        );
        tokens.assert_empty();
        Ok(Box::new(Capture { id, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Capture {
    id: KString,
    body: Template,
}

impl Renderable for Capture {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut captured = CappedWriter::new(MAX_VALUE_BYTES);
        let rendered = self.body.render_to(&mut captured, runtime);
        if captured.overflowed() {
            // Recording the limit in the budget is what lets the caller report it as such.
            Budget::charge(runtime, MAX_VALUE_BYTES.saturating_add(1))?;
        }
        rendered.trace_with(|| format!("{{% capture {} %}}", self.id).into())?;

        let captured = captured.into_bytes();
        Budget::charge(runtime, captured.len())?;
        let text = String::from_utf8(captured)
            .map_err(|_| Error::with_msg("captured text is not UTF-8"))?;
        runtime.set_global(self.id.clone(), Value::scalar(text));
        Ok(())
    }
}
