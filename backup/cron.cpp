#include "backup/cron.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <utility>
#include <vector>

namespace walship {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Instants past this (about the year 9999) get no next fire time: the
// calendar arithmetic below is only meant for plausible dates.
constexpr int64_t kLatestSupportedSecond = 253'402'300'799;
constexpr int64_t kEarliestSupportedSecond = -62'135'596'800;  // year 1

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  // Three-letter names for values names_base, names_base + 1, ...; empty if none.
  std::vector<std::string_view> names;
  int names_base;
};

const std::array<FieldSpec, 5>& Fields() {
  static const std::array<FieldSpec, 5> fields = {{
      {"minute", 0, 59, {}, 0},
      {"hour", 0, 23, {}, 0},
      {"day-of-month", 1, 31, {}, 0},
      {"month", 1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}, 1},
      {"day-of-week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, 0},
  }};
  return fields;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The value of a string of digits, or `too_large` when it is bigger than
// that (so "99999999999999999999" cannot overflow).
int ToNumber(std::string_view digits, int too_large) {
  int value = 0;
  for (char c : digits) {
    value = value * 10 + (c - '0');
    if (value >= too_large) return too_large;
  }
  return value;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// One list item of one field: "*", "5", "MON-FRI", "*/15", "10-50/5", "7/3".
// Errors carry no field name; ParseField adds it.
class ItemParser {
 public:
  ItemParser(const FieldSpec& spec, std::string_view item) : spec_(spec), item_(item) {}

  // The set of values the item selects, as bits.
  Result<uint64_t> Parse() {
    int low = spec_.min;
    int high = spec_.max;
    if (Consume('*')) {
      // every value
    } else {
      Result<int> first = ParseValue("");
      if (!first.ok()) return first.status();
      low = high = *first;
      if (Consume('-')) {
        Result<int> last = ParseValue("-");
        if (!last.ok()) return last.status();
        high = *last;
        if (high < low) return Status::InvalidArgument("range " + std::string(item_.substr(0, pos_)) + " is backwards");
      } else if (Peek() == '/') {
        high = spec_.max;  // "a/n" means a through the maximum
      }
    }
    int step = 1;
    if (Consume('/')) {
      Result<int> parsed = ParseStep();
      if (!parsed.ok()) return parsed.status();
      step = *parsed;
    }
    if (pos_ < item_.size()) return Unexpected();
    uint64_t bits = 0;
    for (int v = low; v <= high; v += step) bits |= uint64_t{1} << v;
    return bits;
  }

 private:
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  char Peek() const { return pos_ < item_.size() ? item_[pos_] : '\0'; }
  std::string_view TakeWhile(bool (*pred)(char)) {
    size_t start = pos_;
    while (pos_ < item_.size() && pred(item_[pos_])) ++pos_;
    return item_.substr(start, pos_ - start);
  }
  Status Unexpected() const {
    return Status::InvalidArgument("unexpected " + Quoted(item_.substr(pos_)) + " in " + Quoted(item_));
  }
  Status Missing(std::string_view what, std::string_view after) const {
    return Status::InvalidArgument("missing " + std::string(what) + " after " + Quoted(after) + " in " +
                                   Quoted(item_));
  }
  std::string RangeText(int low, int high) const { return std::to_string(low) + "-" + std::to_string(high); }

  // A number or (month, day-of-week) a name, within the field's range.
  Result<int> ParseValue(std::string_view after) {
    if (IsDigit(Peek())) {
      std::string_view digits = TakeWhile(IsDigit);
      int value = ToNumber(digits, spec_.max + 1);
      if (value < spec_.min || value > spec_.max) {
        return Status::InvalidArgument(std::string(digits) + " is out of range " + RangeText(spec_.min, spec_.max));
      }
      return value;
    }
    if (IsAlpha(Peek())) {
      std::string_view word = TakeWhile(IsAlpha);
      if (spec_.names.empty()) return Status::InvalidArgument("expected a number, found " + Quoted(word));
      std::string upper(word);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto it = std::find(spec_.names.begin(), spec_.names.end(), upper);
      if (it == spec_.names.end()) return Status::InvalidArgument("unknown name " + Quoted(word));
      return spec_.names_base + static_cast<int>(it - spec_.names.begin());
    }
    if (pos_ == item_.size() && !after.empty()) return Missing("number", after);
    return Unexpected();
  }

  Result<int> ParseStep() {
    if (!IsDigit(Peek())) return pos_ == item_.size() ? Missing("step", "/") : Unexpected();
    std::string_view digits = TakeWhile(IsDigit);
    int step = ToNumber(digits, spec_.max + 1);
    if (step == 0) return Status::InvalidArgument("step 0 must be at least 1");
    // A step past the maximum could never reach a second value: surely a typo.
    if (step > spec_.max) {
      return Status::InvalidArgument("step " + std::string(digits) + " is out of range " + RangeText(1, spec_.max));
    }
    return step;
  }

  const FieldSpec& spec_;
  std::string_view item_;
  size_t pos_ = 0;
};

Result<uint64_t> ParseField(const FieldSpec& spec, std::string_view text) {
  uint64_t bits = 0;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return Status::InvalidArgument("empty item in list " + Quoted(text));
    Result<uint64_t> item_bits = ItemParser(spec, item).Parse();
    if (!item_bits.ok()) return item_bits.status();
    bits |= *item_bits;
    if (comma == std::string_view::npos) return bits;
    start = comma + 1;
  }
}

std::vector<std::string_view> SplitOnBlanks(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ' || text[pos] == '\t') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = text.size();
    fields.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

std::optional<std::string_view> ExpandMacro(std::string_view macro) {
  static constexpr std::pair<std::string_view, std::string_view> kMacros[] = {
      {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
      {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
  };
  std::string lower(macro);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [name, expansion] : kMacros) {
    if (lower == name) return expansion;
  }
  return std::nullopt;
}

// The lowest set bit above `after`, or -1.
int NextBitAfter(uint64_t bits, int after) {
  if (after >= 63) return -1;
  uint64_t higher = bits & (~uint64_t{0} << (after + 1));
  return higher == 0 ? -1 : std::countr_zero(higher);
}

int64_t CeilToMinute(int64_t seconds) { return FloorDiv(seconds + 59, 60) * 60; }

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expression, TimeZone zone) {
  const std::string context = "cron " + Quoted(expression);
  std::vector<std::string_view> fields = SplitOnBlanks(expression);
  if (!fields.empty() && fields[0].front() == '@') {
    std::string_view trimmed(fields.front().data(), fields.back().data() + fields.back().size() - fields.front().data());
    std::optional<std::string_view> expansion = ExpandMacro(trimmed);
    if (!expansion) return Status::InvalidArgument(context + ": unknown macro " + Quoted(trimmed));
    fields = SplitOnBlanks(*expansion);
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument(context + ": expected 5 fields, found " + std::to_string(fields.size()));
  }
  CronSchedule schedule{std::string(expression), std::move(zone)};
  std::array<uint64_t, 5> bits{};
  for (size_t i = 0; i < 5; ++i) {
    Result<uint64_t> parsed = ParseField(Fields()[i], fields[i]);
    if (!parsed.ok()) return parsed.status().Wrap(context + ": " + std::string(Fields()[i].name));
    bits[i] = *parsed;
  }
  schedule.minutes_ = bits[0];
  schedule.hours_ = static_cast<uint32_t>(bits[1]);
  schedule.days_of_month_ = static_cast<uint32_t>(bits[2]);
  schedule.months_ = static_cast<uint32_t>(bits[3]);
  uint64_t sunday_as_7 = bits[4] >> 7;
  schedule.days_of_week_ = static_cast<uint32_t>((bits[4] | sunday_as_7) & 0x7f);
  schedule.day_of_month_restricted_ = fields[2].front() != '*';
  schedule.day_of_week_restricted_ = fields[4].front() != '*';
  return schedule;
}

bool CronSchedule::DayMatches(int64_t days_since_epoch) const {
  using namespace std::chrono;
  sys_days day{std::chrono::days{days_since_epoch}};
  bool dom = (days_of_month_ >> static_cast<unsigned>(year_month_day{day}.day())) & 1;
  bool dow = (days_of_week_ >> weekday{day}.c_encoding()) & 1;
  if (day_of_month_restricted_ && day_of_week_restricted_) return dom || dow;
  return dom && dow;
}

std::optional<int64_t> CronSchedule::NextLocalMatch(int64_t local_minute_start, int64_t limit) const {
  using namespace std::chrono;
  int64_t t = local_minute_start;
  while (t <= limit) {
    int64_t day = FloorDiv(t, kSecondsPerDay);
    int64_t day_start = day * kSecondsPerDay;
    year_month_day date{sys_days{std::chrono::days{day}}};
    if (!((months_ >> static_cast<unsigned>(date.month())) & 1)) {
      year_month_day next_month = (year_month{date.year(), date.month()} + months{1}) / 1;
      t = sys_days{next_month}.time_since_epoch().count() * kSecondsPerDay;
      continue;
    }
    if (!DayMatches(day)) {
      t = day_start + kSecondsPerDay;
      continue;
    }
    int hour = static_cast<int>((t - day_start) / 3600);
    int minute = static_cast<int>((t - day_start) % 3600 / 60);
    if (!((hours_ >> hour) & 1)) {
      int next_hour = NextBitAfter(hours_, hour);
      t = next_hour < 0 ? day_start + kSecondsPerDay : day_start + next_hour * 3600;
      continue;
    }
    if (!((minutes_ >> minute) & 1)) {
      int next_minute = NextBitAfter(minutes_, minute);
      t = next_minute < 0 ? day_start + (hour + 1) * 3600 : day_start + hour * 3600 + next_minute * 60;
      continue;
    }
    return t;
  }
  return std::nullopt;
}

std::optional<int64_t> CronSchedule::NextAfter(int64_t unix_millis) const {
  int64_t t = (FloorDiv(unix_millis, 60'000) + 1) * 60;  // the next whole UTC minute, in seconds
  if (t < kEarliestSupportedSecond || t > kLatestSupportedSecond) return std::nullopt;
  const int64_t horizon_end = t + int64_t{kSearchYears} * 366 * kSecondsPerDay;  // exclusive
  // Walk the stretches of fixed UTC offset between the zone's offset changes.
  // Within one stretch local time is UTC shifted, so the calendar search on
  // local time is exact; skipped (gap) local times belong to no stretch and
  // repeated ones to two.
  while (t < horizon_end) {
    int32_t offset = zone_.OffsetSecondsAt(t);
    std::optional<int64_t> change = zone_.NextOffsetChangeAfter(t);
    int64_t stretch_end = change ? std::min(*change, horizon_end) : horizon_end;  // exclusive
    // Local time of a UTC minute, cut to the minute: offsets with seconds
    // (local mean time before ~1900) still match once per minute.
    std::optional<int64_t> local = NextLocalMatch(FloorDiv(t + offset, 60) * 60, stretch_end - 1 + offset);
    if (local) {
      int64_t fire = CeilToMinute(*local - offset);
      if (fire < stretch_end) return fire * 1000;
    }
    if (!change) break;
    t = CeilToMinute(*change);
  }
  return std::nullopt;
}

}  // namespace walship
