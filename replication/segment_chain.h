// Verifying that a run of segment headers forms one unbroken chain.
#pragma once

#include <vector>

#include "base/status.h"
#include "replication/segment_codec.h"

namespace walship {

// `segments` in the order the store holds them (by sequence). Checks, and
// fails with kCorruption at the first fault, naming the segment sequence:
//   every segment belongs to `cluster`;
//   timelines never go back;
//   sequences go up by one: no duplicate, no swap, no gap;
//   unless a segment starts a chain (a new base): its previous sha256 is the
//   sha256 of the segment before, its first txid follows that one's last
//   txid, and its database checksum and size before equal that one's after.
// The first segment of the run links to nothing here: whatever precedes it
// (a base, or segments retention dropped) is the caller's to check.
Status VerifySegmentChain(const std::vector<DecodedSegmentHeader>& segments, const ClusterId& cluster);

}  // namespace walship
