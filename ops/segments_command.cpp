#include "ops/segments_command.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "base/clock.h"
#include "replication/db_checksum.h"
#include "replication/segment_chain.h"
#include "replication/segment_store.h"

namespace walship {

namespace {

constexpr int kExitDamaged = 1;
constexpr int kExitNoStore = 2;

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string FileName(const SegmentFileEntry& e) { return std::filesystem::path(e.path).filename().string(); }

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string Txids(const SegmentHeader& h) { return std::to_string(h.first_txid) + "-" + std::to_string(h.last_txid); }

// A store opened for reading, and its listing.
struct OpenedStore {
  std::unique_ptr<SegmentStore> store;
  std::vector<SegmentFileEntry> entries;
};

// Opens DATA/segments without creating anything (a typo in --data must not
// leave an empty store behind) and lists it. On failure prints the fault and
// sets *exit_code.
std::optional<OpenedStore> OpenAndList(const std::string& command, const std::string& data_dir, std::ostream& err,
                                       int* exit_code) {
  *exit_code = kExitNoStore;
  const std::string dir = data_dir + "/segments";
  if (data_dir.empty()) {
    err << command << ": --data DIR is required\n";
  } else if (!IsDirectory(data_dir)) {
    err << command << ": data folder " << data_dir << " does not exist\n";
  } else if (!IsDirectory(dir)) {
    err << command << ": no segment store in " << data_dir << " (" << dir << " does not exist)\n";
  } else {
    *exit_code = kExitDamaged;
    Result<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(dir);
    Result<std::vector<SegmentFileEntry>> list = store.ok() ? (*store)->List() : store.status();
    if (list.ok()) {
      *exit_code = 0;
      return OpenedStore{std::move(store).value(), std::move(list).value()};
    }
    err << command << ": " << list.status().message() << "\n";
  }
  return std::nullopt;
}

Result<DecodedSegmentHeader> ReadHeader(const SegmentStore& store, const SegmentFileEntry& e) {
  Result<std::string> bytes = store.ReadBytes(e);
  if (!bytes.ok()) return bytes.status();
  return DecodeSegmentHeader(*bytes);
}

void PrintLsLine(const SegmentFileEntry& e, const SegmentHeader& h, std::ostream& out) {
  const double ratio = e.bytes > 0 ? static_cast<double>(h.body_length) / static_cast<double>(e.bytes) : 0.0;
  char line[256];
  std::snprintf(line, sizeof line, "%-10llu %-25s %-24s %8zu %8u %12lld %14llu %6.2f\n",
                static_cast<unsigned long long>(h.sequence), Txids(h).c_str(),
                FormatRfc3339Millis(h.sealed_unix_ms).c_str(), h.commits.size(), h.frame_count,
                static_cast<long long>(e.bytes), static_cast<unsigned long long>(h.body_length), ratio);
  out << line;
}

void PrintHeader(const SegmentStore& store, const SegmentFileEntry& e, const DecodedSegmentHeader& d,
                 std::ostream& out) {
  const SegmentHeader& h = d.header;
  auto field = [&out](const char* name, const std::string& value) {
    char label[32];
    std::snprintf(label, sizeof label, "%-20s", name);
    out << label << value << "\n";
  };
  field("file", FileName(e));
  field("format", std::to_string(h.major_version) + "." + std::to_string(h.minor_version));
  field("flags", Hex32(h.flags) + (h.chain_start() ? " (chain start)" : ""));
  field("cluster", HexOf(h.cluster_id));
  field("node", std::to_string(h.node_id));
  field("timeline", std::to_string(h.timeline));
  field("sequence", std::to_string(h.sequence));
  field("txids", Txids(h));
  field("commits", std::to_string(h.commits.size()));
  field("frames", std::to_string(h.frame_count));
  field("page size", std::to_string(h.page_size));
  field("wal salts", Hex32(h.wal_salt1) + " " + Hex32(h.wal_salt2));
  field("wal checkpoint seq", std::to_string(h.wal_checkpoint_seq));
  field("wal frames", std::to_string(h.wal_first_frame) + "-" + std::to_string(h.wal_last_frame));
  field("wal checksums", Hex32(h.wal_checksum1) + " " + Hex32(h.wal_checksum2));
  field("db pages", std::to_string(h.db_pages_before) + " before, " + std::to_string(h.db_pages_after) + " after");
  field("db checksum before", DbChecksumHex(h.db_checksum_before));
  field("db checksum after", DbChecksumHex(h.db_checksum_after));
  field("sealed", FormatRfc3339Millis(h.sealed_unix_ms) + " (" + std::to_string(h.sealed_unix_ms) + " ms)");
  field("body stored", std::to_string(h.body_stored_length) + " bytes, xxh64 " + DbChecksumHex(h.body_xxh64));
  field("body uncompressed", std::to_string(h.body_length) + " bytes, sha256 " + HexOf(h.body_sha256));
  field("previous sha256", HexOf(h.previous_sha256));
  field("segment sha256", HexOf(d.segment_sha256));
  if (h.chain_start()) {
    std::optional<std::string> base = store.BasePath(h.sequence);
    field("base", base ? *base : h.db_pages_before == 0 ? "none (an empty database)" : "MISSING");
  }
  out << "commit index:\n";
  char line[128];
  std::snprintf(line, sizeof line, "  %-20s %-10s %-24s %s\n", "txid", "frame", "committed (UTC)", "db pages");
  out << line;
  for (const SegmentCommit& c : h.commits) {
    std::snprintf(line, sizeof line, "  %-20llu %-10u %-24s %u\n", static_cast<unsigned long long>(c.txid), c.frame,
                  FormatRfc3339Millis(c.commit_unix_ms).c_str(), c.db_pages);
    out << line;
  }
}

// Decodes a whole segment and checks it against its name; the fault, if any,
// is returned without the file name (the caller adds it).
Result<DecodedSegmentHeader> VerifyFile(const SegmentStore& store, const SegmentFileEntry& e) {
  Result<std::string> bytes = store.ReadBytes(e);
  if (!bytes.ok()) return bytes.status();
  Result<DecodedSegment> seg = DecodeSegment(*bytes);
  if (!seg.ok()) return seg.status();
  const SegmentHeader& h = seg->header.header;
  WALSHIP_RETURN_IF_ERROR(SegmentStore::CheckNameMatchesHeader(e, h));
  if (h.chain_start() && h.db_pages_before != 0 && !store.BasePath(h.sequence)) {
    return Status::Corruption("chain start on a database of " + std::to_string(h.db_pages_before) +
                              " pages, but the store has no base snapshot " + SegmentStore::BaseFileName(h.sequence));
  }
  return std::move(seg->header);
}

// The index of the segment at which VerifySegmentChain fails. Its checks at
// index i depend only on segments i-1 and i (what follows changes only the
// wording of an out-of-order message), so a pairwise pass finds it.
size_t ChainFaultIndex(const std::vector<DecodedSegmentHeader>& headers, const ClusterId& cluster) {
  for (size_t i = 1; i < headers.size(); ++i) {
    if (!VerifySegmentChain({headers[i - 1], headers[i]}, cluster).ok()) return i;
  }
  return 0;
}

// What every subcommand works on: the store, its listing, where to print.
struct Tool {
  std::string command;  // "segments ls", for messages
  const SegmentStore& store;
  const std::vector<SegmentFileEntry>& entries;
  std::ostream& out;
  std::ostream& err;

  // One line naming the file and the fault.
  void Fault(const SegmentFileEntry& e, const Status& s) const {
    err << command << ": segment " << FileName(e) << ": " << s.message() << "\n";
  }
};

int Ls(const Tool& t) {
  int code = 0;
  char head[256];
  std::snprintf(head, sizeof head, "%-10s %-25s %-24s %8s %8s %12s %14s %6s\n", "sequence", "txids", "sealed (UTC)",
                "commits", "frames", "stored", "uncompressed", "ratio");
  t.out << head;
  for (const SegmentFileEntry& e : t.entries) {
    Result<DecodedSegmentHeader> d = ReadHeader(t.store, e);
    if (!d.ok()) {
      t.Fault(e, d.status());
      code = kExitDamaged;
      continue;
    }
    PrintLsLine(e, d->header, t.out);
  }
  return code;
}

int Show(const Tool& t, uint64_t sequence) {
  int code = 0;
  bool found = false;
  for (const SegmentFileEntry& e : t.entries) {
    if (e.sequence != sequence) continue;
    if (found) t.out << "\n";
    found = true;
    Result<DecodedSegmentHeader> d = ReadHeader(t.store, e);
    if (!d.ok()) {
      t.Fault(e, d.status());
      code = kExitDamaged;
      continue;
    }
    PrintHeader(t.store, e, *d, t.out);
    // The header is shown even when the body is damaged; say so, and fail.
    Result<DecodedSegmentHeader> whole = VerifyFile(t.store, e);
    t.out << "segment check: " << (whole.ok() ? "ok" : whole.status().message()) << "\n";
    if (!whole.ok()) code = kExitDamaged;
  }
  if (!found) {
    t.err << t.command << ": no segment " << sequence << " in " << t.store.dir() << "\n";
    return kExitDamaged;
  }
  return code;
}

int Verify(const Tool& t) {
  std::vector<DecodedSegmentHeader> headers;
  headers.reserve(t.entries.size());
  for (const SegmentFileEntry& e : t.entries) {
    Result<DecodedSegmentHeader> d = VerifyFile(t.store, e);
    if (!d.ok()) {
      t.Fault(e, d.status());
      return kExitDamaged;
    }
    headers.push_back(std::move(d).value());
  }
  if (headers.empty()) {
    t.out << "verified 0 segments: " << t.store.dir() << " holds none\n";
    return 0;
  }
  const ClusterId& cluster = headers.front().header.cluster_id;
  if (Status chain = VerifySegmentChain(headers, cluster); !chain.ok()) {
    t.Fault(t.entries[ChainFaultIndex(headers, cluster)], chain);
    return kExitDamaged;
  }
  const SegmentHeader& first = headers.front().header;
  const SegmentHeader& last = headers.back().header;
  if (!first.chain_start()) {
    // Only segment retention may have removed what came before (it says so
    // in PRUNED-BELOW first); otherwise the head of the chain is lost.
    Result<uint64_t> pruned_below = t.store.PrunedBelow();
    if (!pruned_below.ok()) {
      t.Fault(t.entries.front(), pruned_below.status());
      return kExitDamaged;
    }
    if (*pruned_below < first.sequence) {
      t.Fault(t.entries.front(),
              Status::Corruption("the oldest segment does not start a chain, and segment retention removed nothing "
                                 "before it (" + std::string(SegmentStore::kPrunedBelowFile) +
                                 (*pruned_below == 0 ? std::string(" is absent")
                                                     : " says " + std::to_string(*pruned_below)) +
                                 "): the segments before " + std::to_string(first.sequence) + " are missing"));
      return kExitDamaged;
    }
  }
  t.out << "verified " << headers.size() << " segments, sequences " << first.sequence << ".." << last.sequence
        << ", txids " << first.first_txid << ".." << last.last_txid << "\n";
  if (!first.chain_start()) {
    t.out << "note: segment " << first.sequence << " is the oldest kept and does not start a chain (segment "
          << "retention removed the segments before it): its previous sha256 " << HexOf(first.previous_sha256)
          << " cannot be checked\n";
  }
  return 0;
}

}  // namespace

CLI::App* AddSegmentsCommand(CLI::App& app, SegmentsArgs* args) {
  CLI::App* segments = app.add_subcommand("segments", "Inspect and verify the segment store (offline, read-only)");
  segments->require_subcommand(1);
  args->ls = segments->add_subcommand("ls", "One line per segment: sequence, txids, sealed time, sizes, ratio");
  args->show = segments->add_subcommand("show", "Every header field and the commit index of segment N");
  args->verify = segments->add_subcommand("verify", "Decode every segment and verify the whole chain");
  args->show->add_option("sequence", args->sequence, "the segment's sequence number")->required();
  for (CLI::App* sub : {args->ls, args->show, args->verify}) {
    sub->add_option("--data", args->data_dir, "the node's data folder (the store is DIR/segments)");
  }
  return segments;
}

int RunSegments(const SegmentsArgs& args, std::ostream& out, std::ostream& err) {
  CLI::App* sub = nullptr;
  for (CLI::App* s : {args.ls, args.show, args.verify}) {
    if (s && s->parsed()) sub = s;
  }
  if (!sub) {
    err << "segments: name a subcommand: ls, show or verify\n";
    return kExitNoStore;
  }
  const std::string command = "segments " + sub->get_name();
  int code = 0;
  std::optional<OpenedStore> opened = OpenAndList(command, args.data_dir, err, &code);
  if (!opened) return code;
  const Tool tool{command, *opened->store, opened->entries, out, err};
  if (sub == args.ls) return Ls(tool);
  if (sub == args.show) return Show(tool, args.sequence);
  return Verify(tool);
}

}  // namespace walship

namespace walship {

int VerifySegmentStore(const std::string& command, const std::string& data_dir, std::ostream& out, std::ostream& err) {
  int code = 0;
  std::optional<OpenedStore> opened = OpenAndList(command, data_dir, err, &code);
  if (!opened) return code;
  return Verify(Tool{command, *opened->store, opened->entries, out, err});
}

}  // namespace walship
