//! Loading a rulebook directory into something that decides.
//!
//! Layout of a rulebook directory:
//!
//! ```text
//! rulebook.toml            name, version, description
//! authorities.toml         groups, authorities, units
//! provisions.toml          statutory provisions with their citations
//! purposes.toml            purposes and purpose groups
//! offerings.toml           offerings, categories, fields
//! operations.toml          decided joint operations (optional)
//! policies/*.cedar         the provisions as Cedar policies
//! pre-assessments/*.toml   agreed pre-assessments, compiled to policies
//! scenarios/*.toml         scenario tests (not part of the rules; not hashed)
//! ```
//!
//! Loading reports every problem with file and line, never only the first.

use crate::containment;
use crate::entities::{self, Types};
use crate::index::Index;
use crate::policy::{self, PolicyInfo};
use crate::preassessment::{self, PreAssessment};
use crate::reach;
use crate::source::{parse_toml, LoadError, Problem, SourceFile};
use crate::vocabulary::{self, Vocabulary};
use cedar_policy::{Entities, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The exchange schema every rulebook is validated against.
pub const SCHEMA: &str = include_str!("exchange.cedarschema");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// Marks an example rulebook that is not legal advice.
    #[serde(default)]
    pub illustrative: bool,
}

/// A loaded, validated rulebook, ready to decide.
pub struct Rulebook {
    pub manifest: Manifest,
    pub vocabulary: Vocabulary,
    pub pre_assessments: Vec<PreAssessment>,
    pub(crate) infos: HashMap<String, Arc<PolicyInfo>>,
    /// Every policy, in load order.
    pub(crate) policies: Vec<(Policy, PolicyInfo)>,
    pub(crate) all: PolicySet,
    /// Every grant, and every override: the unindexed reference decision evaluates these.
    pub(crate) grants: PolicySet,
    pub(crate) overrides: PolicySet,
    pub(crate) schema: Schema,
    pub(crate) entities: Entities,
    pub(crate) index: Index,
    pub(crate) types: Types,
    pub(crate) hash: String,
}

impl std::fmt::Debug for Rulebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rulebook")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("policies", &self.policies.len())
            .field("hash", &self.hash)
            .finish()
    }
}

/// Reads every file of a rulebook directory that loading or testing needs.
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let mut files = Vec::new();
    let io_problem = |path: &Path, err: std::io::Error| {
        LoadError::single(Problem::new(
            &path.display().to_string(),
            1,
            1,
            format!("cannot read: {err}"),
        ))
    };
    if !dir.is_dir() {
        return Err(LoadError::single(Problem::new(
            &dir.display().to_string(),
            1,
            1,
            "not a rulebook directory",
        )));
    }
    let mut push = |relative: String, path: &Path| -> Result<(), LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| io_problem(path, e))?;
        files.push(SourceFile::new(relative, text));
        Ok(())
    };
    let top = ["rulebook.toml"].into_iter().chain(vocabulary::FILES);
    for name in top {
        let path = dir.join(name);
        if path.exists() {
            push(name.to_owned(), &path)?;
        }
    }
    for (sub, ext) in [
        ("policies", "cedar"),
        ("pre-assessments", "toml"),
        ("scenarios", "toml"),
    ] {
        let subdir = dir.join(sub);
        if !subdir.is_dir() {
            continue;
        }
        let mut paths: Vec<_> = std::fs::read_dir(&subdir)
            .map_err(|e| io_problem(&subdir, e))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            push(format!("{sub}/{name}"), &path)?;
        }
    }
    Ok(files)
}

impl Rulebook {
    /// Loads and validates a rulebook directory.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        Self::from_sources(&read_dir(dir)?)
    }

    /// Loads a rulebook from its files (paths relative to the rulebook directory).
    pub fn from_sources(files: &[SourceFile]) -> Result<Self, LoadError> {
        let by_name: HashMap<&str, &SourceFile> =
            files.iter().map(|f| (f.path.as_str(), f)).collect();
        let manifest_file = by_name.get("rulebook.toml").ok_or_else(|| {
            LoadError::single(Problem::new(
                "rulebook.toml",
                1,
                1,
                "missing file rulebook.toml",
            ))
        })?;
        let manifest: Manifest = parse_toml(manifest_file).map_err(LoadError::single)?;
        let vocabulary_files: HashMap<&str, SourceFile> = vocabulary::FILES
            .iter()
            .filter_map(|name| by_name.get(name).map(|f| (*name, (*f).clone())))
            .collect();
        let vocabulary = Vocabulary::load(&vocabulary_files)?;

        let mut problems = Vec::new();
        let mut policies: Vec<(Policy, PolicyInfo)> = Vec::new();
        for file in files.iter().filter(|f| f.path.starts_with("policies/")) {
            policies.extend(policy::parse_file(file, &mut problems));
        }
        let hand_written = policies.len();
        let mut pre_assessments = Vec::new();
        for file in files
            .iter()
            .filter(|f| f.path.starts_with("pre-assessments/"))
        {
            for pa in PreAssessment::load_file(file, &vocabulary, &mut problems) {
                let grants =
                    containment::provision_grants(&policies[..hand_written], &pa.provision);
                match compile(&pa, &vocabulary, file, &grants) {
                    Ok(compiled) => policies.push(compiled),
                    Err(problem) => problems.push(problem),
                }
                pre_assessments.push((pa, file));
            }
        }

        place_in_time(&mut policies, &vocabulary);
        let mut all = PolicySet::new();
        let mut infos = HashMap::new();
        let sources: HashMap<&str, &SourceFile> =
            files.iter().map(|f| (f.path.as_str(), f)).collect();
        for (policy, info) in &policies {
            if let Some(first) = infos
                .get(&info.id)
                .map(|i: &Arc<PolicyInfo>| (i.file.clone(), i.line))
            {
                problems.push(
                    Problem::new(
                        &info.file,
                        info.line,
                        1,
                        format!("policy id `{}` is used twice", info.id),
                    )
                    .with_help(format!("first used at {}:{}", first.0, first.1)),
                );
                continue;
            }
            infos.insert(info.id.clone(), Arc::new(info.clone()));
            if let Err(err) = all.add(policy.clone()) {
                problems.push(Problem::new(&info.file, info.line, 1, err.to_string()));
            }
        }

        let schema = Schema::from_cedarschema_str(SCHEMA)
            .map(|(schema, _warnings)| schema)
            .map_err(|err| {
                LoadError::single(Problem::new("exchange.cedarschema", 1, 1, err.to_string()))
            })?;
        let types = Types::new();
        check_types(&all, &schema, &infos, &sources, &mut problems);
        check_entity_literals(&policies, &vocabulary, &mut problems);
        if !problems.is_empty() {
            return Err(LoadError { problems });
        }
        let entities = entities::build(&vocabulary, &types, &schema)
            .map_err(|err| LoadError::single(Problem::new("offerings.toml", 1, 1, err)))?;
        // Only on an otherwise sound rulebook: a grant lost to a syntax error would make every
        // pre-assessment under its provision look wider than it is.
        let checker = reach::Checker {
            vocabulary: &vocabulary,
            entities: &entities,
            types: &types,
        };
        for (pa, file) in &pre_assessments {
            let grants = containment::provision_grants(&policies[..hand_written], &pa.provision);
            problems.extend(checker.check(pa, file, &grants));
        }
        if !problems.is_empty() {
            return Err(LoadError { problems });
        }
        let pre_assessments = pre_assessments.into_iter().map(|(pa, _)| pa).collect();
        let index = Index::build(&policies, &vocabulary);
        let (mut grants, mut overrides) = (PolicySet::new(), PolicySet::new());
        for (policy, info) in &policies {
            let set = if info.class.is_grant() {
                &mut grants
            } else {
                &mut overrides
            };
            // Ids were checked unique above.
            let _ = set.add(policy.clone());
        }
        Ok(Self {
            hash: hash(files),
            manifest,
            vocabulary,
            pre_assessments,
            infos,
            policies,
            all,
            grants,
            overrides,
            schema,
            entities,
            index,
            types,
        })
    }

    /// SHA-256 (hex) of the rulebook's files; decisions record it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Whether a subscription's notices may carry `field`'s value: it was disclosed
    /// automatically under a pre-assessment that lets notices carry values
    /// ([`PreAssessment::notice_values`]).
    pub fn notice_may_carry(&self, field: &crate::FieldDecision) -> bool {
        field.outcome == crate::Outcome::Disclose
            && field.determining.iter().any(|cited| {
                cited.pre_assessment.as_deref().is_some_and(|id| {
                    self.pre_assessments
                        .iter()
                        .any(|pa| pa.id == id && pa.notice_values)
                })
            })
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    pub fn policy_info(&self, id: &str) -> Option<&PolicyInfo> {
        self.infos.get(id).map(|i| &**i)
    }

    /// Every policy with its meaning, in load order.
    pub fn policies(&self) -> impl Iterator<Item = (&Policy, &PolicyInfo)> {
        self.policies.iter().map(|(p, i)| (p, i))
    }

    /// The whole policy set, as plain Cedar would evaluate it.
    pub fn policy_set(&self) -> &PolicySet {
        &self.all
    }

    /// The static entity store of the vocabulary.
    pub fn entities(&self) -> &Entities {
        &self.entities
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The size of the largest index bucket: the most policies any request is evaluated against.
    pub fn largest_bucket(&self) -> usize {
        self.index.largest_bucket()
    }
}

/// Compiles a pre-assessment into a policy located at its definition, within the grants of its
/// provision (see [`containment`]).
fn compile(
    pa: &PreAssessment,
    vocabulary: &Vocabulary,
    file: &SourceFile,
    grants: &[&containment::Annotated],
) -> Result<(Policy, PolicyInfo), Problem> {
    let text = pa.to_cedar(vocabulary);
    let id = preassessment::policy_id(&pa.id);
    let (line, column) = file.locate(&format!("\"{}\"", pa.id));
    let generated = SourceFile::new(file.path.clone(), text.clone());
    let does_not_compile = |err: String| {
        Problem::new(
            &file.path,
            line,
            column,
            format!("pre-assessment `{}` does not compile: {err}", pa.id),
        )
    };
    let policy = Policy::parse(Some(PolicyId::new(&id)), &text)
        .map_err(|err| does_not_compile(err.to_string()))?;
    let policy = containment::conjoin(&policy, &pa.recipient, &pa.offering, grants, vocabulary)
        .map_err(does_not_compile)?;
    let mut info = policy::read_info(&generated, &policy, (line, column))?;
    info.line = line;
    Ok((policy, info))
}

/// Ties each policy to the provision its citation names and narrows the days it applies to
/// that provision's force, so a request is decided under the law in force on its day.
fn place_in_time(policies: &mut [(Policy, PolicyInfo)], vocabulary: &Vocabulary) {
    for (_, info) in policies {
        let cited = &info.citation;
        let provision = vocabulary.provisions.values().find(|p| {
            p.sfs == cited.sfs && p.chapter == cited.chapter && p.section == cited.section
        });
        if let Some(provision) = provision {
            info.provision = Some(provision.id.clone());
            info.period = info.period.within(provision.period());
        }
    }
}

/// Validates every policy against the exchange schema; a type error names the policy's file and
/// the line of the offending expression.
fn check_types(
    all: &PolicySet,
    schema: &Schema,
    infos: &HashMap<String, Arc<PolicyInfo>>,
    sources: &HashMap<&str, &SourceFile>,
    problems: &mut Vec<Problem>,
) {
    let validator = Validator::new(schema.clone());
    let result = validator.validate(all, ValidationMode::Strict);
    for error in result.validation_errors() {
        let id = error.policy_id().to_string();
        let Some(info) = infos.get(&id) else { continue };
        let problem = match sources.get(info.file.as_str()) {
            Some(file) if info.pre_assessment.is_none() => {
                policy::diagnostic_problem(file, error, "type error")
            }
            _ => Problem::new(&info.file, info.line, 1, format!("type error: {error}")),
        };
        problems.push(problem.with_help(format!("in policy `{id}`")));
    }
}

/// Every entity a policy names must exist: `Authority::"skateverket"` type-checks but can never
/// match, which is a silent error in law.
fn check_entity_literals(
    policies: &[(Policy, PolicyInfo)],
    vocabulary: &Vocabulary,
    problems: &mut Vec<Problem>,
) {
    for (policy, info) in policies {
        let mut unknown = BTreeSet::new();
        for uid in policy.entity_literals() {
            let id = uid.id().unescaped();
            let known = match uid.type_name().to_string().as_str() {
                "Group" => vocabulary.groups.contains_key(id),
                "Authority" => vocabulary.authorities.contains_key(id),
                "Unit" => vocabulary.unit_authority.contains_key(id),
                "Provision" => vocabulary.provisions.contains_key(id),
                "Purpose" => vocabulary.purposes.contains_key(id),
                "PurposeGroup" => vocabulary.purpose_groups.contains_key(id),
                "Offering" => vocabulary.offerings.contains_key(id),
                "Category" => id.split_once('/').is_some_and(|(o, c)| {
                    vocabulary
                        .offerings
                        .get(o)
                        .is_some_and(|o| o.categories.iter().any(|x| x.id == c))
                }),
                "Field" => id.split_once('/').is_some_and(|(o, f)| {
                    vocabulary
                        .offerings
                        .get(o)
                        .is_some_and(|o| o.category_of(f).is_some())
                }),
                "JointOperation" => vocabulary.operations.contains_key(id),
                _ => true,
            };
            if !known {
                unknown.insert(uid.to_string());
            }
        }
        for uid in unknown {
            problems.push(Problem::new(
                &info.file,
                info.line,
                1,
                format!(
                    "policy `{}` names {uid}, which the vocabulary does not define",
                    info.id
                ),
            ));
        }
    }
}

/// SHA-256 over the files that take part in decisions (not scenarios, example requests or
/// documentation), in path order, each framed by its path and
/// length so that moving text between files changes the hash.
fn hash(files: &[SourceFile]) -> String {
    let decides = |path: &str| {
        path == "rulebook.toml"
            || vocabulary::FILES.contains(&path)
            || (path.starts_with("policies/") && path.ends_with(".cedar"))
            || (path.starts_with("pre-assessments/") && path.ends_with(".toml"))
    };
    let mut sorted: Vec<&SourceFile> = files.iter().filter(|f| decides(&f.path)).collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for file in sorted {
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update((file.text.len() as u64).to_be_bytes());
        hasher.update(file.text.as_bytes());
    }
    hex::encode(hasher.finalize())
}
