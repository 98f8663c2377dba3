#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"

namespace mx::app {

nlohmann::json SnapshotJson(const repo::Id& id, const repo::Snapshot& s);

namespace {
Status Walk(repo::Repository& r, const repo::Id& tree, const std::string& prefix,
            const std::string& filter, bool json, bool long_format) {
  repo::Tree t = MX_TRY(r.LoadTree(tree));
  for (const repo::Node& n : t.nodes) {
    std::string path = prefix + "/" + n.name;
    bool in = filter.empty() || path == filter || path.rfind(filter + "/", 0) == 0;
    bool above = !in && filter.rfind(path + "/", 0) == 0;
    if (in) {
      if (json) {
        nlohmann::json j = {{"name", n.name}, {"type", n.type}, {"path", path},
                            {"uid", n.uid}, {"gid", n.gid}, {"size", n.size},
                            {"mode", n.mode}, {"mtime", FormatRfc3339(n.mtime)},
                            {"atime", FormatRfc3339(n.atime)}, {"ctime", FormatRfc3339(n.ctime)},
                            {"struct_type", "node"}};
        printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      } else if (long_format) {
        printf("%-8s %5u %5u %12llu %s %s%s\n", n.type.c_str(), n.uid, n.gid,
               (unsigned long long)n.size, FormatLocal(n.mtime).c_str(), path.c_str(),
               n.type == "symlink" ? (" -> " + n.linktarget).c_str() : "");
      } else {
        printf("%s\n", path.c_str());
      }
    }
    if (n.type == "dir" && n.subtree && (in || above))
      MX_CHECK(Walk(r, *n.subtree, path, filter, json, long_format));
  }
  return Ok();
}
}  // namespace

void RegisterLs(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("ls", "list files in a snapshot");
  static std::string snapshot, path;
  static bool long_format = false;
  cmd->add_option("snapshot", snapshot, "snapshot id, prefix or 'latest'")->required();
  cmd->add_option("path", path, "only list this path and what is below it");
  cmd->add_flag("-l,--long", long_format, "show type, owner, size and mtime");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, true));
      auto [id, snap] = MX_TRY(repo->FindSnapshot(snapshot));
      std::string filter = path;
      while (filter.size() > 1 && filter.back() == '/') filter.pop_back();
      if (!filter.empty() && filter[0] != '/') filter = "/" + filter;
      if (filter == "/") filter.clear();
      if (g.json) {
        auto j = SnapshotJson(id, snap);
        j["struct_type"] = "snapshot";
        printf("%s\n", j.dump().c_str());
      } else if (!g.quiet) {
        std::string paths;
        for (auto& p : snap.paths) paths += (paths.empty() ? "" : " ") + p;
        fprintf(stderr, "snapshot %s of [%s] at %s:\n", id.Short().c_str(), paths.c_str(),
                FormatLocal(snap.time).c_str());
      }
      return Walk(*repo, snap.tree, "", filter, g.json, long_format);
    };
  });
}

}  // namespace mx::app
