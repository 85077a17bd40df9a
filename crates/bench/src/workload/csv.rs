//! `people.csv` and `events.csv` in the reference generator's exact text: the same headers, the
//! same row order and the same number formatting, so the files compare equal byte for byte.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::Workload;

/// Large buffers, because the default 8 KiB would turn a gigabyte of rows into 100,000s of
/// system calls.
const BUFFER_BYTES: usize = 1 << 20;

impl Workload {
    /// Writes `people.csv` and `events.csv` into `dir`, creating it if needed.
    pub fn write_csv(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        write_file(&dir.join("people.csv"), |out| self.write_people(out))?;
        write_file(&dir.join("events.csv"), |out| self.write_events(out))
    }

    /// `people.csv`: `id,plan,country,created_at`, one row per person in id order.
    pub fn write_people(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(b"id,plan,country,created_at\n")?;
        for person in self.people_rows() {
            writeln!(
                out,
                "u{},{},{},{}",
                person.index, person.plan, person.country, person.created_at
            )?;
        }
        Ok(())
    }

    /// `events.csv`: `id,person,name,ts,price`, in timestamp order with ties by event number.
    pub fn write_events(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(b"id,person,name,ts,price\n")?;
        for event in self.events_by_time() {
            writeln!(
                out,
                "e{},u{},{},{},{}",
                event.index,
                event.person,
                event.name,
                event.ts,
                event.price()
            )?;
        }
        Ok(())
    }
}

fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, File::create(path)?);
    write(&mut out)?;
    // Flushing explicitly reports a failed last write, which dropping the writer would swallow.
    out.flush()
}
