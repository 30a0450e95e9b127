// A temporary folder removed (with its contents) when the object goes away.
#pragma once

#include <string>

namespace walship::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "walship-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace walship::testing
