#include "backup/time_zone.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include "base/fs.h"

namespace walship {

// The daylight-saving part of a POSIX TZ string, e.g. "CET-1CEST,M3.5.0,M10.5.0/3".
struct TimeZone::PosixRule {
  // One switch: "Mm.w.d[/time]", "Jn[/time]" or "n[/time]".
  struct Switch {
    enum class Kind { kMonthWeekDay, kJulianNoLeap, kJulianZeroBased } kind = Kind::kMonthWeekDay;
    int month = 0;    // 1-12 (kMonthWeekDay)
    int week = 0;     // 1-5, 5 meaning the last one (kMonthWeekDay)
    int weekday = 0;  // 0 = Sunday (kMonthWeekDay)
    int day = 0;      // 1-365 (kJulianNoLeap, Feb 29 never counted) or 0-365 (kJulianZeroBased)
    int32_t local_seconds = 2 * 3600;  // wall-clock time of the switch; may be negative or past 24 h
  };
  int32_t std_offset = 0;
  std::optional<int32_t> dst_offset;  // when set, so are the switches
  Switch dst_start;                   // in standard local time
  Switch dst_end;                     // in daylight-saving local time
};

namespace {

using Rule = TimeZone::PosixRule;

constexpr int64_t kSecondsPerDay = 86400;
// RFC 8536 asks readers to accept offsets in -25:59:59..+25:59:59 at most.
constexpr int32_t kMaxAbsOffset = 26 * 3600;
constexpr int64_t kMaxFileBytes = 1 << 20;  // real zone files are a few KiB

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t DaysFromCivil(int64_t year, int month, int day) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{static_cast<int>(year)} / month / day}.time_since_epoch().count();
}

int64_t CivilYearOfDay(int64_t days_since_epoch) {
  using namespace std::chrono;
  return static_cast<int>(year_month_day{sys_days{std::chrono::days{days_since_epoch}}}.year());
}

// --- POSIX TZ strings (RFC 8536 section 3.3, POSIX "TZ") ---

class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  Result<Rule> ParseRule() {
    Rule rule;
    if (!SkipName()) return Fail("expected a standard-time name");
    std::optional<int32_t> std_offset = ParseHms(/*max_hours=*/24);
    if (!std_offset) return Fail("expected the standard-time offset");
    rule.std_offset = -*std_offset;  // POSIX counts west of Greenwich as positive
    if (AtEnd()) return rule;
    if (!SkipName()) return Fail("expected a daylight-saving name");
    rule.dst_offset = rule.std_offset + 3600;
    if (!AtEnd() && Peek() != ',') {
      std::optional<int32_t> dst = ParseHms(24);
      if (!dst) return Fail("expected the daylight-saving offset");
      rule.dst_offset = -*dst;
    }
    if (!Consume(',')) return Fail("daylight-saving time without switch rules");
    if (!ParseSwitch(&rule.dst_start)) return Fail("bad start rule");
    if (!Consume(',')) return Fail("expected ',' before the end rule");
    if (!ParseSwitch(&rule.dst_end)) return Fail("bad end rule");
    if (!AtEnd()) return Fail("unexpected text after the end rule");
    return rule;
  }

 private:
  Status Fail(std::string_view what) const {
    return Status::InvalidArgument("footer \"" + std::string(text_) + "\": " + std::string(what));
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  static bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

  // "CET", or a quoted name like "<+0330>".
  bool SkipName() {
    size_t start = pos_;
    if (Consume('<')) {
      while (!AtEnd() && Peek() != '>') ++pos_;
      return Consume('>') && pos_ - start >= 5;  // at least three characters inside
    }
    while (IsAlpha(Peek())) ++pos_;
    return pos_ - start >= 3;
  }

  std::optional<int> ParseNumber(int max) {
    if (!IsDigit(Peek())) return std::nullopt;
    int value = 0;
    while (IsDigit(Peek())) {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > max) return std::nullopt;
    }
    return value;
  }

  // [+-]hh[:mm[:ss]] in seconds.
  std::optional<int32_t> ParseHms(int max_hours) {
    int sign = 1;
    if (Consume('-')) {
      sign = -1;
    } else {
      Consume('+');
    }
    std::optional<int> hours = ParseNumber(max_hours);
    if (!hours) return std::nullopt;
    int32_t seconds = *hours * 3600;
    for (int32_t unit : {60, 1}) {
      if (!Consume(':')) break;
      std::optional<int> part = ParseNumber(59);
      if (!part) return std::nullopt;
      seconds += *part * unit;
    }
    return sign * seconds;
  }

  bool ParseSwitch(Rule::Switch* out) {
    using Kind = Rule::Switch::Kind;
    if (Consume('M')) {
      std::optional<int> month = ParseNumber(12);
      if (!month || *month < 1 || !Consume('.')) return false;
      std::optional<int> week = ParseNumber(5);
      if (!week || *week < 1 || !Consume('.')) return false;
      std::optional<int> weekday = ParseNumber(6);
      if (!weekday) return false;
      *out = {Kind::kMonthWeekDay, *month, *week, *weekday, 0, out->local_seconds};
    } else if (Consume('J')) {
      std::optional<int> day = ParseNumber(365);
      if (!day || *day < 1) return false;
      *out = {Kind::kJulianNoLeap, 0, 0, 0, *day, out->local_seconds};
    } else {
      std::optional<int> day = ParseNumber(365);
      if (!day) return false;
      *out = {Kind::kJulianZeroBased, 0, 0, 0, *day, out->local_seconds};
    }
    if (Consume('/')) {
      std::optional<int32_t> time = ParseHms(/*max_hours=*/167);  // RFC 8536 extension
      if (!time) return false;
      out->local_seconds = *time;
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// The day (since the epoch) on which `rule` switches in `year`.
int64_t SwitchDay(const Rule::Switch& rule, int64_t year) {
  using namespace std::chrono;
  int64_t jan1 = DaysFromCivil(year, 1, 1);
  switch (rule.kind) {
    case Rule::Switch::Kind::kJulianZeroBased:
      return jan1 + rule.day;
    case Rule::Switch::Kind::kJulianNoLeap: {
      bool leap = std::chrono::year{static_cast<int>(year)}.is_leap();
      return jan1 + rule.day - 1 + (leap && rule.day >= 60 ? 1 : 0);
    }
    case Rule::Switch::Kind::kMonthWeekDay:
      break;
  }
  int64_t first = DaysFromCivil(year, rule.month, 1);
  unsigned first_weekday = weekday{sys_days{std::chrono::days{first}}}.c_encoding();
  int64_t day = first + (rule.weekday - static_cast<int>(first_weekday) + 7) % 7 + (rule.week - 1) * 7;
  int64_t next_month = rule.month == 12 ? DaysFromCivil(year + 1, 1, 1) : DaysFromCivil(year, rule.month + 1, 1);
  while (day >= next_month) day -= 7;  // week 5 means "the last one"
  return day;
}

// The rule's offset changes in the years around `unix_seconds`, ascending,
// as (instant, offset from then on). Three years cover any instant's
// neighbours whichever hemisphere the rule is for. Instants beyond about
// the year 30000 count as that year: std::chrono's calendar ends at 32767.
std::vector<std::pair<int64_t, int32_t>> FooterChangesAround(const Rule& rule, int64_t unix_seconds) {
  constexpr int64_t kCalendarLimit = 900'000'000'000;
  int64_t clamped = std::clamp(unix_seconds, -kCalendarLimit, kCalendarLimit);
  std::vector<std::pair<int64_t, int32_t>> changes;
  int64_t year = CivilYearOfDay(FloorDiv(clamped + rule.std_offset, kSecondsPerDay));
  for (int64_t y = year - 1; y <= year + 1; ++y) {
    changes.emplace_back(SwitchDay(rule.dst_start, y) * kSecondsPerDay + rule.dst_start.local_seconds - rule.std_offset,
                         *rule.dst_offset);
    changes.emplace_back(SwitchDay(rule.dst_end, y) * kSecondsPerDay + rule.dst_end.local_seconds - *rule.dst_offset,
                         rule.std_offset);
  }
  std::sort(changes.begin(), changes.end());
  return changes;
}

int32_t FooterOffsetAt(const Rule& rule, int64_t unix_seconds) {
  if (!rule.dst_offset) return rule.std_offset;
  int32_t offset = rule.std_offset;
  for (const auto& [instant, after] : FooterChangesAround(rule, unix_seconds)) {
    if (instant > unix_seconds) break;
    offset = after;
  }
  return offset;
}

// --- TZif (RFC 8536) ---

struct TzifHeader {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t pos() const { return pos_; }
  std::string_view Take(size_t n) {
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  // Big-endian, as TZif stores every integer.
  uint64_t ReadUnsigned(size_t width) {
    uint64_t value = 0;
    for (unsigned char c : Take(width)) value = (value << 8) | c;
    return value;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

Result<TzifHeader> ReadHeader(ByteReader* in) {
  if (in->remaining() < 44) return Status::InvalidArgument("truncated header");
  if (in->Take(4) != "TZif") return Status::InvalidArgument("not a TZif file (bad magic)");
  TzifHeader h;
  h.version = in->Take(1)[0];
  if (h.version != '\0' && (h.version < '2' || h.version > '4')) {
    return Status::InvalidArgument("unsupported TZif version byte " + std::to_string(static_cast<unsigned char>(h.version)));
  }
  in->Take(15);
  for (uint32_t* count : {&h.isutcnt, &h.isstdcnt, &h.leapcnt, &h.timecnt, &h.typecnt, &h.charcnt}) {
    *count = static_cast<uint32_t>(in->ReadUnsigned(4));
  }
  if (h.typecnt == 0) return Status::InvalidArgument("no local time types");
  if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    return Status::InvalidArgument("indicator counts do not match the local time types");
  }
  return h;
}

uint64_t DataBlockSize(const TzifHeader& h, uint64_t time_width) {
  return uint64_t{h.timecnt} * (time_width + 1) + uint64_t{h.typecnt} * 6 + h.charcnt +
         uint64_t{h.leapcnt} * (time_width + 4) + h.isstdcnt + h.isutcnt;
}

}  // namespace

TimeZone TimeZone::Utc() {
  TimeZone zone;
  zone.name_ = "UTC";
  return zone;
}

Result<TimeZone> TimeZone::Load(const std::string& name) { return Load(name, kSystemZoneinfoDir); }

Result<TimeZone> TimeZone::Load(const std::string& name, const std::string& zoneinfo_dir) {
  auto bad_name = [&](std::string_view why) {
    return Status::InvalidArgument("time zone \"" + name + "\": " + std::string(why));
  };
  if (name.empty()) return bad_name("the name is empty");
  if (name.front() == '/') return bad_name("the name must be relative, like \"Europe/Berlin\"");
  if (name.find("..") != std::string::npos) return bad_name("the name must not contain \"..\"");
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   std::string_view("/_+-.").find(c) != std::string_view::npos;
    if (!allowed) return bad_name("the name may only contain letters, digits and \"/_+-.\"");
  }
  if (name == "UTC" || name == "Etc/UTC") {
    TimeZone zone = Utc();
    zone.name_ = name;
    return zone;
  }
  std::string path = zoneinfo_dir + "/" + name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("unknown time zone \"" + name + "\"");
  }
  if (st.st_size > kMaxFileBytes) return bad_name("malformed TZif file: larger than 1 MiB");
  Result<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound) return Status::InvalidArgument("unknown time zone \"" + name + "\"");
    return bytes.status().Wrap("time zone \"" + name + "\"");
  }
  Result<TimeZone> zone = Parse(name, *bytes);
  if (!zone.ok()) return zone.status().Wrap("time zone \"" + name + "\": malformed TZif file");
  return zone;
}

Result<TimeZone> TimeZone::Parse(const std::string& name, const std::string& bytes) {
  ByteReader in(bytes);
  Result<TzifHeader> header = ReadHeader(&in);
  if (!header.ok()) return header.status();
  uint64_t time_width = 4;
  if (header->version != '\0') {
    // Skip the 32-bit block; the 64-bit one after it covers all times.
    uint64_t v1_size = DataBlockSize(*header, 4);
    if (in.remaining() < v1_size) return Status::InvalidArgument("truncated version 1 data");
    in.Take(v1_size);
    header = ReadHeader(&in);
    if (!header.ok()) return header.status().Wrap("second header");
    time_width = 8;
  }
  const TzifHeader& h = *header;
  if (in.remaining() < DataBlockSize(h, time_width)) return Status::InvalidArgument("truncated data");

  TimeZone zone;
  zone.name_ = name;
  zone.transitions_.reserve(h.timecnt);
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    uint64_t raw = in.ReadUnsigned(time_width);
    int64_t t = time_width == 4 ? static_cast<int32_t>(raw) : static_cast<int64_t>(raw);
    if (!zone.transitions_.empty() && t <= zone.transitions_.back()) {
      return Status::InvalidArgument("transition times are not ascending");
    }
    zone.transitions_.push_back(t);
  }
  std::string_view type_indexes = in.Take(h.timecnt);
  std::vector<int32_t> type_offsets;
  for (uint32_t i = 0; i < h.typecnt; ++i) {
    int32_t offset = static_cast<int32_t>(in.ReadUnsigned(4));
    in.Take(2);  // is-DST flag and abbreviation index: not needed for offsets
    if (offset <= -kMaxAbsOffset || offset >= kMaxAbsOffset) {
      return Status::InvalidArgument("implausible UTC offset " + std::to_string(offset) + " s");
    }
    type_offsets.push_back(offset);
  }
  for (unsigned char index : type_indexes) {
    if (index >= h.typecnt) {
      return Status::InvalidArgument("a transition uses local time type " + std::to_string(index) + " of " +
                                     std::to_string(h.typecnt));
    }
    zone.offsets_.push_back(type_offsets[index]);
  }
  zone.offset_before_first_ = type_offsets[0];
  in.Take(h.charcnt + uint64_t{h.leapcnt} * (time_width + 4) + h.isstdcnt + h.isutcnt);

  if (h.version != '\0') {
    // The footer: "\n" TZ-string "\n".
    std::string_view rest = in.Take(in.remaining());
    size_t close = rest.find('\n', 1);
    if (rest.empty() || rest[0] != '\n' || close == std::string_view::npos) {
      return Status::InvalidArgument("missing or truncated footer");
    }
    std::string_view tz = rest.substr(1, close - 1);
    if (!tz.empty()) {
      Result<Rule> rule = PosixParser(tz).ParseRule();
      if (!rule.ok()) return rule.status();
      zone.footer_ = std::make_shared<const Rule>(*rule);
    }
  }
  return zone;
}

int32_t TimeZone::OffsetSecondsAt(int64_t unix_seconds) const {
  if (transitions_.empty()) return footer_ ? FooterOffsetAt(*footer_, unix_seconds) : offset_before_first_;
  auto after = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  if (after == transitions_.begin()) return offset_before_first_;
  if (after == transitions_.end() && footer_ && unix_seconds > transitions_.back()) {
    return FooterOffsetAt(*footer_, unix_seconds);
  }
  return offsets_[static_cast<size_t>(after - transitions_.begin()) - 1];
}

std::optional<int64_t> TimeZone::NextOffsetChangeAfter(int64_t unix_seconds) const {
  auto after = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  if (after != transitions_.end()) return *after;
  if (!footer_ || !footer_->dst_offset) return std::nullopt;
  for (const auto& change : FooterChangesAround(*footer_, unix_seconds)) {
    if (change.first > unix_seconds) return change.first;
  }
  return std::nullopt;  // only past the calendar's end; otherwise next year has two changes
}

}  // namespace walship
