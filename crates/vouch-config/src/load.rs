//! Loading: `vouch.toml`, the files it includes (packs) and their parameters.

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, Origin, SourceDef};
use crate::population::PopulationDef;
use crate::spans::{Spans, Step};
use crate::validate::{check_catalog, check_guards, check_rules, describe_toml_error};
use crate::{parse, Config, ConfigError, Settings, CONFIG_FILE};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[pack]` of an included file: its name (default: the file's directory name) and its
/// parameters. String parameters fill the `{{placeholders}}` of the pack's evidence that
/// use them; every parameter (lists and tables too: authorized people, maintenance
/// windows) is `input.params` of the pack's checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    name: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
}

/// An included file (a pack): sources, evidence, checks, controls and populations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    pack: Option<PackMeta>,
    #[serde(default)]
    source: Vec<SourceDef>,
    #[serde(default)]
    evidence: Vec<EvidenceDef>,
    #[serde(default)]
    check: Vec<CheckDef>,
    #[serde(default)]
    control: Vec<ControlDef>,
    #[serde(default)]
    population: Vec<PopulationDef>,
}

/// The definitions of the files read so far, each tagged with where it is.
#[derive(Default)]
struct Defs {
    sources: Vec<SourceDef>,
    evidence: Vec<EvidenceDef>,
    checks: Vec<CheckDef>,
    controls: Vec<ControlDef>,
    /// `[[population]]` entries, each with its file (an index into the files read) and
    /// its index in that file.
    populations: Vec<(usize, usize, PopulationDef)>,
}

impl Defs {
    /// One file's definitions, tagged with the file and their index in it.
    fn of(
        file: &Path,
        sources: Vec<SourceDef>,
        evidence: Vec<EvidenceDef>,
        checks: Vec<CheckDef>,
        controls: Vec<ControlDef>,
    ) -> Defs {
        Defs {
            sources: tag(sources, file, |s, o| s.origin = o),
            evidence: tag(evidence, file, |e, o| e.origin = o),
            checks: tag(checks, file, |c, o| c.origin = o),
            controls: tag(controls, file, |c, o| c.origin = o),
            populations: Vec::new(),
        }
    }

    /// `populations` of the file at `file` (an index into the files read).
    fn with_populations(mut self, file: usize, populations: Vec<PopulationDef>) -> Defs {
        self.populations = populations
            .into_iter()
            .enumerate()
            .map(|(i, p)| (file, i, p))
            .collect();
        self
    }

    fn extend(&mut self, other: Defs) {
        self.sources.extend(other.sources);
        self.evidence.extend(other.evidence);
        self.checks.extend(other.checks);
        self.controls.extend(other.controls);
        self.populations.extend(other.populations);
    }
}

impl Config {
    /// Load `vouch.toml` from a data directory.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let file = data_dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Invalid(format!(
                    "{} not found: run `vouch init --data-dir {}` first",
                    file.display(),
                    data_dir.display()
                ))
            } else {
                ConfigError::io(&file, e)
            }
        })?;
        let settings = parse(&text, &file)?;
        // Absolute, so `{{pack_dir}}` and relative source paths hold whatever the
        // working directory of a child process.
        let file = std::path::absolute(&file).unwrap_or(file);
        let s = &settings;
        let mut defs = Defs::of(
            &file,
            s.source.clone(),
            s.evidence.clone(),
            s.check.clone(),
            s.control.clone(),
        )
        .with_populations(0, s.population.clone());
        let mut texts = vec![(file.clone(), text)];
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut pack_names = Vec::new();
        for (i, inc) in settings.include.iter().enumerate() {
            let path = base.join(inc);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "{}:{}: key `include[{i}]`: cannot read {}: {e} (include paths are relative to {})",
                    file.display(),
                    Spans::new(&texts[0].1).line_of_key(&[], "include"),
                    path.display(),
                    base.display()
                ))
            })?;
            let (name, pack) = read_pack(&path, &text, &settings, &texts[0], texts.len())?;
            pack_names.push(name);
            defs.extend(pack);
            texts.push((path, text));
        }
        if let Some(unknown) = settings.packs.keys().find(|k| !pack_names.contains(k)) {
            return Err(ConfigError::Invalid(format!(
                "{}:{}: key `packs.{unknown}`: no included pack is named `{unknown}` (included: {})",
                file.display(),
                Spans::new(&texts[0].1).line_of_key(&["packs", unknown], "params"),
                if pack_names.is_empty() { "none".to_string() } else { pack_names.join(", ") }
            )));
        }
        let Defs {
            sources,
            evidence,
            checks,
            controls,
            populations,
        } = defs;
        check_population_ids(&populations, &texts)?;
        check_catalog(&sources, &evidence, &texts)?;
        check_rules(&evidence, &checks, &controls, &texts)?;
        check_guards(&evidence, &checks, &texts)?;
        Ok(Config {
            data_dir: data_dir.to_path_buf(),
            file,
            settings,
            sources,
            evidence,
            checks,
            controls,
            populations: populations.into_iter().map(|(_, _, p)| p).collect(),
            files: texts.into_iter().map(|(p, _)| p).collect(),
        })
    }
}

/// An included file (`text`, read from `path`): its pack name and its definitions with
/// its parameters (overridden by `[packs.NAME]` of vouch.toml, `main`) applied.
fn read_pack(
    path: &Path,
    text: &str,
    settings: &Settings,
    main: &(PathBuf, String),
    file_index: usize,
) -> Result<(String, Defs), ConfigError> {
    let pack: PackFile = toml::from_str(text)
        .map_err(|e| ConfigError::Invalid(describe_toml_error(text, path, &e)))?;
    let meta = pack.pack.unwrap_or_default();
    let name = meta.name.clone().unwrap_or_else(|| {
        path.parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let params = pack_params(&name, meta.params, settings, &main.1, &main.0)?;
    // A pack's populations follow vouch.toml's rules; errors name the pack's file.
    crate::population::check(&pack.population, text, path)?;
    let mut defs = Defs::of(path, pack.source, pack.evidence, pack.check, pack.control)
        .with_populations(file_index, pack.population);
    apply_pack_params(&params, &mut defs.evidence, &mut defs.checks).map_err(|(p, key)| {
        ConfigError::Invalid(format!(
            "{}: pack `{name}`: parameter `{key}`: {p}",
            path.display()
        ))
    })?;
    Ok((name, defs))
}

/// A pack's parameters with the `[packs.NAME] params` of vouch.toml applied: only known
/// parameters, each of the same type as the pack's default.
fn pack_params(
    name: &str,
    mut params: BTreeMap<String, serde_json::Value>,
    settings: &Settings,
    text: &str,
    file: &Path,
) -> Result<BTreeMap<String, serde_json::Value>, ConfigError> {
    let Some(o) = settings.packs.get(name) else {
        return Ok(params);
    };
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Null => "null",
    };
    for (k, v) in &o.params {
        let fail = |m: String| {
            let line = Spans::new(text).line_of_key(&["packs", name, "params"], k);
            ConfigError::Invalid(format!(
                "{}:{line}: key `packs.{name}.params.{k}`: {m}",
                file.display(),
            ))
        };
        match params.get(k) {
            None => {
                return Err(fail(format!(
                    "pack `{name}` has no parameter `{k}` (its parameters: {})",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
            Some(d) if kind(d) != kind(v) => {
                return Err(fail(format!(
                    "must be {}, like the pack's default",
                    kind(d)
                )))
            }
            _ => {}
        }
        params.insert(k.clone(), v.clone());
    }
    Ok(params)
}

/// Pack parameters into the pack's definitions: string values fill the placeholders an
/// evidence uses (its own `params` win), and checks get them all as `params`.
fn apply_pack_params(
    params: &BTreeMap<String, serde_json::Value>,
    evidence: &mut [EvidenceDef],
    checks: &mut [CheckDef],
) -> Result<(), (String, String)> {
    if params.is_empty() {
        return Ok(());
    }
    for e in evidence.iter_mut() {
        let texts = e
            .query
            .iter()
            .chain(e.url.iter())
            .chain(e.glob.iter())
            .chain(e.argv.iter().flatten());
        let used: Vec<String> = texts
            .flat_map(|t| crate::template::placeholders(t))
            .collect();
        for name in used {
            if e.params.contains_key(&name) || e.params_env.contains_key(&name) {
                continue;
            }
            let Some(v) = params.get(&name) else { continue };
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err((
                        format!(
                            "evidence `{}` uses it as a placeholder, but it is not a string",
                            e.id
                        ),
                        name,
                    ))
                }
            };
            e.params.insert(name, s);
        }
    }
    for c in checks.iter_mut() {
        for (k, v) in params {
            c.params.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(())
}

/// A population id declared in two files (vouch.toml and a pack, or two packs) is
/// refused, naming both places (within one file, `population::check` already did).
fn check_population_ids(
    populations: &[(usize, usize, PopulationDef)],
    texts: &[(PathBuf, String)],
) -> Result<(), ConfigError> {
    let at = |file: usize, i: usize| {
        let (path, text) = &texts[file];
        let line =
            Spans::new(text).line_of(&[Step::Key("population"), Step::Nth(i), Step::Key("id")]);
        format!("{}:{line}", path.display())
    };
    for (n, (file, i, p)) in populations.iter().enumerate() {
        if let Some((other, j, _)) = populations[..n]
            .iter()
            .find(|(f, _, o)| o.id == p.id && f != file)
        {
            return Err(ConfigError::Invalid(format!(
                "{}: key `population[{i}].id`: `{}` is declared in {} too (population ids are unique across vouch.toml and its packs)",
                at(*file, *i),
                p.id,
                at(*other, *j)
            )));
        }
    }
    Ok(())
}

fn tag<T>(items: Vec<T>, file: &Path, set: impl Fn(&mut T, Origin)) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, mut item)| {
            set(
                &mut item,
                Origin {
                    file: file.to_path_buf(),
                    index,
                },
            );
            item
        })
        .collect()
}
