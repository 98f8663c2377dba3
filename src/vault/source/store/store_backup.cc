#include "vault/source/store/store_backup.h"

#include <unistd.h>

#include <deque>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/host.h"
#include "common/queue.h"
#include "repo/blob_saver.h"
#include "repo/chunker.h"
#include "vault/source/tree_nodes.h"

namespace mx::vault {
namespace pb = mx::backup::v1;
using repo::BlobType;
using repo::Id;

Result<StoreBackupSummary> BackupStore(repo::Repository& repo, StoreClient& client, const StoreBackupOptions& opts,
                                       StoreBackupProgress* progress) {
  auto start = std::chrono::steady_clock::now();
  const std::string& database = client.address().database;
  pb::BackupType type = MX_TRY(ParseBackupType(opts.type));
  pb::Method method = opts.method == "streaming" ? pb::STREAMING : pb::SNAPSHOT;
  StoreSession session(client);
  pb::BeginReply begin = MX_TRY(session.Begin(database, type, method, false));
  pb::ListFilesReply listing = MX_TRY(session.ListFiles());
  for (const auto& f : listing.files()) {
    progress->files_total += 1;
    progress->bytes_total += f.size();
  }

  // Chunks are hashed, compressed, encrypted and packed by a pool while the
  // next bytes arrive from the store.
  repo::BlobSaver saver(repo);
  struct Job {
    std::string data;
    Id* slot;
  };
  BoundedQueue<Job> jobs(8);
  std::mutex err_mu;
  std::optional<Error> worker_error;
  unsigned nworkers = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < nworkers; ++i)
    workers.emplace_back([&] {
      while (auto j = jobs.Pop()) {
        Id id = Id::Hash(reinterpret_cast<const uint8_t*>(j->data.data()), j->data.size());
        *j->slot = id;
        auto r = saver.Save(BlobType::kData, id, reinterpret_cast<const uint8_t*>(j->data.data()), j->data.size());
        if (!r.ok()) {
          std::lock_guard<std::mutex> l(err_mu);
          if (!worker_error) worker_error = r.error();
        }
      }
    });
  auto stop_workers = [&] {
    jobs.Close();
    for (auto& t : workers)
      if (t.joinable()) t.join();
  };

  Timestamp now = Now();
  repo::Tree rocks;
  std::vector<std::deque<Id>> contents(listing.files_size());
  Status read_status = Ok();
  for (int i = 0; i < listing.files_size() && read_status.ok(); ++i) {
    const auto& f = listing.files(i);
    if (!repo::UnsafeNameReason(f.name()).empty()) {
      read_status = Error(Code::kProtocol, "the store named an unsafe file", f.name(), repo::UnsafeNameReason(f.name()), "");
      break;
    }
    repo::Chunker chunker(repo.config().chunker_polynomial);
    std::string cur;
    auto& slots = contents[i];
    auto emit = [&](std::string data) {
      slots.emplace_back();
      jobs.Push(Job{std::move(data), &slots.back()});
    };
    read_status = session.ReadFile(f.name(), f.crc32c(), [&](const std::string& data) -> Status {
      progress->bytes_done += data.size();
      if (opts.limit_bytes_per_second) {
        // Pace the reads: the store sends no faster than we take.
        auto due = start + std::chrono::microseconds(progress->bytes_done * 1000000 / opts.limit_bytes_per_second);
        std::this_thread::sleep_until(due);
      }
      size_t pos = 0;
      while (pos < data.size()) {
        size_t split = chunker.Next(reinterpret_cast<const uint8_t*>(data.data()) + pos, data.size() - pos);
        if (split == 0) {
          cur.append(data, pos, std::string::npos);
          break;
        }
        cur.append(data, pos, split);
        pos += split;
        emit(std::move(cur));
        cur.clear();
      }
      std::lock_guard<std::mutex> l(err_mu);
      if (worker_error) return *worker_error;
      return Ok();
    });
    if (!cur.empty()) emit(std::move(cur));
    progress->files_done += 1;
  }
  stop_workers();
  if (read_status.ok() && worker_error) read_status = *worker_error;
  if (!read_status.ok()) return read_status.error();  // the session is dropped: the store aborts it

  for (int i = 0; i < listing.files_size(); ++i) {
    const auto& f = listing.files(i);
    rocks.nodes.push_back(FileNode(f.name(), f.size(), std::vector<Id>(contents[i].begin(), contents[i].end()), now));
  }
  auto save_tree = [&](repo::Tree& t) { return SaveTree(saver, t); };

  // The manifest: what restore and recovery need to rebuild the chain.
  nlohmann::json m = {{"format", 1},
                      {"kind", "mxstore-database"},
                      {"store", client.address().Peer()},
                      {"store_identity", begin.store_identity()},
                      {"database", database},
                      {"database_identity", begin.database_identity()},
                      {"log_chain", begin.log_chain()},
                      {"type", opts.type},
                      {"method", method == pb::STREAMING ? "streaming" : "snapshot"},
                      {"session", begin.session_id()},
                      {"sequence", begin.sequence()},
                      {"first_seq", begin.first_seq()},
                      {"first_log", begin.first_log()},
                      {"newest_log", begin.newest_log()},
                      {"commits_blocked_us", begin.commits_blocked_us()},
                      {"base", BackupRecordJson(begin.base())},
                      {"time", FormatRfc3339(now)}};
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : listing.files())
    files.push_back({{"name", f.name()}, {"size", f.size()}, {"kind", f.kind()}, {"log_number", f.log_number()},
                     {"first_seq", f.first_seq()}, {"last_seq", f.last_seq()}, {"crc32c", f.crc32c()}});
  m["files"] = files;
  std::string manifest = m.dump(2) + "\n";
  Id mid = Id::Hash(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
  {
    auto r = saver.Save(BlobType::kData, mid, reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
    if (!r.ok()) return std::move(r).error();
  }

  Id rocks_id = MX_TRY(save_tree(rocks));
  repo::Tree dbtree;
  dbtree.nodes.push_back(DirNode("rocksdb", rocks_id, now));
  dbtree.nodes.push_back(FileNode(kStoreManifestName, manifest.size(), {mid}, now));
  Id db_id = MX_TRY(save_tree(dbtree));
  repo::Tree root;
  root.nodes.push_back(DirNode(database, db_id, now));
  Id root_id = MX_TRY(save_tree(root));
  MX_CHECK(saver.Finish());

  repo::Snapshot snap;
  snap.time = now;
  snap.tree = root_id;
  snap.paths = {"/" + database};
  // One store, one host name, whichever way it was reached (TCP or socket).
  snap.hostname = !opts.hostname.empty() ? opts.hostname
                  : !begin.store_name().empty() ? begin.store_name()
                  : (client.address().unix_socket ? Hostname() : client.address().host);
  snap.username = Username();
  snap.uid = getuid();
  snap.gid = getgid();
  snap.tags = {"mxstore", "type:" + opts.type, "method:" + m["method"].get<std::string>(),
               "logs:" + std::to_string(begin.first_log()) + "-" + std::to_string(begin.newest_log()),
               "seq:" + std::to_string(begin.first_seq()) + "-" + std::to_string(begin.sequence()),
               "chain:" + begin.log_chain()};
  for (const auto& t : opts.tags) snap.tags.push_back(t);
  snap.program_version = opts.program_version;
  StoreBackupSummary sum;
  sum.snapshot_id = MX_TRY(repo.SaveFile(repo::FileType::kSnapshot, repo::SerializeSnapshot(snap)));

  // Only now, with the snapshot durable in the repository, may the store
  // truncate the logs it holds.
  auto end = session.End(true);
  if (!end.ok())
    return end.error().Wrap("snapshot " + sum.snapshot_id.Short() + " is saved, but the store did not record the backup "
                            "(no log was truncated)", database);
  sum.session = begin.session_id();
  sum.type = opts.type;
  sum.method = m["method"];
  sum.files = uint64_t(listing.files_size());
  sum.bytes = progress->bytes_done;
  sum.data_added = saver.stats().bytes_added;
  sum.data_added_packed = saver.stats().bytes_added_packed;
  sum.first_log = begin.first_log();
  sum.newest_log = begin.newest_log();
  sum.first_seq = begin.first_seq();
  sum.sequence = begin.sequence();
  sum.commits_blocked_us = begin.commits_blocked_us();
  sum.logs_truncated = end->logs_truncated();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace mx::vault
