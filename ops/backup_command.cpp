#include "ops/backup_command.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace walship {

namespace {

using nlohmann::json;

constexpr int kExitVerified = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUnknown = 2;

constexpr std::string_view kBackupsPath = "/v1/admin/backups";
constexpr int kBarWidth = 20;
constexpr size_t kSnippetChars = 200;

std::string Printf1(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// 3600 -> "3600", 0.25 -> "0.25": seconds as the user typed them.
std::string Seconds(double s) { return s == std::floor(s) && s < 1e15 ? Printf1("%.0f", s) : Printf1("%g", s); }

// The start of a body, fit for one line of a message.
std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, kSnippetChars);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (body.size() > kSnippetChars) s += "...";
  return "\"" + s + "\"";
}

bool IsPlainName(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// --- JSON: the only place nlohmann is touched; nothing here throws. -------

std::optional<double> NumberField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<std::string> StringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The answer's JSON object, or what is wrong with it.
Result<json> ParseObject(const std::string& body) {
  if (body.empty()) return Status::InvalidArgument("an empty body, not JSON");
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("not JSON: " + Snippet(body));
  if (!doc.is_object()) return Status::InvalidArgument("not a JSON object: " + Snippet(body));
  return doc;
}

Result<BackupView> ParseBackupObject(const json& doc) {
  auto it = doc.find("backup");
  if (it == doc.end() || !it->is_object()) return Status::InvalidArgument("no \"backup\" object");
  const json& b = *it;
  BackupView v;
  std::optional<std::string> id = StringField(b, "id");
  if (!id) return Status::InvalidArgument("backup has no string \"id\"");
  if (!IsPlainName(*id)) {
    return Status::InvalidArgument("backup id \"" + *id + "\" is not a plain name (letters, digits, '.', '_', '-')");
  }
  std::optional<std::string> state = StringField(b, "state");
  if (!state || state->empty()) return Status::InvalidArgument("backup " + *id + " has no string \"state\"");
  v.id = std::move(*id);
  v.state = std::move(*state);
  v.position = StringField(b, "position");
  v.started_at = StringField(b, "started_at");
  v.finished_at = StringField(b, "finished_at");
  v.error = StringField(b, "error");
  v.age_seconds = NumberField(b, "age_seconds");
  v.bytes_compressed = NumberField(b, "bytes_compressed");
  v.bytes_uncompressed = NumberField(b, "bytes_uncompressed");
  if (auto p = b.find("progress"); p != b.end() && p->is_object()) {
    v.pages_copied = NumberField(*p, "pages_copied");
    v.page_count = NumberField(*p, "page_count");
    v.percent = NumberField(*p, "percent");
    v.pages_per_second = NumberField(*p, "pages_per_second");
    v.bytes_per_second = NumberField(*p, "bytes_per_second");
  }
  return v;
}

// --- Formatting. ----------------------------------------------------------

std::optional<double> PercentOf(const BackupView& b) {
  std::optional<double> p = b.percent;
  if (!p && b.pages_copied && b.page_count && *b.page_count > 0) p = 100.0 * *b.pages_copied / *b.page_count;
  if (!p) return std::nullopt;
  return std::clamp(*p, 0.0, 100.0);
}

std::optional<std::string> PagesOf(const BackupView& b) {
  if (!b.pages_copied) return std::nullopt;
  std::string s = Printf1("%.0f", *b.pages_copied);
  if (b.page_count) s += "/" + Printf1("%.0f", *b.page_count);
  return s + " pages";
}

std::optional<std::string> SpeedOf(const BackupView& b) {
  if (!b.bytes_per_second) return std::nullopt;
  return FormatBytes(*b.bytes_per_second) + "/s";
}

std::optional<double> DurationOf(const BackupView& b) {
  if (!b.started_at || !b.finished_at) return std::nullopt;
  std::optional<int64_t> start = ParseRfc3339Millis(*b.started_at);
  std::optional<int64_t> end = ParseRfc3339Millis(*b.finished_at);
  if (!start || !end || *end < *start) return std::nullopt;
  return static_cast<double>(*end - *start) / 1000.0;
}

// --- Progress on stderr. --------------------------------------------------

class Progress {
 public:
  Progress(const BackupArgs& args, const BackupUi& ui, std::ostream& err) : args_(args), ui_(ui), err_(err) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Show(const BackupView& b, int64_t now_nanos) {
    if (args_.quiet) return;
    if (ui_.tty) {
      std::string line = FormatProgressBar(b);
      if (ui_.columns > 1 && line.size() >= static_cast<size_t>(ui_.columns)) line.resize(ui_.columns - 1);
      err_ << '\r' << line;
      if (line.size() < drawn_) err_ << std::string(drawn_ - line.size(), ' ');
      drawn_ = std::max(drawn_, line.size());
      err_.flush();
      return;
    }
    const int64_t every = std::chrono::duration_cast<std::chrono::nanoseconds>(ui_.plain_every).count();
    if (last_plain_ && now_nanos - *last_plain_ < every) return;
    last_plain_ = now_nanos;
    err_ << FormatProgressLine(b) << '\n';
    err_.flush();
  }

  // Wipes the bar so the next line starts clean.
  void Clear() {
    if (drawn_ == 0) return;
    err_ << '\r' << std::string(drawn_, ' ') << '\r';
    err_.flush();
    drawn_ = 0;
  }

 private:
  const BackupArgs& args_;
  const BackupUi& ui_;
  std::ostream& err_;
  size_t drawn_ = 0;  // the widest bar on the line now
  std::optional<int64_t> last_plain_;
};

// --- The command. ---------------------------------------------------------

bool IsSuccess(int status) { return status >= 200 && status < 300; }

int Watch(const BackupArgs& args, const NodeUrl& node, BackupApi& api, const BackupUi& ui, std::ostream& out,
          std::ostream& err) {
  if (!std::isfinite(args.timeout_seconds) || args.timeout_seconds <= 0) {
    err << "--timeout must be a number of seconds above 0, not " << Seconds(args.timeout_seconds) << "\n";
    return kExitUnknown;
  }
  if (args.poll_ms < 1) {
    err << "--poll-ms must be at least 1, not " << args.poll_ms << "\n";
    return kExitUnknown;
  }
  const Clock& clock = *ui.clock;
  const auto sleep = ui.sleep ? ui.sleep : [](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); };
  const int64_t deadline = clock.MonotonicNanos() + static_cast<int64_t>(std::min(args.timeout_seconds, 1e9) * 1e9);
  // Each request may take what is left of --timeout, but at least 1 s (an
  // answer on its way is worth more than the exact deadline) and at most 30 s.
  auto budget = [&] {
    const int64_t left_ms = (deadline - clock.MonotonicNanos()) / 1'000'000;
    return std::chrono::milliseconds(std::clamp<int64_t>(left_ms, 1000, 30'000));
  };
  const std::string post_url = node.base + std::string(kBackupsPath);

  Result<HttpAnswer> posted = api.Start(budget());
  if (!posted.ok()) {
    err << posted.status().message() << "\n";
    return kExitUnknown;
  }
  if (!IsSuccess(posted->status)) {
    err << "POST " << post_url << ": " << DescribeErrorAnswer(posted->status, posted->body) << "\n";
    return kExitUnknown;
  }
  Result<StartAnswer> started = ParseStartAnswer(posted->body);
  if (!started.ok()) {
    err << "malformed answer to POST " << post_url << " (HTTP " << posted->status
        << "): " << started.status().message() << "\n";
    return kExitUnknown;
  }
  BackupView b = std::move(started->backup);
  const std::string id = b.id;
  const std::string get_url = post_url + "/" + id;
  if (started->already_running && !args.quiet) {
    out << "joined the backup already running: " << id << "\n";
    out.flush();
  }

  Progress progress(args, ui, err);
  while (!b.finished()) {
    const int64_t now = clock.MonotonicNanos();
    progress.Show(b, now);
    if (now >= deadline) {
      progress.Clear();
      err << "timed out after " << Seconds(args.timeout_seconds) << " s waiting for backup " << id << " (state "
          << b.state << "); the backup goes on in the node\n";
      return kExitUnknown;
    }
    const int64_t left_ms = (deadline - now + 999'999) / 1'000'000;
    sleep(std::chrono::milliseconds(std::min<int64_t>(args.poll_ms, left_ms)));

    Result<HttpAnswer> got = api.Fetch(id, budget());
    if (!got.ok()) {
      progress.Clear();
      err << got.status().message() << " (while waiting for backup " << id << ", which may go on in the node)\n";
      return kExitUnknown;
    }
    if (got->status == 404) {
      progress.Clear();
      err << "GET " << get_url << ": " << DescribeErrorAnswer(got->status, got->body)
          << "; the node does not know backup " << id << " (did it restart?)\n";
      return kExitUnknown;
    }
    if (!IsSuccess(got->status)) {
      progress.Clear();
      err << "GET " << get_url << ": " << DescribeErrorAnswer(got->status, got->body) << "\n";
      return kExitUnknown;
    }
    Result<BackupView> next = ParseBackupAnswer(got->body);
    if (next.ok() && next->id != id) {
      next = Status::InvalidArgument("it describes backup " + next->id + ", not " + id);
    }
    if (!next.ok()) {
      progress.Clear();
      err << "malformed answer to GET " << get_url << " (HTTP " << got->status << "): " << next.status().message()
          << "\n";
      return kExitUnknown;
    }
    b = std::move(next).value();
  }
  progress.Clear();
  if (b.verified()) {
    out << FormatFinalLine(b) << "\n";
    out.flush();
    return kExitVerified;
  }
  err << FormatFinalLine(b) << "\n";
  return kExitFailed;
}

// --- HTTP. ----------------------------------------------------------------

// "connection refused": httplib says only "Connection" when connect() fails,
// so one more connect() finds out why.
std::string WhyConnectFails(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) return "cannot resolve host \"" + host + "\": " + ::gai_strerror(rc);
  int why = 0;
  bool connected = false;
  for (addrinfo* a = found; a != nullptr && !connected; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      connected = true;
    } else if (errno != EINPROGRESS) {
      why = errno;
    } else {
      pollfd p{fd, POLLOUT, 0};
      const int n = ::poll(&p, 1, 3000);
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (n == 0) {
        why = ETIMEDOUT;
      } else if (n < 0) {
        why = errno;
      } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
        why = errno;
      } else if (so_error != 0) {
        why = so_error;
      } else {
        connected = true;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (connected) return "could not connect (it accepts connections now: try again)";
  if (why == 0) return "could not connect";
  std::string text = std::strerror(why);  // "Connection refused"
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

class HttpBackupApi final : public BackupApi {
 public:
  explicit HttpBackupApi(NodeUrl node) : node_(std::move(node)), client_(node_.host, node_.port) {}

  Result<HttpAnswer> Start(std::chrono::milliseconds budget) override {
    return Call("POST", std::string(kBackupsPath), budget);
  }
  Result<HttpAnswer> Fetch(const std::string& id, std::chrono::milliseconds budget) override {
    return Call("GET", std::string(kBackupsPath) + "/" + id, budget);
  }

 private:
  Result<HttpAnswer> Call(const std::string& method, const std::string& path, std::chrono::milliseconds budget) {
    client_.set_connection_timeout(std::min(budget, std::chrono::milliseconds(5000)));
    client_.set_read_timeout(budget);
    client_.set_write_timeout(budget);
    httplib::Result r = method == "POST" ? client_.Post(path) : client_.Get(path);
    if (r) return HttpAnswer{r->status, r->body};
    const std::string within = Seconds(static_cast<double>(budget.count()) / 1000.0) + " s";
    switch (r.error()) {
      case httplib::Error::Connection:
        return Status::Unavailable("cannot reach " + node_.base + ": " + WhyConnectFails(node_.host, node_.port));
      case httplib::Error::ConnectionTimeout:
        return Status::Unavailable("cannot reach " + node_.base + ": no connection within " +
                                   Seconds(std::min(budget.count(), int64_t{5000}) / 1000.0) + " s");
      case httplib::Error::Read:
        return Status::Unavailable("no answer from " + node_.base + " to " + method + " " + path + " within " +
                                   within + ", or the connection broke");
      case httplib::Error::Write:
        return Status::Unavailable("cannot send " + method + " " + path + " to " + node_.base +
                                   ": the connection broke");
      default:
        return Status::Unavailable("cannot reach " + node_.base + ": " + method + " " + path + " failed (httplib " +
                                   httplib::to_string(r.error()) + ")");
    }
  }

  NodeUrl node_;
  httplib::Client client_;
};

}  // namespace

Result<StartAnswer> ParseStartAnswer(const std::string& body) {
  try {
    Result<json> doc = ParseObject(body);
    if (!doc.ok()) return doc.status();
    Result<BackupView> b = ParseBackupObject(*doc);
    if (!b.ok()) return b.status();
    StartAnswer a;
    a.backup = std::move(b).value();
    auto it = doc->find("already_running");
    a.already_running = it != doc->end() && it->is_boolean() && it->get<bool>();
    return a;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("unreadable JSON: ") + e.what());
  }
}

Result<BackupView> ParseBackupAnswer(const std::string& body) {
  try {
    Result<json> doc = ParseObject(body);
    if (!doc.ok()) return doc.status();
    return ParseBackupObject(*doc);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("unreadable JSON: ") + e.what());
  }
}

std::string DescribeErrorAnswer(int status, const std::string& body) {
  const std::string http = "HTTP " + std::to_string(status);
  try {
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object()) {
      auto it = doc.find("error");
      if (it != doc.end() && it->is_object()) {
        std::optional<std::string> code = StringField(*it, "code");
        std::optional<std::string> message = StringField(*it, "message");
        if (code || message) {
          return http + (code ? " " + *code : "") + (message ? ": " + *message : "");
        }
      }
    }
  } catch (const json::exception&) {
    // Falls through to the raw body.
  }
  if (body.empty()) return http + " (empty body)";
  return http + " (not an error JSON: " + Snippet(body) + ")";
}

std::string FormatBytes(double bytes) {
  if (bytes < 1024) return Printf1("%.0f B", std::max(bytes, 0.0));
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = bytes / 1024;
  size_t unit = 0;
  while (v >= 1023.95 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return Printf1("%.1f", v) + " " + kUnits[unit];
}

std::string FormatDuration(double seconds) {
  if (seconds < 0.95) return Printf1("%.2f s", std::max(seconds, 0.0));  // "0.05 s", not "0.0 s"
  if (seconds < 59.95) return Printf1("%.1f s", seconds);
  char buf[64];
  if (seconds < 3599.5) {
    const long long s = std::llround(seconds);
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", s / 60, s % 60);
  } else {
    const long long m = std::llround(seconds / 60);
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", m / 60, m % 60);
  }
  return buf;
}

std::string FormatProgressBar(const BackupView& b) {
  std::string line = "backup " + b.id;
  if (std::optional<double> pct = PercentOf(b)) {
    const int filled = std::clamp(static_cast<int>(std::lround(*pct / 100.0 * kBarWidth)), 0, kBarWidth);
    line += "  [" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]  " + Printf1("%.1f", *pct) +
            "%";
  }
  if (std::optional<std::string> pages = PagesOf(b)) line += "  " + *pages;
  if (std::optional<std::string> speed = SpeedOf(b)) line += "  " + *speed;
  return line + "  " + b.state;
}

std::string FormatProgressLine(const BackupView& b) {
  std::vector<std::string> parts;
  if (std::optional<double> pct = PercentOf(b)) parts.push_back(Printf1("%.1f", *pct) + "%");
  if (std::optional<std::string> pages = PagesOf(b)) parts.push_back(*pages);
  if (std::optional<std::string> speed = SpeedOf(b)) parts.push_back(*speed);
  std::string line = "backup " + b.id + " " + b.state;
  for (size_t i = 0; i < parts.size(); ++i) line += (i == 0 ? ": " : ", ") + parts[i];
  return line;
}

std::string FormatFinalLine(const BackupView& b) {
  const std::string head = "backup " + b.id + " " + b.state;
  if (b.failed()) return head + ": " + (b.error && !b.error->empty() ? *b.error : "the node gave no reason");
  std::vector<std::string> parts;
  if (b.position) parts.push_back("position " + *b.position);
  std::string sizes;
  if (b.bytes_uncompressed && b.bytes_compressed) {
    sizes = FormatBytes(*b.bytes_uncompressed) + " -> " + FormatBytes(*b.bytes_compressed);
  } else if (b.bytes_uncompressed) {
    sizes = FormatBytes(*b.bytes_uncompressed) + " uncompressed";
  } else if (b.bytes_compressed) {
    sizes = FormatBytes(*b.bytes_compressed) + " compressed";
  }
  const std::optional<double> took = DurationOf(b);
  if (!sizes.empty()) {
    parts.push_back(took ? sizes + " in " + FormatDuration(*took) : sizes);
  } else if (took) {
    parts.push_back("took " + FormatDuration(*took));
  }
  std::string line = head;
  for (size_t i = 0; i < parts.size(); ++i) line += (i == 0 ? ": " : ", ") + parts[i];
  return line;
}

std::unique_ptr<BackupApi> MakeHttpBackupApi(const NodeUrl& node) { return std::make_unique<HttpBackupApi>(node); }

int WatchBackup(const BackupArgs& args, const NodeUrl& node, BackupApi& api, const BackupUi& ui, std::ostream& out,
                std::ostream& err) {
  try {
    return Watch(args, node, api, ui, out, err);
  } catch (const std::exception& e) {
    err << "backup: unexpected error: " << e.what() << "\n";
    return kExitUnknown;
  }
}

CLI::App* AddBackupCommand(CLI::App& app, BackupArgs* args) {
  CLI::App* backup = app.add_subcommand(
      "backup", "Ask a running node for a backup now and wait until it is verified (exit 0) or failed (exit 1)");
  backup->add_option("--node", args->node, "the node's http://HOST:PORT, e.g. http://127.0.0.1:7070");
  backup
      ->add_option("--timeout", args->timeout_seconds,
                   "seconds to wait for the end (exit 2 after; the backup goes on in the node)")
      ->capture_default_str();
  // Checked by WatchBackup rather than CLI11, for a plain message and exit code 2.
  backup->add_option("--poll-ms", args->poll_ms, "milliseconds between two status requests")->capture_default_str();
  backup->add_flag("--quiet", args->quiet, "print only the final line and errors (for cron)");
  return backup;
}

int RunBackup(const BackupArgs& args, std::ostream& out, std::ostream& err) {
  try {
    Result<NodeUrl> node = ParseNodeUrl(args.node);
    if (!node.ok()) {
      err << node.status().message() << "\n";
      return kExitUnknown;
    }
    BackupUi ui;
    // Only the process's own stderr can be a terminal.
    ui.tty = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
    if (ui.tty) {
      winsize ws{};
      if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0) ui.columns = ws.ws_col;
    }
    std::unique_ptr<BackupApi> api = MakeHttpBackupApi(*node);
    return WatchBackup(args, *node, *api, ui, out, err);
  } catch (const std::exception& e) {
    err << "backup: unexpected error: " << e.what() << "\n";
    return kExitUnknown;
  }
}

}  // namespace walship
