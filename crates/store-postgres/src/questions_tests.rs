//! Questions to the engines and their answers between two stores on one schema, as two nodes
//! ask and answer them.

use herald_store::{StoreChange, StoreHandle};

use crate::PostgresStore;
use crate::test_database::TestSchema;

/// Waits for `wanted` among the changes `changes` hears, skipping others, for 5 s at most.
fn hear(changes: &mut tokio::sync::broadcast::Receiver<StoreChange>, wanted: StoreChange) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match changes.try_recv() {
            Ok(change) if change == wanted => return,
            Ok(_) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    panic!("{wanted:?} was not heard");
}

fn answers(store: &StoreHandle, question: i64) -> Vec<(String, Vec<u8>)> {
    store
        .read_blocking(move |r| r.engine_answers(question))
        .expect("read")
}

#[test]
fn a_question_and_its_answers_reach_the_other_node_once_each() {
    let schema = TestSchema::new();
    let asker = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let other = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let mut heard_by_other = other
        .subscribe_changes()
        .expect("a shared store tells changes");
    let mut heard_by_asker = asker
        .subscribe_changes()
        .expect("a shared store tells changes");
    // A listener says `Resync` once its `LISTEN` took effect: what is sent before is not heard.
    hear(&mut heard_by_other, StoreChange::Resync);
    hear(&mut heard_by_asker, StoreChange::Resync);

    let ask = |body: &'static [u8], now: i64| {
        asker
            .write_blocking(move |tx| tx.ask_engines("first", body, now))
            .expect("store works")
            .expect("asked")
    };
    let question = ask(b"how many", 100);
    hear(&mut heard_by_other, StoreChange::Question { id: question });
    assert_eq!(
        other
            .read_blocking(move |r| r.engine_question(question))
            .expect("read"),
        Some(("first".to_owned(), b"how many".to_vec()))
    );

    // A node's second answer to the same question is ignored.
    for body in [&b"three"[..], &b"four"[..]] {
        other
            .write_blocking(move |tx| tx.answer_engines(question, "second", body))
            .expect("store works")
            .expect("answered");
    }
    hear(&mut heard_by_asker, StoreChange::Answer { question });
    assert_eq!(
        answers(&asker, question),
        vec![("second".to_owned(), b"three".to_vec())]
    );

    // Old questions go with their answers; newer ones stay.
    let later = ask(b"and now", 200);
    let forgotten = asker
        .write_blocking(|tx| tx.forget_engine_questions(150))
        .expect("store works")
        .expect("forgotten");
    assert_eq!(forgotten, 1);
    assert!(answers(&asker, question).is_empty());
    assert_eq!(
        asker
            .read_blocking(move |r| Ok((r.engine_question(question)?, r.engine_question(later)?)))
            .expect("read"),
        (None, Some(("first".to_owned(), b"and now".to_vec())))
    );
}
