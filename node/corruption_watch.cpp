#include "node/corruption_watch.h"

#include "base/log.h"

namespace walship {

std::string CorruptionRecommendedCommand(const std::string& data_dir) {
  return "walship restore --data " + data_dir;
}

CorruptionWatch::CorruptionWatch(std::string data_dir, Clock& clock, MetricsRegistry& metrics)
    : recommended_(CorruptionRecommendedCommand(data_dir)),
      clock_(clock),
      reports_(metrics.GetCounter("walship_corruption_reports_total",
                                  "Corruption errors met (SQLITE_CORRUPT, SQLITE_NOTADB, quick_check, scrub); "
                                  "the first one stops writes")),
      found_gauge_(metrics.GetGauge("walship_corruption_found",
                                    "1 once the database was found corrupt (writes stopped)")) {
  // A new watch has found nothing (an online restore starts one on the restored file).
  found_gauge_.Set(0);
}

bool CorruptionWatch::Observe(std::string_view source, const Status& status) {
  if (status.code() != Code::kCorruption) return false;
  reports_.Add();
  CorruptionFinding finding{clock_.NowUnixMillis(), std::string(source), status.message(), recommended_};
  {
    std::lock_guard lock(mu_);
    if (finding_) return true;
    finding_ = finding;
  }
  found_gauge_.Set(1);
  LogError("database corruption found: writes are stopped; restore the database",
           {{"source", finding.source}, {"error", finding.message}, {"recommended", finding.recommended}});
  if (stop_) stop_(Status::Corruption(finding.source + ": " + finding.message));
  return true;
}

bool CorruptionWatch::found() const {
  std::lock_guard lock(mu_);
  return finding_.has_value();
}

std::optional<CorruptionFinding> CorruptionWatch::Finding() const {
  std::lock_guard lock(mu_);
  return finding_;
}

Status CorruptionWatch::WriteRefusal() const {
  std::optional<CorruptionFinding> f = Finding();
  if (!f) return Status::Ok();
  return Status::Unavailable("writes are stopped: the database is corrupt (" + f->source + ": " + f->message +
                             "); run: " + f->recommended)
      .WithReason("database_corrupt");
}

}  // namespace walship
