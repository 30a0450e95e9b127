// Talking to another node over HTTP from a command or a node: its address
// (NodeUrl) and fetching one sealed segment from it (SegmentFetcher, used by
// `walship restore --fetch-from` and by the online restore).
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>

#include "base/status.h"

namespace walship {

// The node's address: "http://HOST:PORT" with an optional trailing slash,
// nothing else (no https, path, query, user). `base` is the URL without the
// slash, used in every message. Errors name the problem, e.g.
//   --node "http://127.0.0.1": names no port; use http://HOST:PORT
struct NodeUrl {
  std::string host;  // without the brackets of an IPv6 literal
  int port = 0;
  std::string base;  // "http://127.0.0.1:7070"
};
// `flag` names the option in errors.
Result<NodeUrl> ParseNodeUrl(const std::string& text, const std::string& flag = "--node");

// GET /v1/replication/segments/{sequence} from another node (either role).
// Blocking; one connection, not thread-safe.
class SegmentFetcher {
 public:
  explicit SegmentFetcher(const NodeUrl& node);
  // The segment file's bytes; kNotFound when the node has no such segment,
  // kUnavailable when it cannot be asked or answers otherwise.
  Result<std::string> Fetch(uint64_t sequence);

 private:
  NodeUrl node_;
  httplib::Client client_;
};

}  // namespace walship
