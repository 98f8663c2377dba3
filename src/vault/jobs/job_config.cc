#include "vault/jobs/job_config.h"

#include <set>

#include "common/clock.h"
#include "common/config.h"
#include "vault/retention/policy.h"

namespace mx::vault {
namespace {

const char kDocs[] = "see docs/jobs.md for every setting";

Error ConfigError(const std::string& where, const std::string& what, const std::string& why,
                  const std::string& fix) {
  return Error(Code::kConfig, what, where, why, fix);
}

Status CheckKnown(const Config& c, const char* table, const std::vector<std::string>& known) {
  auto unknown = c.UnknownKeys(known);
  if (unknown.empty()) return Ok();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return ConfigError(unknown[0], std::string("unknown setting in a ") + table, "", "settings there: " + list);
}

Result<std::string> RequireString(const Config& c, const char* table, const std::string& key,
                                  const std::string& example) {
  auto v = MX_TRY(c.GetString(key));
  if (!v || v->empty())
    return ConfigError(c.name(), std::string("a ") + table + " has no " + key, "",
                       "add " + key + " = " + example + " to the table");
  return *v;
}

bool IsStoreType(const std::string& t) {
  return t == "full" || t == "incremental" || t == "differential" || t == "copy";
}

Result<RetentionDef> ParseRetention(const Config& r) {
  static const char* const kCounts[][2] = {{"keep_last", "--keep-last"},       {"keep_hourly", "--keep-hourly"},
                                           {"keep_daily", "--keep-daily"},     {"keep_weekly", "--keep-weekly"},
                                           {"keep_monthly", "--keep-monthly"}, {"keep_yearly", "--keep-yearly"}};
  static const char* const kWithin[][2] = {{"keep_within", "--keep-within"},
                                           {"keep_within_hourly", "--keep-within-hourly"},
                                           {"keep_within_daily", "--keep-within-daily"},
                                           {"keep_within_weekly", "--keep-within-weekly"},
                                           {"keep_within_monthly", "--keep-within-monthly"},
                                           {"keep_within_yearly", "--keep-within-yearly"}};
  std::vector<std::string> known = {"keep_tag", "prune", "max_unused", "lock_wait"};
  for (auto& k : kCounts) known.push_back(k[0]);
  for (auto& k : kWithin) known.push_back(k[0]);
  MX_CHECK(CheckKnown(r, "[job.retention] table", known));
  RetentionDef d;
  for (auto& k : kCounts) {
    auto v = MX_TRY(r.GetInt(k[0]));
    if (!v) continue;
    if (*v < -1 || *v == 0)
      return ConfigError(r.Where(k[0]), std::string("invalid ") + k[0], std::to_string(*v),
                         "give a count above 0, or -1 for all");
    d.forget_args.insert(d.forget_args.end(), {k[1], std::to_string(*v)});
  }
  for (auto& k : kWithin) {
    auto v = MX_TRY(r.GetString(k[0]));
    if (!v) continue;
    auto parsed = ParseRetentionDuration(*v, k[1]);
    if (!parsed.ok())
      return ConfigError(r.Where(k[0]), std::string("invalid ") + k[0], parsed.error().cause(),
                         "write a duration such as \"30d\", \"1y6m\" or \"12h\"");
    d.forget_args.insert(d.forget_args.end(), {k[1], *v});
  }
  for (const auto& t : MX_TRY(r.GetStrings("keep_tag"))) d.forget_args.insert(d.forget_args.end(), {"--keep-tag", t});
  d.prune = MX_TRY(r.GetBool("prune")).value_or(false);
  d.max_unused = MX_TRY(r.GetString("max_unused")).value_or("");
  d.lock_wait = MX_TRY(r.GetString("lock_wait")).value_or(d.lock_wait);
  if (auto wait = ParseDuration(d.lock_wait); !wait.ok())
    return ConfigError(r.Where("lock_wait"), "invalid lock_wait", d.lock_wait, "write e.g. \"30s\", \"30m\" or \"2h\"");
  if (!d.Any())
    return ConfigError(r.name(), "a [job.retention] table keeps nothing", "no keep_* setting",
                       "add e.g. keep_daily = 7 and keep_weekly = 4, or remove the table");
  return d;
}

Result<std::vector<ScheduleEntry>> ParseSchedule(const Config& j, const std::string& job_type) {
  std::vector<ScheduleEntry> out;
  std::string kind = j.TypeOf("schedule");
  auto add = [&](const std::string& expr, const std::string& type, const std::string& where) -> Status {
    auto spec = CalendarSpec::Parse(expr);
    if (!spec.ok())
      return ConfigError(where, "invalid schedule", spec.error().cause(),
                         "write a calendar expression such as \"daily\", \"Mon..Fri 02:00\" or \"Sun 03:00\" "
                         "(docs/jobs.md)");
    out.push_back({*spec, type});
    return Ok();
  };
  if (kind.empty()) return out;  // run by hand only
  if (kind == "string") {
    MX_CHECK(add(*MX_TRY(j.GetString("schedule")), job_type, j.Where("schedule")));
  } else if (kind == "array") {
    for (const auto& e : MX_TRY(j.GetStrings("schedule"))) MX_CHECK(add(e, job_type, j.Where("schedule")));
  } else if (kind == "tables") {
    for (const auto& t : MX_TRY(j.GetTables("schedule"))) {
      MX_CHECK(CheckKnown(t, "schedule entry", {"calendar", "type"}));
      std::string cal = MX_TRY(RequireString(t, "schedule entry", "calendar", "\"daily\""));
      std::string type = MX_TRY(t.GetString("type")).value_or(job_type);
      MX_CHECK(add(cal, type, t.Where("calendar")));
    }
  } else {
    return ConfigError(j.Where("schedule"), "invalid schedule", "expected a string, a list of strings or a list of "
                       "tables { calendar = \"...\", type = \"...\" }", kDocs);
  }
  return out;
}

}  // namespace

const char* SourceDef::KindName() const {
  switch (kind) {
    case Kind::kStore: return "store";
    case Kind::kImap: return "imap";
    case Kind::kDirectory: return "directory";
  }
  return "?";
}

Result<JobsConfig> JobsConfig::Load(const std::string& path) {
  Config cfg = MX_TRY(Config::Load(path));
  JobsConfig jc;
  jc.path = path;
  // Top-level keys other commands read are allowed too (repository defaults,
  // [[imap_account]] tables).
  MX_CHECK(CheckKnown(cfg, "configuration file (top level)",
                      {"repository", "password_file", "password_command", "imap_account", "state_dir",
                       "metrics_file", "repositories", "source", "job"}));
  jc.state_dir = MX_TRY(cfg.GetString("state_dir")).value_or(jc.state_dir);
  jc.metrics_file = MX_TRY(cfg.GetString("metrics_file")).value_or("");
  std::set<std::string> names;
  auto unique = [&](const std::string& kind, const std::string& name, const std::string& where) -> Status {
    if (!names.insert(kind + "\n" + name).second)
      return ConfigError(where, "duplicate " + kind + " name", name, "give each " + kind + " its own name");
    return Ok();
  };
  // [[repositories]]: named repositories (the top-level `repository` stays
  // the default of plain commands).
  for (const auto& t : MX_TRY(cfg.GetTables("repositories"))) {
    MX_CHECK(CheckKnown(t, "[[repositories]] table", {"name", "location", "password_file", "password_command", "options"}));
    RepositoryDef r;
    r.where = t.name();
    r.name = MX_TRY(RequireString(t, "[[repositories]] table", "name", "\"main\""));
    r.location = MX_TRY(RequireString(t, "[[repositories]] table", "location", "\"/srv/mxvault/repo\""));
    r.password_file = MX_TRY(t.GetString("password_file")).value_or("");
    r.password_command = MX_TRY(t.GetString("password_command")).value_or("");
    r.options = MX_TRY(t.GetStrings("options"));
    if (r.password_file.empty() && r.password_command.empty())
      return ConfigError(t.name(), "repository '" + r.name + "' has no password", "",
                         "add password_file = \"/etc/mxvault/NAME.password\" or password_command = \"...\"");
    MX_CHECK(unique("repository", r.name, t.name()));
    jc.repositories.push_back(std::move(r));
  }
  std::set<std::string> imap_accounts;
  for (const auto& t : MX_TRY(cfg.GetTables("imap_account"))) {
    if (auto url = MX_TRY(t.GetString("url"))) imap_accounts.insert(*url);
    if (auto acct = MX_TRY(t.GetString("account"))) imap_accounts.insert(*acct);
  }
  for (const auto& t : MX_TRY(cfg.GetTables("source"))) {
    MX_CHECK(CheckKnown(t, "[[source]] table",
                        {"name", "store", "token_file", "ca_file", "cert_file", "key_file", "no_tls", "method",
                         "limit_download", "imap_account", "paths", "exclude", "host"}));
    SourceDef s;
    s.where = t.name();
    s.name = MX_TRY(RequireString(t, "[[source]] table", "name", "\"db01\""));
    s.host = MX_TRY(t.GetString("host")).value_or("");
    int kinds = 0;
    if (auto store = MX_TRY(t.GetString("store"))) {
      ++kinds;
      s.kind = SourceDef::Kind::kStore;
      s.store = *store;
      s.token_file = MX_TRY(t.GetString("token_file")).value_or("");
      s.ca_file = MX_TRY(t.GetString("ca_file")).value_or("");
      s.cert_file = MX_TRY(t.GetString("cert_file")).value_or("");
      s.key_file = MX_TRY(t.GetString("key_file")).value_or("");
      s.no_tls = MX_TRY(t.GetBool("no_tls")).value_or(false);
      s.method = MX_TRY(t.GetString("method")).value_or("");
      auto limit = MX_TRY(t.GetInt("limit_download")).value_or(0);
      if (limit < 0)
        return ConfigError(t.Where("limit_download"), "invalid limit_download", std::to_string(limit),
                           "give KiB/s above 0, or remove it for no limit");
      s.limit_download_kib = uint64_t(limit);
      if (!s.method.empty() && s.method != "snapshot" && s.method != "streaming")
        return ConfigError(t.Where("method"), "invalid method", s.method, "write \"snapshot\" or \"streaming\"");
      if (s.token_file.empty())
        return ConfigError(t.name(), "store source '" + s.name + "' has no token_file", "",
                           "add token_file = \"/etc/mxvault/db01.token\" (the store's backup token)");
    }
    if (auto acct = MX_TRY(t.GetString("imap_account"))) {
      ++kinds;
      s.kind = SourceDef::Kind::kImap;
      s.imap_account = *acct;
      if (!imap_accounts.count(*acct))
        return ConfigError(t.Where("imap_account"), "source '" + s.name + "' names an unknown IMAP account", *acct,
                           "add an [[imap_account]] table with url = \"" + *acct + "\" (or account = ...)");
    }
    if (t.TypeOf("paths") != "") {
      ++kinds;
      s.kind = SourceDef::Kind::kDirectory;
      s.paths = MX_TRY(t.GetStrings("paths"));
      s.exclude = MX_TRY(t.GetStrings("exclude"));
      if (s.paths.empty())
        return ConfigError(t.Where("paths"), "source '" + s.name + "' has an empty paths list", "",
                           "list the directories to back up");
    }
    if (kinds != 1)
      return ConfigError(t.name(), "source '" + s.name + "' must name exactly one of store, imap_account, paths",
                         kinds ? "it names several" : "it names none",
                         "store = \"store://HOST:PORT/DB\", imap_account = \"imaps://USER@HOST\" or paths = [\"/dir\"]");
    MX_CHECK(unique("source", s.name, t.name()));
    jc.sources.push_back(std::move(s));
  }
  for (const auto& t : MX_TRY(cfg.GetTables("job"))) {
    MX_CHECK(CheckKnown(t, "[[job]] table",
                        {"name", "source", "repository", "schedule", "type", "retention", "on_failure"}));
    JobDef j;
    j.where = t.name();
    j.name = MX_TRY(RequireString(t, "[[job]] table", "name", "\"db01-nightly\""));
    for (char c : j.name)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        return ConfigError(t.Where("name"), "invalid job name", j.name,
                           "use letters, digits, '-', '_' and '.' (the name is a tag and a metrics label)");
    j.source = MX_TRY(RequireString(t, "[[job]] table", "source", "\"db01\""));
    j.repository = MX_TRY(RequireString(t, "[[job]] table", "repository", "\"main\""));
    j.type = MX_TRY(t.GetString("type")).value_or("");
    j.on_failure = MX_TRY(t.GetString("on_failure")).value_or("");
    const SourceDef* src = nullptr;
    for (const auto& s : jc.sources)
      if (s.name == j.source) src = &s;
    if (!src) {
      std::string list;
      for (const auto& s : jc.sources) list += (list.empty() ? "" : ", ") + s.name;
      return ConfigError(t.Where("source"), "job '" + j.name + "' names an unknown source", j.source,
                         list.empty() ? "add a [[source]] table" : "defined sources: " + list);
    }
    bool repo_found = false;
    for (const auto& r : jc.repositories) repo_found = repo_found || r.name == j.repository;
    if (!repo_found) {
      std::string list;
      for (const auto& r : jc.repositories) list += (list.empty() ? "" : ", ") + r.name;
      return ConfigError(t.Where("repository"), "job '" + j.name + "' names an unknown repository", j.repository,
                         list.empty() ? "add a [[repositories]] table" : "defined repositories: " + list);
    }
    bool store = src->kind == SourceDef::Kind::kStore;
    if (store && j.type.empty()) j.type = "incremental";
    j.schedule = MX_TRY(ParseSchedule(t, j.type));
    auto check_type = [&](const std::string& type, const std::string& where) -> Status {
      if (store && !IsStoreType(type))
        return ConfigError(where, "invalid backup type for job '" + j.name + "'", type,
                           "write full, incremental, differential or copy");
      if (!store && !type.empty())
        return ConfigError(where, "job '" + j.name + "' sets a backup type, but its source is a " +
                                      std::string(src->KindName()) + " source",
                           type, "remove the type: directory and IMAP backups are always incremental");
      return Ok();
    };
    MX_CHECK(check_type(j.type, t.Where("type")));
    for (const auto& e : j.schedule) MX_CHECK(check_type(e.type, t.Where("schedule")));
    if (auto r = MX_TRY(t.GetTable("retention"))) j.retention = MX_TRY(ParseRetention(*r));
    MX_CHECK(unique("job", j.name, t.name()));
    jc.jobs.push_back(std::move(j));
  }
  return jc;
}

Result<const JobDef*> JobsConfig::FindJob(const std::string& name) const {
  for (const auto& j : jobs)
    if (j.name == name) return &j;
  std::string list;
  for (const auto& j : jobs) list += (list.empty() ? "" : ", ") + j.name;
  return Error(Code::kUsage, "no such job", name, "the configuration " + path + " defines " + (list.empty() ? "no jobs" : list),
               "run `mxvault status` to list the jobs");
}

const SourceDef& JobsConfig::SourceOf(const JobDef& job) const {
  for (const auto& s : sources)
    if (s.name == job.source) return s;
  return sources.front();  // Load() checked the reference
}

const RepositoryDef& JobsConfig::RepositoryOf(const JobDef& job) const {
  for (const auto& r : repositories)
    if (r.name == job.repository) return r;
  return repositories.front();
}

}  // namespace mx::vault
