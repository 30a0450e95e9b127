// Retention: which finished backups to keep and which to delete, as a pure
// function of the backups, the policy, the time and the time zone. The caller
// deletes what `prune` names; this file never touches a backup.
//
// Rules, applied to verified backups only:
//  - keep the newest `keep_last`;
//  - for each of the last `daily_days` calendar days (today included), keep
//    the newest backup finished that day;
//  - for each of the last `weekly_weeks` ISO weeks (Monday to Sunday, this
//    week included), keep the newest backup finished that week;
//  - always keep the newest one, whatever the policy (even all zeros), so
//    there is always something to restore;
//  - keep any backup that finished after `now` (a skewed clock: we cannot
//    tell how old it really is). The other rules look only at backups
//    finished at or before `now`, so a skewed one never displaces them.
// Days and weeks are calendar days in the given time zone.
//
// Unverified backups (failed, or not yet checked) are not retention's
// business: they appear in neither list, so they are never pruned here.
//
// As time moves on and new backups are added (none losing its verified
// mark), a backup this plan prunes is never one a later plan would have kept:
// every rule picks "the newest of ..." over windows that only slide forward.
// So applying each plan as it comes loses nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backup/time_zone.h"
#include "base/status.h"

namespace walship {

struct RetentionPolicy {
  int keep_last = 7;     // newest N verified backups; 0 disables the rule
  int daily_days = 7;    // newest per calendar day for N days; 0 disables
  int weekly_weeks = 4;  // newest per ISO week for N weeks; 0 disables

  // InvalidArgument when any count is negative.
  Status Validate() const;
};

struct RetainedBackup {
  std::string id;  // unique among the backups given to one PlanRetention call
  int64_t finished_unix_ms = 0;
  bool verified = false;
};

struct RetentionPlan {
  // Ids of verified backups, newest first (ties broken by id).
  std::vector<std::string> keep;
  std::vector<std::string> prune;
  // For each id in `keep`, every rule that keeps it, in a fixed order and
  // joined by ", ": "newest verified, last 7, daily 2026-11-27, weekly 2026-W48";
  // "newer than now" for a backup finished after `now`.
  std::map<std::string, std::string> why_kept;
};

// `backups` may come in any order. An invalid policy (see Validate) prunes
// nothing: every verified backup is kept, with the reason "invalid policy".
RetentionPlan PlanRetention(const RetentionPolicy& policy, const std::vector<RetainedBackup>& backups,
                            int64_t now_unix_ms, const TimeZone& zone);

}  // namespace walship
