// The shipper's link to the standby over HTTP (/v1/replication/...).
//
// Thread contract: used by the shipper's thread only (one httplib client,
// kept alive between pushes).
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "node/archive.h"
#include "replication/segment_shipper.h"

namespace walship::http {

class HttpStandbyLink final : public StandbyLink {
 public:
  // `url` is http://HOST:PORT (config-checked); `primary_position` gives the
  // position each push reports to the standby (for its lag).
  HttpStandbyLink(std::string url, int64_t timeout_ms, std::function<Position()> primary_position);

  Result<StandbyPosition> FetchPosition() override;
  Result<StandbyPosition> PushSegment(uint64_t sequence, const std::string& bytes) override;
  Status PushBase(uint64_t sequence, const std::string& path) override;
  std::string Describe() const override { return url_; }

 private:
  // A status for an answer that is not 200: the error body's code becomes
  // the reason, so "out_of_order" reaches the shipper as it was sent.
  Status StatusOf(const httplib::Result& result, const std::string& what) const;
  Result<StandbyPosition> PositionOf(const std::string& body, const std::string& what) const;
  httplib::Headers PushHeaders() const;

  const std::string url_;
  std::function<Position()> primary_position_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace walship::http
