#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"

namespace mx::app {

nlohmann::json SnapshotJson(const repo::Id& id, const repo::Snapshot& s) {
  nlohmann::json j = {{"time", FormatRfc3339InZone(s.time, s.time_offset)}, {"tree", s.tree.Hex()},
                      {"paths", s.paths}, {"hostname", s.hostname},
                      {"username", s.username}, {"uid", s.uid}, {"gid", s.gid},
                      {"id", id.Hex()}, {"short_id", id.Short()}};
  if (s.parent) j["parent"] = s.parent->Hex();
  if (!s.tags.empty()) j["tags"] = s.tags;
  if (!s.excludes.empty()) j["excludes"] = s.excludes;
  return j;
}

void RegisterSnapshots(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("snapshots", "list snapshots");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      auto snaps = MX_TRY(repo->ListSnapshots());
      if (g.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (auto& [id, s] : snaps) arr.push_back(SnapshotJson(id, s));
        printf("%s\n", arr.dump().c_str());
        return Ok();
      }
      printf("%-9s %-19s  %-15s %-15s %s\n", "ID", "Time", "Host", "Tags", "Paths");
      printf("%s\n", std::string(72, '-').c_str());
      for (auto& [id, s] : snaps) {
        std::string tags;
        for (auto& t : s.tags) tags += (tags.empty() ? "" : ",") + t;
        for (size_t i = 0; i < std::max<size_t>(1, s.paths.size()); ++i) {
          std::string path = i < s.paths.size() ? s.paths[i] : "";
          if (i == 0)
            printf("%-9s %-19s  %-15s %-15s %s\n", id.Short().c_str(), FormatLocal(s.time).c_str(),
                   s.hostname.c_str(), tags.c_str(), path.c_str());
          else
            printf("%-9s %-19s  %-15s %-15s %s\n", "", "", "", "", path.c_str());
        }
      }
      printf("%s\n%zu snapshots\n", std::string(72, '-').c_str(), snaps.size());
      return Ok();
    };
  });
}

}  // namespace mx::app
