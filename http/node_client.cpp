#include "http/node_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <string_view>

namespace walship {
namespace {

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<NodeUrl> ParseNodeUrl(const std::string& text, const std::string& flag) {
  auto bad = [&text, &flag](const std::string& problem) {
    return Status::InvalidArgument(flag + " \"" + text + "\": " + problem);
  };
  const std::string use = "; use http://HOST:PORT";
  if (text.empty()) {
    return Status::InvalidArgument(flag + " is required: the node's http://HOST:PORT, e.g. http://127.0.0.1:7070");
  }
  const std::string_view scheme = "http://";
  if (StartsWithNoCase(text, "https://")) return bad("https is not supported" + use);
  if (!StartsWithNoCase(text, scheme)) {
    if (text.find("://") != std::string::npos) return bad("only http:// is supported" + use);
    return bad("must start with http://");
  }
  std::string rest = text.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("?#") != std::string::npos) return bad("must have no query or fragment" + use);
  if (rest.find('/') != std::string::npos) return bad("must have no path" + use);
  if (rest.find('@') != std::string::npos) return bad("must have no user or password" + use);
  if (rest.empty()) return bad("names no host" + use);
  std::string host;
  std::string port;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return bad("the IPv6 address has no closing ]");
    host = rest.substr(1, close - 1);
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return bad("host \"[" + host + "]\" is not an IPv6 address");
    }
    const std::string after = rest.substr(close + 1);
    if (after.empty()) return bad("names no port" + use);
    if (after.front() != ':') return bad("unexpected \"" + after + "\" after the IPv6 address");
    port = after.substr(1);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return bad("names no port" + use);
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address goes in brackets, e.g. http://[::1]:7070");
    if (host.empty()) return bad("names no host" + use);
    const bool plain = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!plain) return bad("host \"" + host + "\" is not a host name or IP address");
  }
  if (port.empty()) return bad("names no port" + use);
  int value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return bad("port \"" + port + "\" is not a number from 1 to 65535");
  }
  NodeUrl url;
  url.host = std::move(host);
  url.port = value;
  url.base = "http://" + rest;
  return url;
}

SegmentFetcher::SegmentFetcher(const NodeUrl& node) : node_(node), client_(node.host, node.port) {
  client_.set_connection_timeout(std::chrono::seconds(5));
  client_.set_read_timeout(std::chrono::seconds(60));
}

Result<std::string> SegmentFetcher::Fetch(uint64_t sequence) {
  const std::string path = "/v1/replication/segments/" + std::to_string(sequence);
  httplib::Result r = client_.Get(path);
  if (!r) {
    return Status::Unavailable("GET " + node_.base + path + " failed (httplib " + httplib::to_string(r.error()) + ")");
  }
  if (r->status == 404) return Status::NotFound(node_.base + " has no segment " + std::to_string(sequence));
  if (r->status != 200) {
    return Status::Unavailable("GET " + node_.base + path + " answered " + std::to_string(r->status) + ": " +
                               r->body.substr(0, 200));
  }
  return r->body;
}

}  // namespace walship
