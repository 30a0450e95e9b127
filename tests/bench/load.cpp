// The load generator: N client threads, each on its own keep-alive
// connection, running for a warm-up then a measured window, recording the
// latency of every request.
//
// Two clients: a minimal HTTP/1.1 keep-alive client on a plain socket (the
// default: client and server share two cores here, so the client must cost
// as little CPU as possible), and httplib::Client for comparison.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "tests/bench/bench.h"

namespace walship::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port. Understands what
// the node answers with: a status line, headers, a Content-Length body
// (chunked bodies are reported as an error), and `Connection: close`.
class RawConnection {
 public:
  explicit RawConnection(int port) : port_(port) {}
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends `wire` (a whole request) and reads the whole response. Returns the
  // HTTP status, or -1 with *error set (the connection is then dropped and
  // the next request reconnects).
  int RoundTrip(const std::string& wire, std::string* error) {
    if (fd_ < 0 && !Connect(error)) return -1;
    if (!SendAll(wire, error)) return Fail();
    size_t header_end;
    while ((header_end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(error)) return Fail();
    }
    if (in_.compare(0, 5, "HTTP/") != 0 || in_.size() < 12) {
      *error = "malformed status line";
      return Fail();
    }
    const int status = std::atoi(in_.c_str() + 9);
    size_t content_length = 0;
    bool close_after = false;
    size_t pos = in_.find("\r\n") + 2;
    while (pos < header_end) {
      size_t eol = in_.find("\r\n", pos);
      std::string_view line(in_.data() + pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") {
        content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      } else if (name == "connection") {
        close_after = value.find("close") != std::string_view::npos;
      } else if (name == "transfer-encoding") {
        *error = "chunked response (unsupported by the bench client)";
        return Fail();
      }
    }
    const size_t total = header_end + 4 + content_length;
    while (in_.size() < total) {
      if (!ReadMore(error)) return Fail();
    }
    body_.assign(in_, header_end + 4, content_length);
    in_.erase(0, total);
    if (close_after) Close();
    return status;
  }

  const std::string& body() const { return body_; }

 private:
  bool Connect(std::string* error) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{30, 0};  // bounded: a stuck server fails the request, not the bench
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      *error = std::string("connect: ") + std::strerror(errno);
      Close();
      return false;
    }
    in_.clear();
    return true;
  }

  bool SendAll(const std::string& wire, std::string* error) {
    size_t off = 0;
    while (off < wire.size()) {
      ssize_t n = ::send(fd_, wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed");
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  bool ReadMore(std::string* error) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        *error = "connection closed by the server";
        return false;
      }
      if (n < 0) {
        *error = std::string("recv: ") + std::strerror(errno);
        return false;
      }
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  int Fail() {
    Close();
    return -1;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
  }

  int port_;
  int fd_ = -1;
  std::string in_;
  std::string body_;
};

std::string Serialize(const Request& r, const std::string& host) {
  std::string wire;
  wire.reserve(r.path.size() + r.body.size() + 128);
  wire += r.method;
  wire += ' ';
  wire += r.path;
  wire += " HTTP/1.1\r\nHost: ";
  wire += host;
  wire += "\r\n";
  if (!r.body.empty() || r.method == "PUT" || r.method == "POST") {
    wire += "Content-Type: ";
    wire += r.content_type;
    wire += "\r\nContent-Length: ";
    wire += std::to_string(r.body.size());
    wire += "\r\n";
  }
  wire += "\r\n";
  wire += r.body;
  return wire;
}

// Performs one request with whichever client the phase uses.
class Client {
 public:
  Client(ClientKind kind, int port) : kind_(kind), host_("127.0.0.1:" + std::to_string(port)) {
    if (kind == ClientKind::kRaw) {
      raw_ = std::make_unique<RawConnection>(port);
    } else {
      lib_ = std::make_unique<httplib::Client>("127.0.0.1", port);
      lib_->set_keep_alive(true);
      lib_->set_tcp_nodelay(true);
      lib_->set_connection_timeout(5, 0);
      lib_->set_read_timeout(30, 0);
      lib_->set_write_timeout(30, 0);
    }
  }

  // Returns the status or -1 (transport error, *error set); *body is the
  // response body when the status is not 2xx.
  int Do(const Request& r, std::string* error, std::string* body) {
    if (raw_) {
      int status = raw_->RoundTrip(Serialize(r, host_), error);
      if (status >= 300) *body = raw_->body();
      return status;
    }
    httplib::Result res = r.method == "PUT" ? lib_->Put(r.path.c_str(), r.body, r.content_type.c_str())
                                            : lib_->Get(r.path.c_str());
    if (!res) {
      *error = httplib::to_string(res.error());
      return -1;
    }
    if (res->status >= 300) *body = res->body;
    return res->status;
  }

 private:
  ClientKind kind_;
  std::string host_;
  std::unique_ptr<RawConnection> raw_;
  std::unique_ptr<httplib::Client> lib_;
};

struct ThreadResult {
  std::vector<uint64_t> latencies_ns;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> kinds;
  std::map<std::string, std::string> samples;
};

}  // namespace

void Summarize(std::vector<uint64_t>& v, double* p50_ms, double* p99_ms, double* max_ms) {
  *p50_ms = *p99_ms = *max_ms = 0;
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    rank = std::clamp<size_t>(rank, 1, v.size());
    return static_cast<double>(v[rank - 1]) / 1e6;
  };
  *p50_ms = at(0.50);
  *p99_ms = at(0.99);
  *max_ms = static_cast<double>(v.back()) / 1e6;
}

PhaseResult RunPhase(const PhaseSpec& spec, pid_t server_pid) {
  // Every client opens its connection (one untimed GET /healthz) before the
  // clock starts: the phase measures steady keep-alive traffic, not a storm
  // of connects (see docs/BENCHMARKS.md on the listen backlog).
  std::mutex mu;
  std::condition_variable cv;
  int connected = 0;
  bool go = false;
  SteadyClock::time_point start, warm_end, end;

  std::vector<ThreadResult> results(static_cast<size_t>(spec.clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < spec.clients; ++c) {
    threads.emplace_back([&, c] {
      ThreadResult& out = results[static_cast<size_t>(c)];
      out.latencies_ns.reserve(1 << 16);
      Client client(spec.client, spec.port);
      Request req;
      std::string error, body;
      req.method = "GET";
      req.path = "/healthz";
      if (int status = client.Do(req, &error, &body); status != 200) {
        ++out.errors;
        out.kinds[status < 0 ? "connect: " + error : "connect: HTTP " + std::to_string(status)]++;
      }
      {
        std::unique_lock lock(mu);
        ++connected;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      for (uint64_t seq = 0;; ++seq) {
        spec.next(c, seq, &req);
        const auto t0 = SteadyClock::now();
        if (t0 >= end) break;
        error.clear();
        const int status = client.Do(req, &error, &body);
        const auto t1 = SteadyClock::now();
        const bool ok = spec.expect_status ? status == spec.expect_status : (status >= 200 && status < 300);
        if (ok) {
          if (spec.on_success) spec.on_success(c, req);
          if (t0 >= warm_end && t1 <= end) {
            out.latencies_ns.push_back(
                static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
          }
          continue;
        }
        ++out.errors;
        std::string kind = status < 0 ? "transport: " + error : "HTTP " + std::to_string(status);
        if (out.kinds[kind]++ == 0 && status >= 0) out.samples[kind] = body.substr(0, 300);
      }
    });
  }

  {
    std::unique_lock lock(mu);
    // Bounded: a client that cannot connect within 15 s has its error
    // counted and the phase goes on without waiting for it.
    cv.wait_for(lock, std::chrono::seconds(15), [&] { return connected == spec.clients; });
    start = SteadyClock::now();
    warm_end = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(spec.warmup_s));
    end = warm_end + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(spec.measure_s));
    go = true;
  }
  cv.notify_all();
  std::this_thread::sleep_until(warm_end);
  const double self0 = SelfCpuSeconds();
  const double server0 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
  std::this_thread::sleep_until(end);
  const double self1 = SelfCpuSeconds();
  const double server1 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
  for (auto& t : threads) t.join();

  PhaseResult r;
  r.name = spec.name;
  r.clients = spec.clients;
  r.seconds = spec.measure_s;
  r.client_cpu_s = self1 - self0;
  r.server_cpu_s = server1 - server0;
  std::vector<uint64_t> all;
  for (auto& t : results) {
    all.insert(all.end(), t.latencies_ns.begin(), t.latencies_ns.end());
    r.errors += t.errors;
    for (const auto& [k, n] : t.kinds) r.error_kinds[k] += n;
    for (const auto& [k, s] : t.samples) r.error_samples.emplace(k, s);
  }
  r.ops = all.size();
  r.ops_per_s = static_cast<double>(r.ops) / spec.measure_s;
  Summarize(all, &r.p50_ms, &r.p99_ms, &r.max_ms);
  r.latencies_ns = std::move(all);
  return r;
}

}  // namespace walship::bench
