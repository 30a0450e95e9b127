// /v1/replication/...: what a primary's shipper asks of its standby.
//   GET /v1/replication/position            where this node is (either role)
//   PUT /v1/replication/segments/{sequence} a segment file's bytes (standby)
//   PUT /v1/replication/bases/{sequence}    a base snapshot's bytes (standby)
//   GET /v1/replication/segments/{sequence} a segment file's bytes, as stored
//                                           (either role; `walship restore
//                                           --fetch-from` asks for them)
//   POST /v1/admin/resync                   the standby starts over (standby)
// And min_position on reads: "TIMELINE/TXID", as write responses carry it.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"

namespace walship::http {
namespace {

using nlohmann::json;

std::optional<uint64_t> ParseSequence(const std::string& text) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

json ReplicaStateJson(const ReplicaState& s, const Config& config) {
  return json{{"role", "standby"},
              {"max_segment_bytes", config.replication_max_segment_bytes},
              {"has_database", s.has_database},
              {"sequence", s.sequence},
              {"timeline", s.timeline},
              {"txid", s.txid},
              {"position", s.has_database ? json(std::to_string(s.timeline) + "/" + std::to_string(s.txid))
                                          : json(nullptr)},
              {"db_checksum", DbChecksumHex(s.db_checksum)},
              {"cluster_id", s.cluster_hex}};
}

// The standby's replica, or an answer saying this node is none.
Status NotStandby() {
  return Status::Conflict("this node is a primary: it takes no segments (is the primary's "
                          "replication.standby pointing at a primary?)")
      .WithReason("not_standby");
}

StandbyReplica* StandbyOrReply(RouteContext& ctx, httplib::Response& res) {
  StandbyReplica* replica = ctx.store.replica();
  if (replica == nullptr) ReplyError(res, NotStandby());
  return replica;
}

void NotePrimaryPosition(StandbyReplica& replica, const httplib::Request& req) {
  if (!req.has_header("X-Walship-Primary-Position")) return;
  auto p = ParsePosition(req.get_header_value("X-Walship-Primary-Position"));
  if (p.ok()) replica.NotePrimaryPosition(p->txid);
}

// What both pushes share: the body read whole (within the segment limit),
// this node a standby, the sequence in the path a number. Answers and
// returns false when one does not hold.
bool ReadPush(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader, const char* what, RequestBody* body, StandbyReplica** replica,
              uint64_t* sequence) {
  if (Status s = ReadBodyLimited(reader, ctx, body, ctx.config.replication_max_segment_bytes); !s.ok()) {
    ReplyBodyError(res, s);
    return false;
  }
  *replica = StandbyOrReply(ctx, res);
  if (*replica == nullptr) return false;
  auto parsed = ParseSequence(req.matches[1]);
  if (!parsed) {
    ReplyError(res, Status::InvalidArgument(std::string(what) + " sequence must be a decimal number"));
    return false;
  }
  *sequence = *parsed;
  return true;
}

void PutSegment(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader) {
  RequestBody body(ctx.body_budget);
  StandbyReplica* replica = nullptr;
  uint64_t sequence = 0;
  if (!ReadPush(ctx, req, res, reader, "segment", &body, &replica, &sequence)) return;
  NotePrimaryPosition(*replica, req);
  auto state = replica->Receive(sequence, body.text);
  if (!state.ok()) return ReplyError(res, state.status());
  ReplyJson(res, 200, Dump(ReplicaStateJson(*state, ctx.config)));
}

// Writes a pushed body into the new file `path` as it arrives, up to
// `max_bytes`; the file is removed when anything fails. A body that stops
// arriving for body_timeout_ms is cut off (not its total time: a base may
// take minutes).
Status StreamBodyToFile(RouteContext& ctx, const httplib::ContentReader& reader, const std::string& path,
                        int64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("create " + path + ": " + ErrnoMessage(errno));
  int64_t written = 0;
  int64_t written_back = 0;  // bytes already handed to the disk's writeback
  Status s = ReadBodyChunks(reader, ctx, max_bytes, BodyTimeout::kBetweenChunks, [&](const char* data, size_t len) {
    WALSHIP_RETURN_IF_ERROR(WriteAllAt(fd, std::string_view(data, len), written).Wrap("write " + path));
    written += static_cast<int64_t>(len);
    // Start writeback every 16 MiB (it does not wait), so the fsync before
    // the base is adopted has little left to do, and the primary's push
    // timeout is not spent waiting for gigabytes of dirty pages. The fsync
    // checks every byte anyway.
    if (written - written_back >= (16 << 20)) {
      (void)::sync_file_range(fd, written_back, written - written_back, SYNC_FILE_RANGE_WRITE);
      written_back = written;
    }
    return Status::Ok();
  });
  ::close(fd);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

// A base is streamed to a temp file in the standby's segment folder, never
// held in memory: it is the size of the database.
void PutBase(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader& reader) {
  // Refusals before the body is read close the connection: the unread body
  // must never be parsed as requests.
  StandbyReplica* replica = ctx.store.replica();
  if (replica == nullptr) return ReplyErrorAndClose(res, NotStandby());
  auto sequence = ParseSequence(req.matches[1]);
  if (!sequence) return ReplyErrorAndClose(res, Status::InvalidArgument("base sequence must be a decimal number"));
  if (!replica->TryBeginBaseReceive()) {
    return ReplyErrorAndClose(res, Status::Unavailable("another base push is being received; try again when it ends")
                                       .WithReason("base_push_running"));
  }
  struct EndReceive {
    StandbyReplica* r;
    ~EndReceive() { r->EndBaseReceive(); }
  } end_receive{replica};
  const std::string context = "receive the base of " + SegmentStore::BaseFileName(*sequence);
  const std::string receiving = replica->BaseReceivePath(*sequence);
  if (Status s = StreamBodyToFile(ctx, reader, receiving, ctx.config.replication_max_base_bytes); !s.ok()) {
    return ReplyBodyError(res, s.code() == Code::kIOError ? s.Wrap(context) : s);
  }
  Status s = replica->ReceiveBaseFile(*sequence, receiving);
  ::unlink(receiving.c_str());  // gone already when stored (renamed into the store)
  if (!s.ok()) return ReplyError(res, s);
  ReplyJson(res, 200, Dump(json{{"stored", true}, {"sequence", *sequence}}));
}

// The file as the store holds it: the caller checks it like any other copy.
void GetSegment(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto sequence = ParseSequence(req.matches[1]);
  if (!sequence) return ReplyError(res, Status::InvalidArgument("segment sequence must be a decimal number"));
  const std::string dir = ctx.store.segments_dir();
  // Never SegmentStore::Open a folder that is not there: it would create it.
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) {
    return ReplyError(res, Status::Unavailable("this node has no segment store open").WithReason("no_segments"));
  }
  auto store = SegmentStore::Open(dir);
  if (!store.ok()) return ReplyError(res, store.status());
  auto entries = (*store)->List();
  if (!entries.ok()) return ReplyError(res, entries.status());
  std::optional<SegmentFileEntry> found;
  for (const SegmentFileEntry& e : *entries) {
    if (e.sequence != *sequence) continue;
    if (found) {
      return ReplyError(res, Status::Conflict("two files hold segment " + std::to_string(*sequence) + " here"));
    }
    found = e;
  }
  if (!found) {
    return ReplyError(res, Status::NotFound("this node has no segment " + std::to_string(*sequence))
                               .WithReason("no_such_segment"));
  }
  auto bytes = (*store)->ReadBytes(*found);
  if (!bytes.ok()) return ReplyError(res, bytes.status());
  res.status = 200;
  res.set_header("X-Walship-Segment-File", std::filesystem::path(found->path).filename().string());
  res.set_content(std::move(bytes).value(), "application/octet-stream");
}

}  // namespace

Result<Position> ParsePosition(const std::string& text) {
  const size_t slash = text.find('/');
  const auto bad = [&] {
    return Status::InvalidArgument("position \"" + text + "\" is not TIMELINE/TXID (as in \"1/42\")");
  };
  if (slash == std::string::npos) return bad();
  auto timeline = ParseSequence(text.substr(0, slash));
  auto txid = ParseSequence(text.substr(slash + 1));
  if (!timeline || !txid || *timeline == 0 || *timeline > INT64_MAX || *txid > INT64_MAX) return bad();
  return Position{static_cast<int64_t>(*timeline), static_cast<int64_t>(*txid)};
}

Status AwaitMinPosition(RouteContext& ctx, const httplib::Request& req) {
  if (!req.has_param("min_position")) return Status::Ok();
  auto wanted = ParsePosition(req.get_param_value("min_position"));
  if (!wanted.ok()) return wanted.status().Wrap("min_position");
  return ctx.store.WaitForPosition(*wanted);
}

void RegisterReplicationRoutes(httplib::Server& svr, RouteContext& ctx) {
  svr.Get("/v1/replication/position", [&ctx](const httplib::Request&, httplib::Response& res) {
    if (StandbyReplica* replica = ctx.store.replica()) {
      return ReplyJson(res, 200, Dump(ReplicaStateJson(replica->State(), ctx.config)));
    }
    Position p = ctx.store.position();
    ReplyJson(res, 200, Dump(json{{"role", "primary"}, {"position", p.ToString()}, {"timeline", p.timeline},
                                  {"txid", p.txid}}));
  });
  // A standby starts over (after "replica_diverged", or at will): see
  // StandbyReplica::Resync. The answer says where the old files went.
  svr.Post("/v1/admin/resync", [&ctx](const httplib::Request&, httplib::Response& res) {
    StandbyReplica* replica = StandbyOrReply(ctx, res);
    if (replica == nullptr) return;
    auto moved = replica->Resync();
    if (!moved.ok()) return ReplyError(res, moved.status());
    ReplyJson(res, 200, Dump(json{{"resync", "started"}, {"previous_files", *moved}}));
  });
  svr.Put("/v1/replication/segments/([0-9]+)",
          [&ctx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
            PutSegment(ctx, req, res, reader);
          });
  svr.Get("/v1/replication/segments/([0-9]+)",
          [&ctx](const httplib::Request& req, httplib::Response& res) { GetSegment(ctx, req, res); });
  svr.Put("/v1/replication/bases/([0-9]+)",
          [&ctx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
            PutBase(ctx, req, res, reader);
          });
}

}  // namespace walship::http
