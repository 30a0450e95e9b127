#include "http/standby_link.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/fs.h"

namespace walship::http {

HttpStandbyLink::HttpStandbyLink(std::string url, int64_t timeout_ms, std::function<Position()> primary_position)
    : url_(std::move(url)),
      primary_position_(std::move(primary_position)),
      client_(std::make_unique<httplib::Client>(url_)) {
  const time_t seconds = static_cast<time_t>(timeout_ms / 1000);
  const time_t micros = static_cast<time_t>((timeout_ms % 1000) * 1000);
  client_->set_connection_timeout(std::min<time_t>(seconds, 5), seconds >= 5 ? 0 : micros);
  client_->set_read_timeout(seconds, micros);
  client_->set_write_timeout(seconds, micros);
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);
}

httplib::Headers HttpStandbyLink::PushHeaders() const {
  return {{"X-Walship-Primary-Position", primary_position_().ToString()}};
}

Status HttpStandbyLink::StatusOf(const httplib::Result& result, const std::string& what) const {
  if (!result) {
    return Status::Unavailable(what + ": " + httplib::to_string(result.error())).WithReason("standby_unreachable");
  }
  std::string code = "http_" + std::to_string(result->status);
  std::string message = result->body.substr(0, 512);
  auto body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const auto& e = body["error"];
    if (e.contains("code") && e["code"].is_string()) code = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
  }
  const std::string text = what + ": HTTP " + std::to_string(result->status) + " " + code + ": " + message;
  Status s = result->status == 409 ? Status::Conflict(text) : Status::Unavailable(text);
  return s.WithReason(code);
}

Result<StandbyPosition> HttpStandbyLink::PositionOf(const std::string& text, const std::string& what) const {
  auto body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return Status::Unavailable(what + ": the answer is not JSON");
  const auto role = body.find("role");
  const std::string role_text = role != body.end() ? role->dump() : std::string("none");
  if (role == body.end() || !role->is_string() || role->get<std::string>() != "standby") {
    return Status::Conflict(what + ": " + url_ + " is not a standby (role " + role_text + ")").WithReason("not_standby");
  }
  StandbyPosition p;
  try {
    p.has_database = body.at("has_database").get<bool>();
    p.sequence = body.at("sequence").get<uint64_t>();
    p.timeline = body.at("timeline").get<uint64_t>();
    p.txid = body.at("txid").get<int64_t>();
    // Optional: a standby of an older walship does not say.
    if (auto limit = body.find("max_segment_bytes"); limit != body.end() && limit->is_number_integer()) {
      p.max_segment_bytes = std::max<int64_t>(0, limit->get<int64_t>());
    }
  } catch (const nlohmann::json::exception& e) {
    // nlohmann reports a missing or mistyped field by exception; it stops here.
    return Status::Unavailable(what + ": the answer lacks a field: " + e.what());
  }
  return p;
}

Result<StandbyPosition> HttpStandbyLink::FetchPosition() {
  const std::string what = "GET " + url_ + "/v1/replication/position";
  auto result = client_->Get("/v1/replication/position");
  if (!result || result->status != 200) return StatusOf(result, what);
  return PositionOf(result->body, what);
}

Result<StandbyPosition> HttpStandbyLink::PushSegment(uint64_t sequence, const std::string& bytes) {
  const std::string path = "/v1/replication/segments/" + std::to_string(sequence);
  const std::string what = "PUT " + url_ + path;
  auto result = client_->Put(path.c_str(), PushHeaders(), bytes, "application/octet-stream");
  if (!result || result->status != 200) return StatusOf(result, what);
  return PositionOf(result->body, what);
}

Status HttpStandbyLink::PushBase(uint64_t sequence, const std::string& file) {
  const std::string path = "/v1/replication/bases/" + std::to_string(sequence);
  const std::string what = "PUT " + url_ + path;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(what + ": open " + file + ": " + ErrnoMessage(errno));
  ScopedFd closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::IOError(what + ": stat " + file + ": " + ErrnoMessage(errno));
  // The body is read from the file as httplib sends it, 1 MiB at a time.
  Status read_failure;
  std::string chunk;
  auto provide = [&](size_t offset, size_t length, httplib::DataSink& sink) {
    chunk.resize(std::min<size_t>(length, 1 << 20));
    const ssize_t n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(offset));
    if (n <= 0) {
      read_failure = Status::IOError(what + ": read " + file + " at byte " + std::to_string(offset) + ": " +
                                     (n < 0 ? ErrnoMessage(errno) : std::string("the file got shorter")));
      return false;
    }
    // httplib notes a failed write itself (and reports it as one).
    sink.write(chunk.data(), static_cast<size_t>(n));
    return true;
  };
  auto result = client_->Put(path, PushHeaders(), static_cast<size_t>(st.st_size), provide, "application/octet-stream");
  if (!read_failure.ok()) return read_failure;
  if (!result || result->status != 200) return StatusOf(result, what);
  return Status::Ok();
}

}  // namespace walship::http
