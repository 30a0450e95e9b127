// Helpers of the benchmark: realistic text, CPU time, /metrics, wrk.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <httplib.h>

#include <array>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/bench/bench.h"

namespace walship::bench {

std::vector<std::string> MakeTexts(int count, size_t bytes, uint64_t seed) {
  // Prose in the style of the archives the bridge indexes: notes on work
  // sessions, with code words, paths, numbers and the odd non-ASCII word.
  static const std::vector<std::string> kWords = {
      "the", "a", "of", "to", "and", "in", "is", "that", "for", "it", "on", "with", "as", "was", "we", "this",
      "be", "at", "by", "not", "from", "but", "have", "an", "they", "which", "one", "you", "were", "all", "there",
      "when", "can", "said", "after", "before", "every", "because", "again", "while", "still", "only", "then",
      "session", "memory", "archive", "index", "writer", "reader", "commit", "checkpoint", "segment", "backup",
      "restore", "standby", "primary", "timeline", "position", "frame", "page", "checksum", "journal", "bridge",
      "watcher", "file", "folder", "request", "response", "latency", "throughput", "disk", "queue", "thread",
      "connection", "transaction", "savepoint", "schema", "migration", "version", "search", "snippet", "ranking",
      "noticed", "decided", "measured", "rebuilt", "verified", "shipped", "compressed", "restarted", "failed",
      "recovered", "replaced", "deleted", "listed", "wrote", "read", "kept", "lost", "found", "moved", "tested",
      "quickly", "slowly", "carefully", "twice", "yesterday", "today", "tomorrow", "later", "morning", "evening",
      "meeting", "notes", "design", "review", "question", "answer", "idea", "plan", "risk", "bug", "fix", "patch",
      "user", "operator", "team", "customer", "project", "release", "deadline", "budget", "report", "summary",
      "small", "large", "old", "new", "first", "last", "next", "previous", "good", "bad", "safe", "durable",
      "corrupted", "malformed", "intact", "healthy", "slow", "fast", "empty", "full", "open", "closed",
      "`make test`", "`PRAGMA integrity_check`", "/var/lib/walship/index.db", "WAL", "SQLite", "HTTP", "JSON",
      "fsync", "zstd", "SHA-256", "42", "3.40.1", "1 KiB", "64 MiB", "0.27 ms", "2024-05-17", "#1138",
      "café", "naïve", "Zürich", "señor", "Ångström", "déjà vu"};
  static const std::array<const char*, 6> kEnds = {". ", ". ", ". ", "? ", "! ", "; "};
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (int t = 0; t < count; ++t) {
    std::string text;
    bool sentence_start = true;
    int words_in_sentence = 0, sentences_in_paragraph = 0;
    int sentence_len = 6 + static_cast<int>(rng() % 14);
    for (;;) {
      std::string w = kWords[rng() % kWords.size()];
      if (sentence_start && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
      if (!sentence_start && rng() % 17 == 0) w = "\"" + w + "\"";
      std::string piece = w;
      bool end_sentence = ++words_in_sentence >= sentence_len;
      if (end_sentence) {
        piece += kEnds[rng() % kEnds.size()];
        if (++sentences_in_paragraph >= 3 + static_cast<int>(rng() % 3)) {
          piece.back() = '\n';
          piece += '\n';
          sentences_in_paragraph = 0;
        }
      } else {
        piece += rng() % 11 == 0 ? ", " : " ";
      }
      if (text.size() + piece.size() > bytes) break;
      text += piece;
      sentence_start = end_sentence;
      if (end_sentence) {
        words_in_sentence = 0;
        sentence_len = 6 + static_cast<int>(rng() % 14);
      }
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    out.push_back(std::move(text));
  }
  return out;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14, 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

std::map<std::string, double> ScrapeMetrics(int port, const std::vector<std::string>& names, std::string* error) {
  std::map<std::string, double> out;
  for (const auto& n : names) out[n] = 0;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(10, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) {
    *error = res ? "GET /metrics: HTTP " + std::to_string(res->status) : "GET /metrics: " + httplib::to_string(res.error());
    return out;
  }
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    size_t value_at = line.rfind(' ');
    if (name_end == std::string::npos || value_at == std::string::npos) continue;
    auto it = out.find(line.substr(0, name_end));
    if (it != out.end()) it->second += std::strtod(line.c_str() + value_at + 1, nullptr);
  }
  return out;
}

bool ProbeFdatasync(const std::string& dir, int samples, double* p50_ms, double* p99_ms, std::string* error) {
  const std::string path = dir + "/fdatasync-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string page(4096, 'x');
  std::vector<uint64_t> lat;
  bool ok = true;
  for (int i = 0; i < samples && ok; ++i) {
    ok = ::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i % 16) * 4096) == 4096;
    const auto t0 = std::chrono::steady_clock::now();
    ok = ok && ::fdatasync(fd) == 0;
    lat.push_back(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
  }
  if (!ok) *error = std::string("pwrite/fdatasync: ") + std::strerror(errno);
  ::close(fd);
  ::unlink(path.c_str());
  double max_ms;
  Summarize(lat, p50_ms, p99_ms, &max_ms);
  return ok;
}

double RunWrk(const std::string& url, int connections, int threads, double seconds, std::string* output) {
  if (access("/usr/bin/wrk", X_OK) != 0) {
    *output = "/usr/bin/wrk not installed";
    return -1;
  }
  const std::string cmd = "/usr/bin/wrk --latency -t" + std::to_string(threads) + " -c" +
                          std::to_string(connections) + " -d" + std::to_string(static_cast<int>(seconds + 0.5)) +
                          "s " + url + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  output->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  pclose(p);
  size_t at = output->find("Requests/sec:");
  if (at == std::string::npos) return -1;
  return std::strtod(output->c_str() + at + 13, nullptr);
}

PhaseSpec PutPhase(const std::string& name, int port, int clients, double warmup_s, double measure_s,
                   ClientKind client, const std::vector<std::string>& bodies, const std::string& key_prefix) {
  PhaseSpec spec;
  spec.name = name;
  spec.port = port;
  spec.clients = clients;
  spec.warmup_s = warmup_s;
  spec.measure_s = measure_s;
  spec.client = client;
  spec.expect_status = 201;
  spec.next = [&bodies, key_prefix](int c, uint64_t seq, Request* r) {
    char key[64];
    std::snprintf(key, sizeof key, "/t%02d/%08llu", c, static_cast<unsigned long long>(seq));
    r->method = "PUT";
    r->path = "/v1/archives/" + key_prefix + key;
    r->body = bodies[(static_cast<size_t>(c) * 7919 + seq) % bodies.size()];
    r->content_type = "application/json";
  };
  return spec;
}

}  // namespace walship::bench
