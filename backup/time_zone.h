// TimeZone: the UTC offset of a named IANA zone at any instant, read from the
// system's compiled zoneinfo (TZif) files. The backup scheduler needs it to
// fire cron schedules at local wall-clock times and to count calendar days and
// weeks for retention.
//
// Contract:
//  - Load() reads one file, once; lookups afterwards are pure and thread-safe.
//  - TZif versions 1, 2, 3 and 4 are read; from version 2 on only the 64-bit
//    section is used, as RFC 8536 recommends.
//  - Times after the file's last transition follow the POSIX TZ rule in the
//    file's footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), so "slim" files work
//    too. Debian's tzdata ships "fat" files with transitions up to 2037, so on
//    this system the footer matters only from 2038 on. A file without a footer
//    (version 1) keeps the offset of its last transition forever.
//  - Leap-second records are ignored: the "right/" zones are not supported.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace walship {

class TimeZone {
 public:
  // Where Load(name) looks for zone files.
  static constexpr const char* kSystemZoneinfoDir = "/usr/share/zoneinfo";

  // "Europe/Berlin" from kSystemZoneinfoDir. "UTC" and "Etc/UTC" need no file.
  // Names must be relative and must not contain ".." (no escaping the root).
  // Errors are InvalidArgument: unknown zone, bad name, malformed file.
  static Result<TimeZone> Load(const std::string& name);
  // The same, reading from `zoneinfo_dir` instead (tests).
  static Result<TimeZone> Load(const std::string& name, const std::string& zoneinfo_dir);

  // The zone "UTC": offset 0 at every instant.
  static TimeZone Utc();

  const std::string& name() const { return name_; }

  // The offset (local minus UTC, in seconds) in effect at `unix_seconds`:
  // +3600 for Berlin in winter, -14400 for New York in summer.
  int32_t OffsetSecondsAt(int64_t unix_seconds) const;

  // The first instant strictly after `unix_seconds` at which the offset may
  // change (it may also stay the same there: some transitions only rename the
  // zone's abbreviation). nullopt when the offset never changes again. Lets a
  // caller treat the time between two of these instants as a fixed offset.
  std::optional<int64_t> NextOffsetChangeAfter(int64_t unix_seconds) const;

  // The footer rule of a TZif file; defined in time_zone.cpp.
  struct PosixRule;

 private:
  TimeZone() = default;
  static Result<TimeZone> Parse(const std::string& name, const std::string& bytes);

  std::string name_;
  // offsets_[i] is in effect from transitions_[i] (ascending) on;
  // offset_before_first_ before transitions_[0].
  std::vector<int64_t> transitions_;
  std::vector<int32_t> offsets_;
  int32_t offset_before_first_ = 0;
  std::shared_ptr<const PosixRule> footer_;  // null: no footer, or an empty one
};

}  // namespace walship
