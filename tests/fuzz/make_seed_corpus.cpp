// Writes a seed corpus of valid segments for the segment decoder fuzzer
// (tests/fuzz/segment_decoder_fuzz.cpp) into the folder given as argv[1].
// Built with the main compiler; the fuzzer itself needs clang.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/replication/segment_builder.h"

int main(int argc, char** argv) {
  using namespace walship;
  using namespace walship::testing;
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR\n";
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  bool ok = true;
  auto write = [&](const std::string& name, const std::string& bytes) {
    ok = ok && !bytes.empty();  // EncodeOrDie gives empty bytes when encoding failed
    std::ofstream(std::string(argv[1]) + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
  };
  const EncodedSegment first = EncodeOrDie(FirstSampleSegment());
  const EncodedSegment second = EncodeOrDie(NextSampleSegment(first.header));
  write("chain-start", first.bytes);
  write("linked", second.bytes);
  write("header-only", second.bytes.substr(0, second.header.header_length));
  Segment one_frame = FirstSampleSegment();
  one_frame.header.page_size = 512;
  one_frame.header.wal_last_frame = 1;
  one_frame.header.commits = {{1, 1'700'000'000'000, 1, 1}};
  one_frame.frames = {{1, 1, SamplePage(9).substr(0, 512)}};
  write("one-frame", EncodeOrDie(one_frame).bytes);
  if (!ok) return 1;
  std::cout << "seed corpus written to " << argv[1] << "\n";
  return 0;
}
