//! Loading vouch.toml with an included pack: errors name the file and the line of the
//! key, whichever way the TOML spells it.

use vouch_config::{template, Config};

const PACK: &str = r#"[pack]
name = "demo"
params = { group = "admins", people = ["a@b.example"] }

[[source]]
name = "db"
kind = "postgres"
url_env = "DB_URL"

[[evidence]]
id = "demo.members"
title = "Members"
source = "db"
query = "SELECT name FROM members WHERE grp = {{group}}"

[[check]]
id = "demo.someone"
title = "Someone"
kind = "non_empty"
evidence = "demo.members"

[[check]]
id = "demo.counted"
title = "Counted"
kind = "count"
evidence = "demo.members"
"#;

/// Loads a data directory with vouch.toml (the template plus `extra`) including the
/// pack (with `pack_extra` appended); the error, with the directory as `D`.
fn load_err(extra: &str, pack_extra: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let main = format!(
        "include = [\"demo/pack.toml\"]\n{}{extra}",
        template("A", "a/vouch/log")
    );
    std::fs::create_dir(d.path().join("demo")).unwrap();
    std::fs::write(d.path().join("vouch.toml"), main).unwrap();
    std::fs::write(
        d.path().join("demo/pack.toml"),
        format!("{PACK}{pack_extra}"),
    )
    .unwrap();
    let e = Config::load(d.path()).unwrap_err().to_string();
    let dir = std::path::absolute(d.path()).unwrap();
    e.replace(&dir.display().to_string(), "D")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn pack_parameters_are_located_however_they_are_written() {
    let main = format!(
        "include = [\"demo/pack.toml\"]\n{}",
        template("A", "a/vouch/log")
    );
    let end = main.lines().count();
    let cases = [
        ("\n[packs.demo]\nparams = { grup = \"x\" }\n", 3),
        ("\n[packs.demo.params]\ngroup = \"x\"\ngrup = \"y\"\n", 4),
        ("\n[packs.demo]\nparams.grup = \"x\"\n", 3),
        ("\n[packs]\ndemo.params.grup = \"x\"\n", 3),
    ];
    for (extra, line) in cases {
        assert_eq!(
            load_err(extra, ""),
            format!(
                "D/vouch.toml:{}: key `packs.demo.params.grup`: pack `demo` has no parameter `grup` (its parameters: group, people)",
                end + line
            ),
            "{extra}"
        );
    }
    assert_eq!(
        load_err("\n[packs.demo.params]\npeople = \"x\"\n", ""),
        format!(
            "D/vouch.toml:{}: key `packs.demo.params.people`: must be a list, like the pack's default",
            end + 3
        )
    );
    assert_eq!(
        load_err("\n[packs.dmeo]\nparams = {}\n", ""),
        format!(
            "D/vouch.toml:{}: key `packs.dmeo`: no included pack is named `dmeo` (included: demo)",
            end + 3
        )
    );
}

#[test]
fn definitions_are_located_in_their_file() {
    // The second [[check]]: the key, or its header when the key is missing.
    let e = load_err("", "");
    let counted = line_of(PACK, "id = \"demo.counted\"") - 1;
    assert_eq!(
        e,
        format!("D/demo/pack.toml:{counted}: key `check[1].min`: a `count` check needs min, max or both")
    );
    let pack = format!("{PACK}min = 1\nseverity = \"urgent\"\n");
    let e = load_err("", "min = 1\nseverity = \"urgent\"\n");
    assert_eq!(
        e,
        format!(
            "D/demo/pack.toml:{}: key `check[1].severity`: must be one of low, medium, high, critical",
            line_of(&pack, "severity")
        )
    );
    // TOML errors: line and column, the key named by its table.
    let e = load_err("", "min = 1\nmax = \"two\"\n");
    let pack = format!("{PACK}min = 1\nmax = \"two\"\n");
    assert!(
        e.starts_with(&format!(
            "D/demo/pack.toml:{}:7: key `check.max`: invalid type",
            line_of(&pack, "max =")
        )),
        "{e}"
    );
}

#[test]
fn an_unreadable_include_names_the_include_line() {
    let d = tempfile::tempdir().unwrap();
    let main = format!("{}\ninclude = [\"nope/pack.toml\"]\n", "# first\n");
    std::fs::write(
        d.path().join("vouch.toml"),
        format!("{main}{}", template("A", "a/vouch/log")),
    )
    .unwrap();
    let e = Config::load(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("vouch.toml:3: key `include[0]`: cannot read "),
        "{e}"
    );
}

// A pack ships its populations: `[[population]]` in pack.toml joins vouch.toml's
// (`Config::populations`, what `vouch population` and the auditor's API offer), is
// validated like them with errors naming the pack file and line, and an id declared in
// two files is refused naming both.
#[test]
fn packs_ship_populations() {
    const POP: &str = "\n[[population]]\nid = \"demo.grants\"\ncontrol = \"CC6.2\"\naction = \"role.granted\"\nfrequency = \"weekly\"\n";
    let d = tempfile::tempdir().unwrap();
    let main = format!(
        "include = [\"demo/pack.toml\"]\n{}\n[[population]]\nid = \"local\"\ncontrol = \"CC6.1\"\ncategory = \"authorization\"\n",
        template("A", "a/vouch/log")
    );
    std::fs::create_dir(d.path().join("demo")).unwrap();
    std::fs::write(d.path().join("vouch.toml"), main).unwrap();
    std::fs::write(
        d.path().join("demo/pack.toml"),
        format!("{PACK}min = 1\n{POP}"),
    )
    .unwrap();
    let c = Config::load(d.path()).unwrap();
    let ids: Vec<&str> = c.populations.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["local", "demo.grants"]);
    let grants = &c.populations[1];
    assert_eq!(grants.action.as_deref(), Some("role.granted"));
    assert_eq!(grants.frequency.as_deref(), Some("weekly"));

    // Invalid in the pack: the pack's file and line.
    let bad = "min = 1\n\n[[population]]\nid = \"demo.bad\"\ncontrol = \"CC6.2\"\naction = \"x\"\nfrequency = \"hourly\"\n";
    let e = load_err("", bad);
    let pack = format!("{PACK}{bad}");
    assert!(
        e.starts_with(&format!(
            "D/demo/pack.toml:{}: key `population[0].frequency`: `hourly` is not a frequency",
            line_of(&pack, "frequency =")
        )),
        "{e}"
    );
    // The same id in vouch.toml and in the pack: refused, naming both files.
    let e = load_err(
        "\n[[population]]\nid = \"demo.grants\"\ncontrol = \"CC6.1\"\naction = \"y\"\n",
        &format!("min = 1\n{POP}"),
    );
    assert!(
        e.starts_with("D/demo/pack.toml:")
            && e.contains("`demo.grants`")
            && e.contains("D/vouch.toml:"),
        "{e}"
    );
}
