//! Where a key is in a TOML text, for error messages: the text is parsed once with
//! `toml_edit` (which keeps every key's byte span) and keys are found by path.

use toml_edit::{ImDocument, Item, Key, Table, TableLike};

/// One step of a path to a key: a key of a table, or the N-th table of an array of
/// tables (`[[check]]` number N, counting from 0).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Nth(usize),
}

/// A TOML text and, when it parses, its document with spans.
pub(crate) struct Spans<'t> {
    text: &'t str,
    doc: Option<ImDocument<&'t str>>,
}

impl<'t> Spans<'t> {
    pub(crate) fn new(text: &'t str) -> Spans<'t> {
        Spans {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(self.text, offset)
    }

    fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// The line where `path` is set; when its last steps are missing, the line of the
    /// deepest table (header) or key on the path that is there; else 1.
    pub(crate) fn line_of(&self, path: &[Step<'_>]) -> usize {
        let Some(doc) = &self.doc else { return 1 };
        let mut found = 0usize;
        let mut table: &dyn TableLike = doc.as_table();
        let mut item: Option<&Item> = None;
        for step in path {
            match *step {
                Step::Key(k) => {
                    let t = match item {
                        None => Some(table),
                        Some(i) => i.as_table_like(),
                    };
                    let Some((key, it)) = t.and_then(|t| t.get_key_value(k)) else {
                        break;
                    };
                    // An array of tables or a table only named by a deeper header is
                    // not where anything is set.
                    let implicit = match it {
                        Item::ArrayOfTables(_) => true,
                        Item::Table(t) => t.is_implicit(),
                        _ => false,
                    };
                    if let Some(s) = key.span().filter(|_| !implicit) {
                        found = s.start;
                    }
                    item = Some(it);
                }
                Step::Nth(n) => {
                    let Some(t) = item
                        .and_then(Item::as_array_of_tables)
                        .and_then(|a| a.get(n))
                    else {
                        break;
                    };
                    if let Some(s) = t.span() {
                        found = s.start;
                    }
                    table = t;
                    item = None;
                }
            }
        }
        self.line(found)
    }

    /// `[section]` then `key` inside it (`section` may be dotted, "" for the top level).
    pub(crate) fn line_of_key(&self, section: &[&str], key: &str) -> usize {
        let path: Vec<Step<'_>> = section
            .iter()
            .map(|s| Step::Key(s))
            .chain([Step::Key(key)])
            .collect();
        self.line_of(&path)
    }

    /// How to name what is at `offset` in an error: `key `a.b`: ` for the key set on its
    /// line (array-of-tables indices left out), else `section `[a]`: ` for the table
    /// header above it, else nothing.
    pub(crate) fn name_at(&self, offset: usize) -> String {
        let line = self.line(offset);
        let (section, key) = match &self.doc {
            Some(doc) => {
                let mut tables = Vec::new();
                collect_tables(doc.as_table(), &mut Vec::new(), &mut tables);
                self.name_in(&tables, line)
            }
            None => self.name_in_broken(line),
        };
        match (section, key) {
            (_, Some(k)) => format!("key `{k}`: "),
            (Some(s), None) => format!("section `[{s}]`: "),
            (None, None) => String::new(),
        }
    }

    /// The section header at or above `line` and the key set on `line` (its full path).
    fn name_in(
        &self,
        tables: &[(Vec<String>, &Table)],
        line: usize,
    ) -> (Option<String>, Option<String>) {
        let section = tables
            .iter()
            .filter_map(|(path, t)| Some((t.span()?.start, path)))
            .filter(|(start, path)| !path.is_empty() && self.line(*start) <= line)
            .max_by_key(|(start, _)| *start)
            .map(|(_, path)| path.join("."));
        let key = tables.iter().find_map(|(path, t)| {
            t.get_values().into_iter().find_map(|(keys, _)| {
                let start = keys.first()?.span()?.start;
                (self.line(start) == line).then(|| {
                    path.iter()
                        .map(String::as_str)
                        .chain(keys.iter().map(|k| k.get()))
                        .collect::<Vec<_>>()
                        .join(".")
                })
            })
        });
        (section, key)
    }

    /// For a text that does not parse: the section from the text above `line` (the
    /// longest part of it that parses) and the key that `line` starts with.
    fn name_in_broken(&self, line: usize) -> (Option<String>, Option<String>) {
        let start = line_start(self.text, line);
        // A broken header (`[ledger`, a repeated `[ledger]`) names its own section.
        let here = self.text[start..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start();
        if here.starts_with('[') {
            let name = here.trim_start_matches('[').split(']').next().unwrap_or("");
            let name = name.split('#').next().unwrap_or("").trim();
            if !name.is_empty() {
                return (Some(name.to_string()), None);
            }
        }
        let section = (1..=line)
            .rev()
            .find_map(|l| ImDocument::parse(&self.text[..line_start(self.text, l)]).ok())
            .and_then(|doc| {
                let mut tables = Vec::new();
                collect_tables(doc.as_table(), &mut Vec::new(), &mut tables);
                tables
                    .iter()
                    .filter_map(|(path, t)| Some((t.span()?.start, path)))
                    .filter(|(_, path)| !path.is_empty())
                    .max_by_key(|(start, _)| *start)
                    .map(|(_, path)| path.join("."))
            });
        let text = self.text[start..].lines().next().unwrap_or_default();
        let key = text
            .split_once('=')
            .and_then(|(k, _)| Key::parse(k.trim()).ok())
            .map(|keys| keys.iter().map(Key::get).collect::<Vec<_>>().join("."))
            .map(|k| match &section {
                Some(s) => format!("{s}.{k}"),
                None => k,
            });
        (section, key)
    }
}

/// Every table with a header (and the root), with its path; array-of-tables entries
/// share their array's path.
fn collect_tables<'d>(
    t: &'d Table,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'d Table)>,
) {
    if !t.is_implicit() && !t.is_dotted() || path.is_empty() {
        out.push((path.clone(), t));
    }
    for (k, item) in t.iter() {
        path.push(k.to_string());
        match item {
            Item::Table(sub) => collect_tables(sub, path, out),
            Item::ArrayOfTables(a) => {
                for sub in a.iter() {
                    collect_tables(sub, path, out);
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// Byte offset where 1-based `line` starts.
fn line_start(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"include = ["a.toml"]

[ledger]
origin = "a/vouch/log"
max_batch = 5

[auth]
role_map = { ADMIN = "admin", AUDITOR = "auditor" }

[packs.rbac.params]
group = "x"

[packs.other]
params = { group = "y" }

[packs.dotted]
params.group = "z"

[[check]]
id = "one"

[[check]]
id = "two"
kind = "empty"
"#;

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
    }

    #[test]
    fn keys_by_path() {
        let s = Spans::new(TEXT);
        // A top-level key, a key of a table.
        assert_eq!(s.line_of_key(&[], "include"), 1);
        assert_eq!(s.line_of_key(&["ledger"], "max_batch"), 5);
        // A key inside an inline table.
        assert_eq!(s.line_of_key(&["auth", "role_map"], "AUDITOR"), 8);
        // A nested table's key; the same key as an inline table or a dotted key.
        assert_eq!(s.line_of_key(&["packs", "rbac", "params"], "group"), 11);
        assert_eq!(s.line_of_key(&["packs", "other", "params"], "group"), 14);
        assert_eq!(s.line_of_key(&["packs", "dotted", "params"], "group"), 17);
        // [[check]] number 1.
        let kind = [Step::Key("check"), Step::Nth(1), Step::Key("kind")];
        assert_eq!(s.line_of(&kind), line_of(TEXT, "kind"));
    }

    #[test]
    fn absent_keys_give_the_section_header() {
        let s = Spans::new(TEXT);
        assert_eq!(s.line_of_key(&["ledger"], "max_clock_skew"), 3);
        assert_eq!(s.line_of_key(&["packs", "rbac", "params"], "nope"), 10);
        let kind = [Step::Key("check"), Step::Nth(0), Step::Key("kind")];
        assert_eq!(s.line_of(&kind), 19);
        // No such section, or no such table in the array: line 1.
        assert_eq!(s.line_of_key(&["server"], "listen"), 1);
        assert_eq!(s.line_of(&[Step::Key("source"), Step::Nth(0)]), 1);
        // A text that does not parse: line 1.
        assert_eq!(Spans::new("[a\nb = 1").line_of_key(&["a"], "b"), 1);
    }

    #[test]
    fn names_at_an_offset() {
        let s = Spans::new(TEXT);
        let at = |needle: &str| TEXT.find(needle).unwrap();
        assert_eq!(s.name_at(at("max_batch")), "key `ledger.max_batch`: ");
        assert_eq!(s.name_at(at("\"auditor\"")), "key `auth.role_map`: ");
        assert_eq!(s.name_at(at("\"x\"")), "key `packs.rbac.params.group`: ");
        assert_eq!(s.name_at(at("\"z\"")), "key `packs.dotted.params.group`: ");
        assert_eq!(s.name_at(at("\"empty\"")), "key `check.kind`: ");
        assert_eq!(s.name_at(at("[[check]]")), "section `[check]`: ");
        assert_eq!(s.name_at(at("[\"a.toml\"]")), "key `include`: ");
        assert_eq!(s.name_at(at("\n\n[ledger]") + 1), "");
        // A text that does not parse.
        let text = "[a]\nb = 1\n\n[c.d]\ne = \"open\nf = 2\n";
        let s = Spans::new(text);
        assert_eq!(s.name_at(text.find("\"open").unwrap()), "key `c.d.e`: ");
        // A broken or repeated header names its own section, not the one above it.
        let text = "[auth]\nx = 1\n[ledger\ny = 2\n";
        let s = Spans::new(text);
        assert_eq!(
            s.name_at(text.find("[ledger").unwrap()),
            "section `[ledger]`: "
        );
        let text = "[ledger]\na = 1\n[auth]\nx = 1\n[ledger]\n";
        let s = Spans::new(text);
        assert_eq!(
            s.name_at(text.rfind("[ledger]").unwrap()),
            "section `[ledger]`: "
        );
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncé\nx", 0), (1, 1));
        assert_eq!(line_col("ab\ncé\nx", 3), (2, 1));
        assert_eq!(line_col("ab\ncé\nx", 7), (3, 1));
        assert_eq!(line_col("ab\ncé\nx", 6), (2, 3));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
