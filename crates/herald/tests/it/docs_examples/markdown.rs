//! Reads a documentation page into the steps its tested examples make.
//!
//! The convention (ARCHITECTURE.md's "User documentation" states it for writers of pages):
//!
//! - A fenced block whose info string is `sh test` holds shell commands, run in order with bash.
//! - The fenced block right after it (only blank lines between) is its expected output: a `json`
//!   block is compared as a sequence of JSON values, any other block as text.
//! - `<!-- test: restart -->` on a line of its own restarts the server, as a reader who stops it
//!   and starts it again with the same command.
//! - `<!-- test: first-start -->` before a fenced block compares it with what the server printed
//!   when it started on an empty data dir.
//! - `<!-- test: received -->` before a fenced `json` block compares it with the body of the next
//!   request the webhook receiver (`http://127.0.0.1:9000` in the pages) got.

/// What an expected block is compared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// A fenced block's text, where it starts, and how to compare it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub line: usize,
    pub format: Format,
    pub text: String,
}

/// One thing the test does, with the line of the page it comes from.
#[derive(Debug, Clone)]
pub enum Step {
    Run {
        line: usize,
        script: String,
        expected: Option<Expected>,
    },
    Restart {
        line: usize,
    },
    FirstStart(Expected),
    Received(Expected),
}

/// A fenced block as it appears in the page.
struct Block {
    /// The 1-based line of the opening fence.
    line: usize,
    /// The 1-based line of the closing fence.
    end: usize,
    info: String,
    text: String,
}

/// A directive comment, or a block, in page order.
enum Item {
    Directive { line: usize, name: String },
    Block(Block),
}

/// Splits the page into directives and fenced blocks. A block inside a list item is indented;
/// its lines lose the fence's indentation.
fn items(page: &str) -> Result<Vec<Item>, String> {
    let lines: Vec<&str> = page.lines().collect();
    let mut items = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("<!-- test:") {
            let name = rest
                .strip_suffix("-->")
                .ok_or_else(|| format!("line {}: a test directive ends on its line", index + 1))?;
            items.push(Item::Directive {
                line: index + 1,
                name: name.trim().to_owned(),
            });
        } else if let Some(info) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let start = index;
            let mut text = String::new();
            index += 1;
            while index < lines.len() && lines[index].trim_start() != "```" {
                let content = lines[index];
                let cut = content.len() - content.trim_start().len();
                text.push_str(&content[cut.min(indent)..]);
                text.push('\n');
                index += 1;
            }
            if index == lines.len() {
                return Err(format!("line {}: this block is never closed", start + 1));
            }
            items.push(Item::Block(Block {
                line: start + 1,
                end: index + 1,
                info: info.trim().to_owned(),
                text,
            }));
        }
        index += 1;
    }
    Ok(items)
}

fn expected(block: &Block) -> Expected {
    let format = if block.info.split_whitespace().next() == Some("json") {
        Format::Json
    } else {
        Format::Text
    };
    Expected {
        line: block.line,
        format,
        text: block.text.clone(),
    }
}

fn is_command(block: &Block) -> bool {
    block.info.split_whitespace().collect::<Vec<_>>() == ["sh", "test"]
}

/// Reads the steps of a page, in order.
pub fn steps(page: &str) -> Result<Vec<Step>, String> {
    let lines: Vec<&str> = page.lines().collect();
    // Only blank lines between the end of one block and the start of the next.
    let adjacent =
        |end: usize, start: usize| (end..start - 1).all(|line| lines[line].trim().is_empty());
    let mut steps = Vec::new();
    let mut items = items(page)?.into_iter().peekable();
    while let Some(item) = items.next() {
        match item {
            Item::Directive { line, name } => {
                let wanted = match name.as_str() {
                    "restart" => {
                        steps.push(Step::Restart { line });
                        continue;
                    }
                    "first-start" | "received" => name,
                    other => return Err(format!("line {line}: unknown test directive {other:?}")),
                };
                let Some(Item::Block(block)) = items.next() else {
                    return Err(format!(
                        "line {line}: {wanted} needs a fenced block after it"
                    ));
                };
                let expected = expected(&block);
                steps.push(if wanted == "first-start" {
                    Step::FirstStart(expected)
                } else {
                    Step::Received(expected)
                });
            }
            Item::Block(block) if is_command(&block) => {
                let output = match items.peek() {
                    Some(Item::Block(next))
                        if !is_command(next) && adjacent(block.end, next.line) =>
                    {
                        match items.next() {
                            Some(Item::Block(next)) => Some(expected(&next)),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                steps.push(Step::Run {
                    line: block.line,
                    script: block.text,
                    expected: output,
                });
            }
            Item::Block(_) => {}
        }
    }
    Ok(steps)
}

#[test]
fn a_page_reads_into_its_steps() {
    let page = "# Title\n\n```sh test\ncurl x\n```\n\n```json\n{}\n```\n\nProse.\n\n```sh\nnot tested\n```\n\n<!-- test: restart -->\n\n```sh test\necho hi\n```\n\nThen:\n\n```text\nhi\n```\n\n<!-- test: received -->\n```json\n{\"a\": 1}\n```\n\n- item\n\n  ```sh test\n  echo nested\n  ```\n";
    let steps = steps(page).unwrap();
    assert_eq!(steps.len(), 5, "{steps:?}");
    let Step::Run {
        line,
        script,
        expected: Some(expected),
    } = &steps[0]
    else {
        panic!("{steps:?}")
    };
    assert_eq!((*line, script.as_str()), (3, "curl x\n"));
    assert_eq!((expected.line, expected.format), (7, Format::Json));
    assert!(matches!(steps[1], Step::Restart { line: 17 }));
    let Step::Run { expected: None, .. } = &steps[2] else {
        panic!("prose between a command and a block makes the block no output: {steps:?}")
    };
    let Step::Received(received) = &steps[3] else {
        panic!("{steps:?}")
    };
    assert_eq!(received.text, "{\"a\": 1}\n");
    let Step::Run { script, .. } = &steps[4] else {
        panic!("{steps:?}")
    };
    assert_eq!(script, "echo nested\n");
}
