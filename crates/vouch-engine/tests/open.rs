//! Opening a data directory's ledger: the record of which database holds it, so a
//! forgotten URL never opens a new, empty ledger.

use crate::common;

// A data directory initialised before `ledger-database.json` existed: the first open
// of its (non-empty) ledger records the database, and from then on a forgotten URL is
// refused instead of opening a new, empty ledger.
on_both!(
    a_directory_without_a_database_record_gets_one_on_open,
    |fx| {
        fx.append_n(5);
        let record = fx.dir.path().join(vouch_engine::init::DATABASE_RECORD);
        std::fs::remove_file(&record).unwrap();
        // An empty ledger elsewhere is not recorded by merely opening it.
        let mut wrong = fx.config.clone();
        wrong.settings.database.url = "forgotten.db".into();
        wrong.settings.database.schema = String::new();
        vouch_engine::open(&fx.config).unwrap();
        assert!(record.exists(), "the first open wrote no record");
        let text = std::fs::read_to_string(&record).unwrap();
        assert!(text.contains(fx.kind_name()), "{text}");
        let e = match vouch_engine::open(&wrong) {
            Ok(_) => panic!("a forgotten URL opened a new, empty ledger"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("refusing to start a new, empty ledger") && e.contains("holds 5 entries"),
            "{e}"
        );
        assert!(!fx.dir.path().join("forgotten.db").exists());
        // The right URL still opens.
        vouch_engine::open(&fx.config).unwrap();
    }
);

// An empty ledger opened without a record is not recorded (it may be the wrong one).
#[test]
fn an_empty_ledger_is_not_recorded_on_open() {
    let fx = common::Fx::new(common::Kind::Sqlite).unwrap();
    let record = fx.dir.path().join(vouch_engine::init::DATABASE_RECORD);
    std::fs::remove_file(&record).unwrap();
    vouch_engine::open(&fx.config).unwrap();
    assert!(!record.exists());
}
